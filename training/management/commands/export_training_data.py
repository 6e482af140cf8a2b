from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from catalog.progress import Reporter
from training.services import PipelineError, training_data_export


class Command(BaseCommand):
    help = (
        "Write the training lists of the current windows in LETOR/SVMlight format "
        "(label qid:Q 1:v 2:v ...; features in the contract's order), or with --query-file in "
        "LightGBM's form with group sizes in FILE.query, so other tools can train on them."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="output file (.gz compresses)")
        parser.add_argument(
            "--query-file", action="store_true", help="no qid column; group sizes in PATH.query"
        )

    def handle(self, *args, **options):
        try:
            result = training_data_export(
                path=options["path"],
                query_file=options["query_file"],
                reporter=Reporter.to_stream(self.stdout),
            )
        except (PipelineError, OSError) as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"Wrote {result['rows']:,} rows in {result['lists']:,} lists with {len(result['features'])} features "
            f"to {result['path']}."
        )
