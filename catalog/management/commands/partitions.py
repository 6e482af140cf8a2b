from __future__ import annotations

from django.core.management.base import BaseCommand, CommandParser

from catalog.partitions import PARTITIONED_TABLES, partitions_ensure, partitions_get


class Command(BaseCommand):
    help = (
        "List the monthly partitions of the events and the impression log (PostgreSQL), with "
        "PostgreSQL's row estimates; with --ensure, first prepare the months ahead and give rows "
        "in a default partition months of their own (what the daily upkeep does)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ensure", action="store_true", help="prepare the months ahead first")

    def handle(self, *args, **options):
        if options["ensure"]:
            created = partitions_ensure()
            self.stdout.write(f"created {len(created)} partition(s): {', '.join(created) or '-'}")
        for table in PARTITIONED_TABLES:
            partitions = partitions_get(table)
            if not partitions:
                self.stdout.write(f"{table}: a plain table (not partitioned on this database)")
                continue
            self.stdout.write(f"{table}: {len(partitions)} partitions")
            for partition in partitions:
                span = f"{partition.month:%Y-%m}" if partition.month else "default"
                self.stdout.write(f"  {partition.name:<40} {span:<8} about {partition.rows:>12,} rows")
