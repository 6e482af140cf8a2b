from __future__ import annotations

import getpass

from django.core.management.base import BaseCommand, CommandError

from ranking.errors import RegistryError
from ranking.models import ModelVersionTransition
from ranking.selectors import model_version_history_get
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
        promotion = model_version_history_get(version=promoted.version).last()
        self.stdout.write(changes_text(promotion))


def cli_actor() -> str:
    """``cli:<login>`` for the audit trail, ``cli`` where the login cannot be read."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def changes_text(promotion: ModelVersionTransition | None) -> str:
    """What a promotion or rollback changed, read back from its audit record."""
    if promotion is None:  # pragma: no cover - the service always writes one
        return ""
    lines = []
    if promotion.replaced is not None:
        lines.append(f"v{promotion.replaced.version}: production → archived")
    lines.append(f"v{promotion.model_version.version}: {promotion.from_status} → production")
    lines.append(f"reason: {promotion.reason}")
    return "\n".join(lines)
