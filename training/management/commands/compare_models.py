from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from catalog.progress import Reporter
from ranking.comparison import ComparisonUnavailable
from ranking.errors import RegistryError
from training.services.comparison import model_versions_compare


class Command(BaseCommand):
    help = (
        "Score two model versions on the same lists (the current evaluation window) and print "
        "each metric for both with the 95% paired interval of A − B. Fills the compare page's "
        "cache, so on a large shop the page shows it at once. Builds the window's evaluation "
        "features when the pipeline has not; changes no other row."
    )

    def add_arguments(self, parser):
        parser.add_argument("a", type=int, help="version A")
        parser.add_argument("b", type=int, help="version B")
        parser.add_argument("--json", action="store_true", help="print the comparison as one JSON object")

    def handle(self, *args, **options):
        a, b = options["a"], options["b"]
        reporter = Reporter.silent() if options["json"] else Reporter.to_stream(self.stdout)
        try:
            result = model_versions_compare(a=a, b=b, build_features=True, reporter=reporter)
        except (ComparisonUnavailable, RegistryError) as error:
            raise CommandError(str(error)) from error
        assert result is not None  # computed, not only looked up
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
            return
        self.stdout.write(
            f"\nv{a} against v{b} on {result['lists']} lists ({result['lists_with_click']} with a click), "
            f"{result['windows']['eval'][0][:10]} to {result['windows']['eval'][1][:10]}:"
        )
        self.stdout.write(f"{'metric':<18}{'v' + str(a):>9}{'v' + str(b):>9}{'A − B':>9}  95% interval")
        for row in result["metrics"]:
            self.stdout.write(
                f"{row['metric']:<18}{_number(row['a']):>9}{_number(row['b']):>9}"
                f"{_difference(row['a'], row['b']):>9}  {_interval(row['interval'])}"
            )


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.4f}"


def _difference(a: float | None, b: float | None) -> str:
    return "–" if a is None or b is None else f"{a - b:+.4f}"


def _interval(interval: list[float] | None) -> str:
    return "–" if not interval else f"[{interval[0]:+.4f}, {interval[1]:+.4f}]"
