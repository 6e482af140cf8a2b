from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from catalog.progress import Reporter
from ranking.errors import RegistryError
from training.report_text import report_text
from training.services import PipelineError, pipeline_run


class Command(BaseCommand):
    help = (
        "Run the whole pipeline now: features -> datasets -> train -> evaluate -> decision "
        "(promote or reject) -> serving features. The same service the weekly schedule runs."
    )

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object")

    def handle(self, *args, **options):
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
