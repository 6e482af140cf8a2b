"""The dashboard's drift section: the latest drift report (``ranking.drift``), or None before
the first one. The section's template is ``admin/dashboard/includes/drift.html``, which shows
it with the version page's own include."""

from __future__ import annotations

from ranking.drift.selectors import DriftSummary, drift_report_latest_get
from ranking.drift.selectors import drift_summary_get as drift_summary_of


def drift_summary_get() -> DriftSummary | None:
    """The latest drift figures for the dashboard, or None when none were computed."""
    return drift_summary_of() if drift_report_latest_get() is not None else None
