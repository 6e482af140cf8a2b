from __future__ import annotations

import secrets

from django.core.management.base import BaseCommand, CommandError

from catalog.progress import Reporter
from catalog.selectors import synthetic_catalog_mismatch_get
from catalog.synthetic import SyntheticConfig
from catalog.synthetic.shoppers import ShopperSimulator
from ranking.traffic import HttpShopApi, InProcessShopApi, TrafficError, TrafficSummary, traffic_simulate


class Command(BaseCommand):
    help = (
        "A live synthetic shop: its shoppers search through /api/rank (over HTTP with --url, in this "
        "process otherwise), click, add to the cart and buy on the order they get back by the "
        "ground truth, and send what they did to /api/events with the request id, the positions "
        "shown and the current time: the next pipeline run trains on it. The shop is the one "
        "generate_synthetic_data made (pass it the same --shop-seed, --products, --categories, "
        "--users)."
    )

    def add_arguments(self, parser):
        defaults = SyntheticConfig()
        parser.add_argument("--searches", type=int, required=True, help="how many searches to make")
        parser.add_argument(
            "--url", default="", help="the server, e.g. http://127.0.0.1:8000 (default: in-process)"
        )
        parser.add_argument("--seed", type=int, default=None, help="the shoppers' seed (default: a new one)")
        parser.add_argument("--rate", type=float, default=None, help="at most this many searches a second")
        parser.add_argument("--api-key", default="", help="sent as 'Authorization: Api-Key <key>'")
        parser.add_argument(
            "--new-queries",
            type=float,
            default=0.0,
            help="share (0..1) of searches typing queries never seen",
        )
        parser.add_argument(
            "--shop-seed", type=int, default=defaults.seed, help="generate_synthetic_data's --seed"
        )
        parser.add_argument("--products", type=int, default=defaults.products)
        parser.add_argument("--categories", type=int, default=defaults.categories)
        parser.add_argument("--users", type=int, default=defaults.users)

    def handle(self, *args, **options):
        if options["searches"] < 1:
            raise CommandError("--searches must be at least 1")
        if options["rate"] is not None and options["rate"] <= 0:
            raise CommandError("--rate must be positive")
        seed = options["seed"] if options["seed"] is not None else secrets.randbelow(2**31)
        config = SyntheticConfig(
            products=options["products"],
            categories=options["categories"],
            users=options["users"],
            seed=options["shop_seed"],
        )
        reporter = Reporter.to_stream(self.stderr)
        with reporter.step("Building the synthetic shop's shoppers") as info:
            try:
                config.validate()
                simulator = ShopperSimulator.for_config(config, seed=seed, new_queries=options["new_queries"])
            except ValueError as error:
                raise CommandError(str(error)) from error
            info.update(seed=seed, shop_seed=config.seed, queries=simulator.seen)
        if not options["url"]:
            catalog = simulator.shop.catalog
            mismatch = synthetic_catalog_mismatch_get(
                external_ids=catalog.external_ids.tolist(), titles=catalog.titles.tolist()
            )
            if mismatch:
                raise CommandError(
                    f"The catalog is not the synthetic shop of seed {config.seed} ({config.products} products, "
                    f"{config.categories} categories): {mismatch}. Pass the options generate_synthetic_data had."
                )
        api = HttpShopApi(options["url"], api_key=options["api_key"]) if options["url"] else None
        api = api or InProcessShopApi(api_key=options["api_key"])
        where = options["url"] or "in-process"
        try:
            with reporter.step(f"Searching ({where})") as info:
                summary = traffic_simulate(
                    simulator=simulator,
                    api=api,
                    searches=options["searches"],
                    rate=options["rate"],
                    reporter=reporter,
                )
                info.update(searches=summary.searches, events=summary.events_sent)
        except TrafficError as error:
            raise CommandError(str(error)) from error
        finally:
            api.close()
        self.stdout.write(summary_text(summary, seed=seed, where=where))


def summary_text(summary: TrafficSummary, *, seed: int, where: str) -> str:
    searches = max(summary.searches, 1)
    lines = [
        f"Simulated traffic ({where}, seed {seed}) in {summary.seconds:.1f} s "
        f"({summary.searches / max(summary.seconds, 1e-9):,.1f} searches/s):",
        f"  searches      {summary.searches:>10,}   with a click {summary.searches_with_click:,}"
        + (f", unseen queries {summary.unseen_queries:,}" if summary.unseen_queries else ""),
        f"  clicks        {summary.clicks:>10,}   CTR {summary.ctr:.2%} (searches with a click), "
        f"{summary.clicks / searches:.3f} per search",
        f"  add-to-carts  {summary.add_to_carts:>10,}   {summary.add_to_carts / searches:.3f} per search",
        f"  purchases     {summary.purchases:>10,}   {summary.purchases / searches:.3f} per search",
        f"  events        {summary.events_sent:>10,}   stored {summary.events_stored:,}",
        f"  /api/rank     p50 {summary.rank_ms(0.5):.1f} ms, p95 {summary.rank_ms(0.95):.1f} ms",
        "  searches by experiment arm:",
        *(f"    {label}: {count:,}" for label, count in sorted(summary.arms.items())),
    ]
    return "\n".join(lines)
