from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from catalog.importers import CHUNK_ROWS, PRODUCT_COLUMNS, ImportFileError
from catalog.management.commands.import_events import POLICY, rejected_text, summary_text
from catalog.progress import Reporter
from catalog.services import products_import


class Command(BaseCommand):
    help = (
        "Import products from a CSV or JSON Lines file (.csv, .jsonl, .ndjson, optionally .gz). "
        f"Columns: {', '.join(PRODUCT_COLUMNS)}. external_id is the key: a known product is "
        "updated, a new one inserted. title and price (a number >= 0, rounded to cents) are "
        "required; rating is 0 to 5 or empty; attributes a JSON object (in CSV, as JSON "
        "text); active true/false, default true. " + POLICY
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to a .csv, .jsonl or .ndjson file, optionally .gz")
        parser.add_argument(
            "--skip-invalid", action="store_true", help="load the good rows and report the bad ones"
        )
        parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help="rows read at a time")

    def handle(self, *args, **options):
        started = time.perf_counter()
        try:
            result = products_import(
                path=options["file"],
                skip_invalid=options["skip_invalid"],
                reporter=Reporter.to_stream(self.stdout),
                chunk_rows=options["chunk_rows"],
            )
        except ImportFileError as error:
            raise CommandError(f"{options['file']}: {error}") from error
        if not result.committed:
            raise CommandError(rejected_text(result))
        self.stdout.write(summary_text(result, what="products", seconds=time.perf_counter() - started))
