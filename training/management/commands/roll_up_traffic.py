from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from training.dashboard.rollup import traffic_hours_roll_up


class Command(BaseCommand):
    help = (
        "Count the dashboard's hourly traffic roll-up now, as beat's traffic-rollup task does "
        "(the hours without a row, the last few, day-old rows). With --all, every hour of the "
        "last week: after traffic was stored or deleted in bulk inside the week (an import of old "
        "events, generate_synthetic_data --flush)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--all", action="store_true", dest="every_hour", help="recount every hour of the week"
        )

    def handle(self, *args, **options):
        hours = traffic_hours_roll_up(now=timezone.now(), every_hour=options["every_hour"])
        if hours:
            self.stdout.write(
                f"{len(hours)} hours counted, {hours[0]:%Y-%m-%d %H}:00 to {hours[-1]:%Y-%m-%d %H}:00 UTC"
            )
        else:
            self.stdout.write("0 hours counted")
