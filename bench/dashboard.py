#!/usr/bin/env python
"""Server time of the traffic dashboard with a cold cache, with the hourly roll-up and without
it (a script, not a test). Goal: every range, the week included, in at most 300 ms of server
time on a shop with 1M logged searches and 3M events over 30 days, its cache cold.

    nice .venv/bin/python bench/dashboard.py                 # fills its own database once
    nice .venv/bin/python bench/dashboard.py --refill        # new traffic ending now

1. The database: ``DATABASE_URL`` (default ``searchop_bench_dashboard``), created and migrated
   when missing, and filled when it holds fewer than ``--searches`` logged searches or its
   newest is over an hour old (the dashboard shows the last week *before now*): the impression
   log and the events emptied, then ``--searches`` searches and ``--events`` events spread
   evenly over the last 30 days by SQL ``generate_series`` (latency log-normal around 4 ms,
   1% not logged, 3% on the fallback; events 80% impressions, 12% clicks, 5% add to cart, 3%
   purchases, positions 1 to 24 falling off geometrically, 2% without one), months partitioned,
   ``VACUUM ANALYZE``. Seconds, not the hour a synthetic shop takes: the dashboard reads
   counts, never the products or queries.
2. The roll-up: ``traffic_hours_roll_up`` as beat runs it, timed for the first run (the whole
   week) and a steady one five minutes later (the last three hours).
3. ``/admin/dashboard/`` for the hour, day and week, requested in-process through Django's
   whole stack (middleware, session, view, template), the range's cache key deleted before
   each request so every one computes its traffic: ``--warmup`` rounds, then ``--repeat``
   timed ones. Each round requests every range twice (the modes' order alternating), with the
   roll-up's rows in the table and with the table emptied (the reference: every hour counted live, as the dashboard did
   before the roll-up; the percentiles then come from histograms computed live rather than
   from ``percentile_disc``), so the machine's load falls on both alike. The hour is counted
   live in both modes (the roll-up is for hourly points): its two rows measure the noise.
4. Median and range per range and mode, the ratio to the reference, the SQL statements of one
   request and which large tables they read; a markdown table printed and, unless
   ``--no-write``, written to docs/bench_dashboard.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/searchop_bench_dashboard")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "searchop_site.settings")

import psycopg  # noqa: E402

from bench.bench_docs import block_write  # noqa: E402 - after the path set-up
from bench.import_events import database_ensure  # noqa: E402

GOAL_MS = 300.0
WINDOWS = ("hour", "day", "week")
MODES = ("live (reference)", "roll-up")
BENCH_USER = "bench-dashboard"
LARGE_TABLES = ("catalog_event", "catalog_searchrequest")
STEPS = 4

SEARCHES_SQL = """
INSERT INTO catalog_searchrequest (request_id, timestamp, query, query_norm, user_id, session_id,
    product_ids, model_version, fallback, randomised, source, arm, challenger_error, teams, latency_seconds)
SELECT 'bench-' || g, %(end)s - random() * interval '30 days', 'shoes', 'shoes', 'u' || (g %% 50000),
    's' || (g %% 200000), '["P1", "P2", "P3"]'::jsonb, 1, random() < 0.03, false, 'api', '', '', '',
    CASE WHEN random() < 0.01 THEN NULL
         ELSE exp(ln(0.004) + 0.6 * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random())) END
FROM generate_series(1, %(n)s) AS g
"""
EVENTS_SQL = """
INSERT INTO catalog_event (event_id, event_type, timestamp, user_id, session_id, query, query_norm,
    position, request_id, ingested_at, product_external_id)
SELECT gen_random_uuid(),
    CASE WHEN r < 0.80 THEN 'impression' WHEN r < 0.92 THEN 'click' WHEN r < 0.97 THEN 'add_to_cart'
         ELSE 'purchase' END,
    at, 'u' || (g %% 50000), 's' || (g %% 200000), 'shoes', 'shoes',
    CASE WHEN random() < 0.02 THEN NULL ELSE least(1 + floor(-ln(1 - random()) * 6), 24)::int END,
    'bench-' || (g / 3), at, 'P' || (g %% 5000)
FROM (SELECT g, random() AS r, %(end)s - random() * interval '30 days' AS at
      FROM generate_series(1, %(n)s) AS g) AS generated
"""


def step(number: int, title: str) -> None:
    print(f"[{number}/{STEPS}] {title}", flush=True)


def database_prepare(url: str, *, searches: int, events: int, refill: bool) -> None:
    """Create and migrate the database when missing; fill it when it holds too few searches
    or old ones (or ``refill``)."""
    database_ensure(url)
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], check=True)
    with psycopg.connect(url) as db:
        stored, newest = db.execute(
            "SELECT count(*), coalesce(now() - max(timestamp), interval '100 years') FROM catalog_searchrequest"
        ).fetchone()
    print(f"    {stored:,} searches stored, the newest {newest} ago", flush=True)
    if stored >= searches and newest < timedelta(hours=1) and not refill:
        return
    if "bench" not in name:  # its own database (searchop_bench_dashboard, or the tests' *_bench_*)
        raise SystemExit(f"refusing to empty the traffic of {name}: not a benchmark database")
    from django.utils import timezone

    from catalog.partitions import partitions_ensure

    end = timezone.now()
    partitions_ensure(today=(end - timedelta(days=31)).date())  # a month each, not the default
    with psycopg.connect(url, autocommit=True) as db:
        db.execute("TRUNCATE catalog_searchrequest, catalog_event, training_traffichour")
        for what, statement, n in (("searches", SEARCHES_SQL, searches), ("events", EVENTS_SQL, events)):
            started = time.perf_counter()
            db.execute(statement, {"end": end, "n": n})
            print(f"    {n:,} {what} inserted in {time.perf_counter() - started:.0f} s", flush=True)
        db.execute("VACUUM ANALYZE catalog_searchrequest")
        db.execute("VACUUM ANALYZE catalog_event")


@dataclass
class Timed:
    ms: list[float] = field(default_factory=list)
    queries: int = 0
    big_tables: set[str] = field(default_factory=set)


def roll_up_timed() -> tuple[float, int, float, int]:
    """Seconds and hours of the first roll-up (an empty table: the week) and of a steady one
    five minutes later (the last three hours)."""
    from django.utils import timezone

    from training.dashboard.rollup import traffic_hours_roll_up
    from training.models import TrafficHour

    TrafficHour.objects.all().delete()
    now = timezone.now()
    started = time.perf_counter()
    first = traffic_hours_roll_up(now=now)
    first_seconds = time.perf_counter() - started
    started = time.perf_counter()
    steady = traffic_hours_roll_up(now=now + timedelta(minutes=5))
    return first_seconds, len(first), time.perf_counter() - started, len(steady)


def measure(*, warmup: int, repeat: int) -> dict[tuple[str, str], Timed]:
    """Milliseconds per cold request per (mode, range), both modes each round; and, from one
    extra request each, its SQL statements and the large tables they read."""
    from django.contrib.auth.models import User
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from training.models import TrafficHour

    rolled_up = list(TrafficHour.objects.all())
    user, _ = User.objects.get_or_create(
        username=BENCH_USER, defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(HTTP_HOST="localhost")
    client.force_login(user)
    timed = {(mode, window): Timed() for mode in MODES for window in WINDOWS}

    def table_for(mode: str) -> None:
        TrafficHour.objects.all().delete()
        if mode == "roll-up":
            TrafficHour.objects.bulk_create(rolled_up)

    def get(window: str):
        cache.delete(f"dashboard:traffic:{window}")  # cold: the traffic computed in this request
        response = client.get("/admin/dashboard/", {"window": window}, secure=True)
        if response.status_code != 200:
            raise SystemExit(f"the {window} answered {response.status_code}")
        return response

    for round_ in range(warmup + repeat):
        for mode in MODES if round_ % 2 else MODES[::-1]:  # neither mode always first
            table_for(mode)
            for window in WINDOWS:
                started = time.perf_counter()
                get(window)
                elapsed = (time.perf_counter() - started) * 1000
                if round_ >= warmup:
                    timed[(mode, window)].ms.append(elapsed)
        if round_ >= warmup:
            print(f"    round {round_ - warmup + 1}/{repeat}", flush=True)
    for mode in MODES:
        table_for(mode)
        for window in WINDOWS:
            with CaptureQueriesContext(connection) as captured:
                get(window)
            timed[(mode, window)].queries = len(captured.captured_queries)
            timed[(mode, window)].big_tables = {
                table
                for table in LARGE_TABLES
                for query in captured.captured_queries
                if f'"{table}"' in query["sql"]
            }
    table_for("roll-up")
    return timed


def table(timed: dict[tuple[str, str], Timed]) -> list[str]:
    lines = [
        f"| range | mode | median ms | range ms | / live | SQL statements | large tables read | goal <= {GOAL_MS:.0f} ms cold |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for window in WINDOWS:
        reference = statistics.median(timed[(MODES[0], window)].ms)
        for mode in MODES:
            entry = timed[(mode, window)]
            median = statistics.median(entry.ms)
            verdict = "met" if median <= GOAL_MS else "**missed**"
            lines.append(
                f"| {window} | {mode} | {median:,.1f} | {min(entry.ms):,.1f} – {max(entry.ms):,.1f} "
                f"| {median / reference:.2f} | {entry.queries} | {', '.join(sorted(entry.big_tables)) or 'none'} "
                f"| {verdict} |"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--searches", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=3_000_000)
    parser.add_argument("--refill", action="store_true", help="new traffic ending now, whatever is stored")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-write", action="store_true", help="print only, leave the docs alone")
    parser.add_argument("--output", default=str(ROOT / "docs" / "bench_dashboard.md"))
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    import django

    django.setup()
    from django.conf import settings

    # Static URLs without collectstatic's manifest (a dict look-up in production instead).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }

    step(
        1,
        f"Database {url.rsplit('/', 1)[1]}: {args.searches:,} searches and {args.events:,} events over 30 days",
    )
    database_prepare(url, searches=args.searches, events=args.events, refill=args.refill)
    step(2, "The roll-up, as beat runs it")
    first_seconds, first_hours, steady_seconds, steady_hours = roll_up_timed()
    print(
        f"    first run {first_hours} hours in {first_seconds:.2f} s; steady {steady_hours} hours in {steady_seconds:.2f} s"
    )
    step(3, f"Cold requests: {args.warmup} warm-up and {args.repeat} timed rounds, both modes each round")
    timed = measure(warmup=args.warmup, repeat=args.repeat)
    step(4, "Figures")
    lines = table(timed)
    from django.utils import timezone

    from catalog.models import Event, SearchRequest

    searches = SearchRequest.objects.count()
    events = Event.objects.count()
    week = SearchRequest.objects.filter(timestamp__gte=timezone.now() - timedelta(days=7)).count()
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    notes = (
        f"{time.strftime('%Y-%m-%d %H:%M')}, {platform.node()}: {searches:,} searches and {events:,} events over "
        f"30 days ({week:,} searches in the last week), {args.repeat} timed cold requests per range and mode after "
        f"{args.warmup} warm-up round(s), load average {load}. Server time: Django's whole stack in process, the "
        f"range's cache entry deleted before each request. The roll-up itself: first run (the week, {first_hours} "
        f"hours) {first_seconds:.2f} s, a steady run ({steady_hours} hours) {steady_seconds:.2f} s."
    )
    print("\n".join(lines) + "\n\n" + notes)
    if not args.no_write:
        block_write(Path(args.output), lines, notes)


if __name__ == "__main__":
    main()
