from __future__ import annotations

import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Make sure an admin login exists for the control room: creates the superuser USERNAME "
        "(default admin) with a random password kept in var/admin_password, or leaves it be."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, **options):
        username = options["username"]
        password_file = Path(settings.SEARCHOP_VAR_DIR) / f"{username}_password"
        user_model = get_user_model()
        user = user_model.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password)
            password_file.chmod(0o600)
            user_model.objects.create_superuser(username=username, email="", password=password)
            self.stdout.write(f"Created the admin login {username!r}.")
        elif password_file.exists():
            password = password_file.read_text().strip()
        else:
            self.stdout.write(
                f"The admin login {username!r} exists (its password is not in {password_file})."
            )
            return
        self.stdout.write(f"Admin: http://127.0.0.1:8000/admin/  user {username}  password {password}")
