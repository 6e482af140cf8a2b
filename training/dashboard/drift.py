"""The dashboard's drift section (issue 12, item 7, fills it): the one call the page makes.
Until drift is computed it returns None and the section says so; the section's template is
``admin/dashboard/includes/drift.html``, which receives what this returns as ``drift``."""

from __future__ import annotations

from typing import Any


def drift_summary_get() -> Any | None:
    """The latest drift figures for the dashboard, or None when none were computed."""
    return None
