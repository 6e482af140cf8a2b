"""``manage.py drift_report [--json] [--latest]``: the served features of the last day against
the production model's training profile, every feature with its PSI, threshold and whether it
is flagged, then the scores, the unseen queries and the CTR. Computes and stores a report now
(as the periodic task does) unless ``--latest`` asks for the stored one."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from ranking.drift.selectors import drift_report_latest_get
from ranking.drift.services import drift_check
from ranking.drift.text import drift_report_lines


class Command(BaseCommand):
    help = (
        "Drift of the served features, scores, queries and CTR against the production model's training data."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="The report as JSON.")
        parser.add_argument(
            "--latest", action="store_true", help="The stored latest report; compute nothing."
        )

    def handle(self, *args, **options):
        report = drift_report_latest_get() if options["latest"] else drift_check()
        if report is None:
            raise CommandError(
                "No drift report yet: run drift_report without --latest, or wait for the task."
            )
        result = {**report.result, "flagged": report.flagged}
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        for line in drift_report_lines(result):
            self.stdout.write(line)
