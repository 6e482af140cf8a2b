#!/usr/bin/env python
"""Server time of the compare page and the query playground (a script, not a test).

    nice .venv/bin/python bench/compare_playground.py                  # the demo shop
    nice .venv/bin/python bench/compare_playground.py --events 10000000 --products 20000 --users 100000

1. A dedicated database (``DATABASE_URL``'s name, default ``searchop_bench_control_room``) is
   created when missing and migrated; when it holds no events, the synthetic shop of the
   arguments is generated. When it holds fewer than two versions, two are trained (100 and
   50 rounds), the first promoted, and the serving features built.
2. In this process, as a web worker would: the serving state is loaded, an admin logs in
   (Django's test client, no network), and each page is requested ``--repeat`` times. The
   figure is the time from request to response inside Django: server time.
3. Printed: median and worst milliseconds of the compare page as people open it (the pairing
   from the cache or a button), of the pairing itself (``&paired=1``, computed once, then
   cached), and of the playground for three logged queries, beside production and a version.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/searchop_bench_control_room")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("SECURE_SSL_REDIRECT", "0")  # in-process requests: no TLS proxy in front
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "searchop_site.settings")

GOAL_MS = 300.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--products", type=int, default=1_000)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    database_ensure()

    import django

    django.setup()
    from django.core.management import call_command

    print("1. Migrating", flush=True)
    call_command("migrate", verbosity=0)
    shop_ensure(args)
    versions = versions_ensure()
    print("3. Timing the pages", flush=True)
    timings(versions, repeat=args.repeat)


def database_ensure() -> None:
    url = os.environ["DATABASE_URL"]
    name = url.rsplit("/", 1)[1]
    server = url.rsplit("/", 1)[0] + "/postgres"
    exists = subprocess.run(
        ["psql", server, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{name}'"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    if not exists:
        subprocess.run(["psql", server, "-qc", f'CREATE DATABASE "{name}"'], check=True)


def shop_ensure(args: argparse.Namespace) -> None:
    from catalog.models import Event

    if Event.objects.exists():
        print("2. The shop is there", flush=True)
        return
    print(f"2. Generating a shop of {args.events:,} events", flush=True)
    from django.core.management import call_command

    call_command(
        "generate_synthetic_data", events=args.events, products=args.products, users=args.users, verbosity=0
    )


def versions_ensure() -> tuple[int, int]:
    from django.conf import settings

    from ranking.models import ModelVersion
    from ranking.services import model_version_promote, serving_features_build
    from training.services import model_train

    numbers = list(ModelVersion.objects.order_by("version").values_list("version", flat=True))
    if len(numbers) < 2:
        for rounds in (100, 50):
            print(f"   training a version of {rounds} rounds", flush=True)
            settings.SEARCHOP_TRAINING = {**settings.SEARCHOP_TRAINING, "num_boost_round": rounds}
            numbers.append(model_train().version.version)
        model_version_promote(version=numbers[0], actor="bench", reason="the benchmark's production")
        serving_features_build()
    return numbers[0], numbers[1]


def timings(versions: tuple[int, int], *, repeat: int) -> None:
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.core.cache import cache
    from django.test import Client
    from django.test.utils import setup_test_environment

    from catalog.models import SearchRequest
    from ranking.serving.state import serving_state_get

    setup_test_environment()  # the test client's response.context, ALLOWED_HOSTS for "testserver"
    # The manifest storage of DEBUG=0 needs collectstatic; a page's static URLs cost the same.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    serving_state_get()  # a worker loads its state once, before its first request
    user = User.objects.filter(username="bench").first() or User.objects.create_superuser(
        "bench", "", "bench"
    )
    client = Client()
    client.force_login(user)
    a, b = versions
    compare = f"/admin/ranking/modelversion/compare/?a={b}&b={a}"
    queries = list(
        SearchRequest.objects.exclude(query_norm="").values_list("query_norm", flat=True).distinct()[:3]
    )
    cache.clear()
    client.get(compare)  # a worker's first page compiles the admin's templates
    rows = [("compare, pairing not cached yet", measure(client, compare, repeat))]
    started = time.perf_counter()
    client.get(compare + "&paired=1")
    rows.append(("pairing on the same lists (once)", [1000 * (time.perf_counter() - started)]))
    rows.append(("compare, pairing cached", measure(client, compare, repeat)))
    for query in queries:
        for other in (f"v{b}", "bm25"):
            url = f"/admin/ranking/playground/?q={query.replace(' ', '+')}&other={other}"
            client.get(url)  # the other version's booster is loaded once per worker
            rows.append((f"playground {query!r} beside {other}", measure(client, url, repeat)))
        product = client.get(url).context["result"].rows[0].product_id
        rows.append((f"playground {query!r}, why {product}", measure(client, f"{url}&why={product}", repeat)))
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"\n| page | median ms | worst ms | goal {GOAL_MS:.0f} ms |\n|---|---:|---:|---|")
    for label, values in rows:
        worst = max(values)
        verdict = "–" if label.startswith("pairing") else ("met" if worst <= GOAL_MS else "missed")
        print(f"| {label} | {statistics.median(values):.0f} | {worst:.0f} | {verdict} |")


def measure(client, url: str, repeat: int) -> list[float]:
    values = []
    for _ in range(repeat):
        started = time.perf_counter()
        response = client.get(url)
        values.append(1000 * (time.perf_counter() - started))
        assert response.status_code == 200, (url, response.status_code)
    return values


if __name__ == "__main__":
    main()
