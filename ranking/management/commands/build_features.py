from __future__ import annotations

from datetime import UTC

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from catalog.progress import Reporter
from catalog.services import events_request_context_fill
from ranking.models import FeatureSet
from ranking.services import FeaturesUnavailable, features_build, serving_features_build


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
        reporter = Reporter.to_stream(self.stdout)
        with reporter.step("Giving early events their request's query, user and session") as info:
            info["events"] = events_request_context_fill()
        try:
            if options["until"]:
                build = features_build(
                    until=self._until(options["until"]), purpose=options["purpose"], reporter=reporter
                )
            else:
                build = serving_features_build(reporter=reporter)
        except FeaturesUnavailable as error:
            raise CommandError(str(error)) from error
        feature_set = build.feature_set
        self.stdout.write(
            f"Feature set {feature_set.pk} ({feature_set.purpose}) from {feature_set.events_counted:,} events "
            f"before {feature_set.until:%Y-%m-%d %H:%M:%S} in {feature_set.build_seconds:.1f} s: "
            + ", ".join(f"{name} {count:,}" for name, count in feature_set.counts.items())
        )

    @staticmethod
    def _until(text: str):
        until = parse_datetime(text)
        if until is None:
            raise CommandError(f"--until: not an ISO 8601 date-time: {text!r}")
        return until.replace(tzinfo=UTC) if until.tzinfo is None else until
