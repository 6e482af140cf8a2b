from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from ranking.errors import RegistryError
from ranking.management.registry_text import changes_text, cli_actor
from ranking.services import model_version_promote


class Command(BaseCommand):
    help = (
        "Make model version N the production model (after verifying it loads); the current "
        "production version is archived. Both changes are recorded in the audit trail."
    )

    def add_arguments(self, parser):
        parser.add_argument("version", type=int, help="the version number, as in list_models")
        parser.add_argument("--reason", default="promoted with manage.py promote_model")

    def handle(self, *args, **options):
        try:
            promoted = model_version_promote(
                version=options["version"], actor=cli_actor(), reason=options["reason"]
            )
        except RegistryError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(changes_text(version=promoted.version))
