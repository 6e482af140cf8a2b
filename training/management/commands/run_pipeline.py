from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError
from kombu.exceptions import OperationalError as BrokerUnreachable

from catalog.progress import Reporter
from ranking.errors import RegistryError
from training.models import PipelineRun
from training.report_text import report_text
from training.services import PipelineError, pipeline_run
from training.tasks import pipeline_run_enqueue


class Command(BaseCommand):
    help = (
        "Run the whole pipeline now: features -> datasets -> train -> evaluate -> decision "
        "(promote or reject) -> serving features. The same service the weekly schedule runs. "
        "With --async, queue it for a Celery worker instead, the way the schedule and the "
        "admin's button do. Refused (and recorded as skipped) while a run is queued or running."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
        parser.add_argument(
            "--async",
            action="store_true",
            dest="queue",
            help="queue the run for a worker and return at once (without a task queue: runs it here)",
        )

    def handle(self, *args, **options):
        if options["queue"]:
            self._enqueue(as_json=options["json"])
            return
        reporter = Reporter.silent() if options["json"] else Reporter.to_stream(self.stdout)
        try:
            run, report = pipeline_run(trigger="cli", actor="cli", reporter=reporter)
        except (PipelineError, RegistryError) as error:
            raise CommandError(str(error)) from error
        if options["json"]:
            self.stdout.write(json.dumps(report, indent=2))
            return
        self.stdout.write("\n" + report_text(report))
        self.stdout.write(f"\nPipeline run {run.pk} {run.status} in {run.seconds:.1f} s.")

    def _enqueue(self, *, as_json: bool) -> None:
        try:
            run = pipeline_run_enqueue(trigger=PipelineRun.Trigger.CLI, actor="cli:async")
        except BrokerUnreachable as error:
            raise CommandError(
                f"Could not queue the run: the task queue is unreachable ({error})."
            ) from error
        except (PipelineError, RegistryError) as error:  # no task queue: it ran here, and failed
            raise CommandError(str(error)) from error
        run.refresh_from_db()
        if as_json:
            self.stdout.write(json.dumps({"run": run.pk, "status": run.status, "reason": run.reason}))
        if run.status == PipelineRun.Status.SKIPPED:
            raise CommandError(f"Not queued: {run.reason}.")
        if not as_json:
            self.stdout.write(f"Pipeline run {run.pk} {run.status}.")
