from __future__ import annotations

import time
from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ranking.services import RetentionUnavailable, data_prune


class Command(BaseCommand):
    help = (
        "Drop the months of events and impression log that end on or before DATE: whole "
        "partitions (PostgreSQL), never row by row. Months that a production, archived or "
        "candidate model version was trained or evaluated on are kept, and the command says "
        "which versions need them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--before", required=True, type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--dry-run", action="store_true", help="say what would be dropped, drop nothing")

    def handle(self, *args, **options):
        started = time.perf_counter()
        verb = "would drop" if options["dry_run"] else "dropped"
        self.stdout.write(f"[1/2] Months ending on or before {options['before']}: preparing and checking")
        try:
            result = data_prune(before=options["before"], dry_run=options["dry_run"])
        except RetentionUnavailable as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"[2/2] {verb.capitalize()} {len(result.dropped)} partition(s) in {time.perf_counter() - started:.1f} s"
        )
        for partition in result.dropped:
            self.stdout.write(f"  {verb} {partition.name} (about {partition.rows:,} rows)")
        for partition, why in result.kept:
            self.stdout.write(f"  kept {partition.name}: {why}")
        for partition in result.busy:
            self.stdout.write(
                f"  not dropped {partition.name}: the table stayed locked (a long import?); run again"
            )
        for table, rows in result.default_rows_before.items():
            if rows:
                self.stdout.write(
                    f"  {rows:,} row(s) of {table} before then are in its default partition, more than "
                    "ten years old or without a month yet: not dropped"
                )
        if result.busy:
            raise CommandError(f"{len(result.busy)} partition(s) could not be dropped now")
