from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from ranking.errors import ExperimentError
from ranking.experiments.reports import experiment_report_build
from ranking.experiments.selectors import experiment_get, experiment_list
from ranking.management.experiment_text import report_lines


class Command(BaseCommand):
    help = (
        "The report of an experiment (default: the running one, else the latest): its counts and "
        "the statistics of its kind so far, and its decision."
    )

    def add_arguments(self, parser):
        parser.add_argument("--id", type=int, help="the experiment, as in list_experiments")
        parser.add_argument("--json", action="store_true", help="the report as JSON")

    def handle(self, *args, **options):
        try:
            experiment = (
                experiment_get(experiment_id=options["id"]) if options["id"] else experiment_list().first()
            )
        except ExperimentError as error:
            raise CommandError(str(error)) from error
        if experiment is None:
            raise CommandError("There are no experiments yet (experiment_start starts one).")
        report = experiment_report_build(experiment)
        if options["json"]:
            decision = {"decision": experiment.decision, "reason": experiment.stop_reason}
            self.stdout.write(json.dumps({**report, **decision}, indent=2))
            return
        self.stdout.write("\n".join(report_lines(experiment, report)))
