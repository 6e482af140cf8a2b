from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ranking.errors import RegistryError
from ranking.management.registry_text import changes_text, cli_actor
from ranking.services import model_version_rollback


class Command(BaseCommand):
    help = (
        "Put back the production version that the current one replaced (following the audit "
        "trail: a second rollback goes one more promotion back). Verifies it loads first."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reason", default="rolled back with manage.py rollback_model")

    def handle(self, *args, **options):
        try:
            restored = model_version_rollback(actor=cli_actor(), reason=options["reason"])
        except RegistryError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(changes_text(version=restored.version))
