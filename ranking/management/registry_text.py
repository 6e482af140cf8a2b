"""What the registry commands share: who acts from the command line, and what a promotion or
rollback changed, read back from its audit record."""

from __future__ import annotations

import getpass

from ranking.selectors import model_version_history_get


def cli_actor() -> str:
    """``cli:<login>`` for the audit trail, ``cli`` where the login cannot be read."""
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return "cli"


def changes_text(*, version: int) -> str:
    """What the last promotion of ``version`` (a promote or a rollback) changed."""
    promotion = model_version_history_get(version=version).last()
    if promotion is None:  # pragma: no cover - the service always writes one
        return ""
    lines = []
    if promotion.replaced is not None:
        lines.append(f"v{promotion.replaced.version}: production → archived")
    lines.append(f"v{promotion.model_version.version}: {promotion.from_status} → production")
    lines.append(f"reason: {promotion.reason}")
    return "\n".join(lines)
