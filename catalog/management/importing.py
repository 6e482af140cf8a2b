"""What the ``import_events`` and ``import_products`` commands share: the arguments, the
policy for bad rows, and the reports of a finished or rejected import."""

from __future__ import annotations

import time
from typing import Unpack

from django.core.management.base import BaseCommand, CommandError

from catalog.importers.reading import CHUNK_ROWS, ImportFileError
from catalog.progress import Reporter
from catalog.services import ImportOptions, ImportResult

SHOWN_ERRORS = 50

POLICY = (
    "A file with any bad row is rejected whole: nothing is written, every problem is reported "
    f"as 'line N: field: problem' (CSV: the header is line 1; the first {SHOWN_ERRORS} shown) and the "
    "command exits non-zero. With --skip-invalid the good rows are loaded and the bad ones "
    "reported. Either way the file is loaded in one transaction, never half-written."
)


class ImportCommand(BaseCommand):
    """A command that imports one file through ``service``; ``what`` names the rows."""

    what: str

    @staticmethod
    def service(*, path: str, **options: Unpack[ImportOptions]) -> ImportResult:
        raise NotImplementedError

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to a .csv, .jsonl or .ndjson file, optionally .gz")
        parser.add_argument(
            "--skip-invalid", action="store_true", help="load the good rows and report the bad ones"
        )
        parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help="rows read at a time")

    def handle(self, *args, **options):
        started = time.perf_counter()
        try:
            result = self.service(
                path=options["file"],
                skip_invalid=options["skip_invalid"],
                reporter=Reporter.to_stream(self.stdout),
                chunk_rows=options["chunk_rows"],
            )
        except ImportFileError as error:
            raise CommandError(f"{options['file']}: {error}") from error
        if not result.committed:
            raise CommandError(rejected_text(result))
        self.stdout.write(summary_text(result, what=self.what, seconds=time.perf_counter() - started))


def problems_text(result: ImportResult) -> str:
    lines = [f"  {error}" for error in result.errors[:SHOWN_ERRORS]]
    more = result.rejected - len({error.line for error in result.errors[:SHOWN_ERRORS]})
    if more > 0:
        lines.append(f"  ... and {more:,} more bad row(s)")
    return "\n".join(lines)


def rejected_text(result: ImportResult) -> str:
    return (
        f"{result.path}: rejected, {result.rejected:,} bad row(s) of {result.rows_read:,}; "
        "nothing was written. Fix the rows, or run again with --skip-invalid to load the good "
        "ones.\n" + problems_text(result)
    )


def summary_text(result: ImportResult, *, what: str, seconds: float) -> str:
    counts = [f"rows read {result.rows_read:,}", f"inserted {result.inserted:,}"]
    if what == "events":
        counts.append(f"already present {result.duplicates:,}")
    else:
        counts.append(f"updated {result.updated:,}")
    counts.append(f"rejected {result.rejected:,}")
    rate = result.rows_read / max(seconds, 1e-9)
    text = f"\nImported {what} from {result.path} in {seconds:.1f} s ({rate:,.0f} rows/s): " + ", ".join(
        counts
    )
    if result.rejected:
        text += "\nBad rows (skipped):\n" + problems_text(result)
    return text
