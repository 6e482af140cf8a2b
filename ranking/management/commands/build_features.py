from __future__ import annotations

from datetime import UTC, timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from catalog.progress import Reporter
from catalog.selectors import event_latest_timestamp_get
from ranking.models import FeatureSet
from ranking.services import features_build


class Command(BaseCommand):
    help = (
        "Build the feature tables from the events strictly before --until (default: all events, "
        "for serving). Prints each aggregation with its row count and timing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--until", help="ISO 8601 cut-off (UTC if naive); default: just after the latest event"
        )
        parser.add_argument(
            "--purpose",
            choices=[choice.value for choice in FeatureSet.Purpose],
            default=FeatureSet.Purpose.SERVING,
        )

    def handle(self, *args, **options):
        if options["until"]:
            until = parse_datetime(options["until"])
            if until is None:
                raise CommandError(f"--until: not an ISO 8601 date-time: {options['until']!r}")
            if until.tzinfo is None:
                until = until.replace(tzinfo=UTC)
        else:
            latest = event_latest_timestamp_get()
            if latest is None:
                raise CommandError("There are no events yet: generate or import some first.")
            until = latest + timedelta(microseconds=1)
        reporter = Reporter.to_stream(self.stdout)
        feature_set = features_build(until=until, purpose=options["purpose"], reporter=reporter)
        self.stdout.write(
            f"Feature set {feature_set.pk} ({feature_set.purpose}) from {feature_set.events_counted:,} events "
            f"before {feature_set.until:%Y-%m-%d %H:%M:%S} in {feature_set.build_seconds:.1f} s: "
            + ", ".join(f"{name} {count:,}" for name, count in feature_set.counts.items())
        )
