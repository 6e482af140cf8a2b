from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from catalog.progress import Reporter
from ranking.errors import RegistryError
from ranking.selectors import model_version_production_get
from training.report_text import report_text
from training.services import PipelineError, model_evaluate


class Command(BaseCommand):
    help = (
        "Evaluate a registered model version (default: production) on the current evaluation "
        "window beside the baselines. Changes nothing."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # Django gives every command a --version (its own version); ours means a model version,
        # so it replaces Django's instead of making the parser fail to build.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--version", type=int, help="model version (default: production)")
        parser.add_argument("--json", action="store_true", help="print the report as one JSON object")

    def handle(self, *args, **options):
        version = options["version"]
        if version is None:
            production = model_version_production_get()
            if production is None:
                raise CommandError("There is no production model: pass --version N.")
            version = production.version
        reporter = Reporter.silent() if options["json"] else Reporter.to_stream(self.stdout)
        try:
            report = model_evaluate(version=version, reporter=reporter)
        except (PipelineError, RegistryError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(json.dumps(report, indent=2) if options["json"] else "\n" + report_text(report))
