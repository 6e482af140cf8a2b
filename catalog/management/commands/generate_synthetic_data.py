from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError

from catalog.progress import Reporter
from catalog.services import synthetic_data_flush, synthetic_data_generate
from catalog.synthetic import MAX_CATEGORIES, Summary, SyntheticConfig


class Command(BaseCommand):
    help = (
        "Generate a synthetic shop with a known ground truth: products, users, search lists "
        "under a noisy BM25 logging policy, clicks under position bias, and the true relevance "
        "of every shown product (stored apart from the events). Deterministic for a seed."
    )

    def add_arguments(self, parser):
        defaults = SyntheticConfig()
        parser.add_argument("--products", type=int, default=defaults.products)
        parser.add_argument(
            "--categories", type=int, default=defaults.categories, help=f"1 to {MAX_CATEGORIES}"
        )
        parser.add_argument("--users", type=int, default=defaults.users)
        parser.add_argument("--events", type=int, default=defaults.events)
        parser.add_argument("--seed", type=int, default=defaults.seed)
        parser.add_argument("--days", type=int, default=defaults.days, help="time span of the events")
        parser.add_argument(
            "--flush", action="store_true", help="delete all products, events and synthetic lists first"
        )

    def handle(self, *args, **options):
        config = SyntheticConfig(
            products=options["products"],
            categories=options["categories"],
            users=options["users"],
            events=options["events"],
            seed=options["seed"],
            days=options["days"],
        )
        try:
            config.validate()
        except ValueError as error:
            raise CommandError(str(error)) from error
        reporter = Reporter.to_stream(self.stdout)
        started = time.perf_counter()
        if options["flush"]:
            with reporter.step("Flushing existing data"):
                synthetic_data_flush()
        summary = synthetic_data_generate(config=config, reporter=reporter)
        self.stdout.write(summary_text(config, summary, time.perf_counter() - started))


def summary_text(config: SyntheticConfig, summary: Summary, seconds: float) -> str:
    by_type = summary.by_type
    lines = [
        "",
        f"Synthetic shop (seed {config.seed}) in {seconds:.1f} s "
        f"({summary.events / max(seconds, 1e-9):,.0f} events/s):",
        f"  products      {config.products:>10,}   categories {config.categories}",
        f"  users         {config.users:>10,}   sessions {summary.sessions:,}",
        f"  lists         {summary.lists:>10,}   randomised {summary.randomised_lists:,}",
        f"  events        {summary.events:>10,}   "
        + ", ".join(f"{name} {count:,}" for name, count in by_type.items()),
        f"  time span     {summary.first_timestamp:%Y-%m-%d} .. {summary.last_timestamp:%Y-%m-%d}",
        f"  CTR           {summary.ctr:>10.2%}   (clicks / impressions)",
        f"  conversion    {summary.conversion:>10.2%}   (purchases / clicks)",
        "  CTR at position 1 / 5 / 10: " + " / ".join(f"{summary.ctr_at(k):.2%}" for k in (1, 5, 10)),
        "  true relevance of shown products (0/1/2/3): "
        + " / ".join(
            f"{share:.0%}" for share in summary.relevance_counts / max(summary.relevance_counts.sum(), 1)
        ),
        "  ground truth stored apart from the events (catalog.GroundTruth), never read by the trainer",
    ]
    return "\n".join(lines)
