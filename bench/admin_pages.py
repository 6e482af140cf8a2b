#!/usr/bin/env python
"""Server time of every control-room page (a script, not a test). Goal: each page answers in
at most 300 ms of server time on a database of 10M events.

    nice .venv/bin/python bench/admin_pages.py                    # the 10M-event database
    nice .venv/bin/python bench/admin_pages.py --events 100000    # a smaller one of its own

1. The database: ``DATABASE_URL`` (default ``searchop_bench_features_10m``, the 10M-event shop
   that ``bench/build_features.py`` generates: about an hour on two cores). It is created and
   migrated when missing, and filled by ``generate_synthetic_data --flush --events N`` when it
   holds fewer than ``--events`` events (never emptied when it holds more).
2. What the pages show: a staff user of the benchmark's own, and, when the registry holds fewer
   than ``--versions`` versions, versions registered with a report and feature importance (a
   tiny model text: the pages never load the model), the newest promoted, so the history has
   points and a production period.
3. Every page of ``tests/e2e/pages.py`` (the browser tests' declaration: one list of pages),
   plus the admin index as the reference, requested in-process through Django's whole stack
   (middleware, session, view, template): ``--warmup`` requests, then ``--repeat`` timed ones
   per page, the pages in turn each round so that the machine's load falls on all alike.
   Server time is the request's wall time in the process: no network, no browser.
4. Median and range per page, the median's ratio to the admin index's, the SQL statements of
   one request and which of the tables that grow with the traffic (events, the impression log,
   the ground truth) they read, and the goal; a markdown table printed and, unless ``--no-write``, written to docs/bench_admin_pages.md.
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/searchop_bench_features_10m")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "searchop_site.settings")

import psycopg  # noqa: E402

from bench.bench_docs import block_write  # noqa: E402 - after the path set-up
from bench.import_events import database_ensure  # noqa: E402

GOAL_MS = 300.0
REFERENCE = ("admin-index (reference)", "/admin/")
BENCH_USER = "bench-admin-pages"
# The tables that grow with the traffic: a page that reads one is what 10M events can slow.
LARGE_TABLES = ("catalog_event", "catalog_searchrequest", "catalog_groundtruth")
STEPS = 4


def step(number: int, title: str) -> None:
    print(f"[{number}/{STEPS}] {title}", flush=True)


def database_prepare(url: str, events: int) -> None:
    """Create and migrate the database when missing; generate the shop when it holds fewer
    than ``events`` events."""
    database_ensure(url)
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v0"], check=True)
    with psycopg.connect(url) as db:
        stored = db.execute("SELECT count(*) FROM catalog_event").fetchone()[0]
    print(f"    {stored:,} events stored", flush=True)
    if stored < events:
        print(f"    generate_synthetic_data --flush --events {events:,} ...", flush=True)
        subprocess.run([*manage, "generate_synthetic_data", "--flush", f"--events={events}"], check=True)
        with psycopg.connect(url, autocommit=True) as db:
            db.execute("VACUUM ANALYZE")


def registry_fill(versions: int) -> None:
    """Versions with reports for the pages to show, the newest in production; none added when
    the registry already holds ``versions``."""
    from ranking.models import ModelVersion
    from ranking.services import model_version_promote, model_version_register
    from tests.registry_factories import register_kwargs, report_build, tiny_model_text

    missing = versions - ModelVersion.objects.count()
    importance = {f"feature_{i:02d}": float(100 - 3 * i) for i in range(32)}
    for seed in range(max(missing, 0)):
        registered = model_version_register(
            **register_kwargs(
                model_text=tiny_model_text(seed),
                report=report_build(ndcg=0.40 + seed / 500, bm25=0.42),
                feature_importance=importance,
            ),
            actor="bench",
            reason="bench/admin_pages.py: a version for the pages to show",
        )
        if seed == missing - 1:
            model_version_promote(version=registered.version, actor="bench", reason="bench/admin_pages.py")
    print(f"    {ModelVersion.objects.count():,} versions ({max(missing, 0)} added)", flush=True)


def pages_resolve() -> list[tuple[str, str]]:
    """The browser tests' pages with their rows filled in, and the reference first."""
    from ranking.models import ModelStatus, ModelVersion
    from tests.e2e.pages import PAGES

    production = (
        ModelVersion.objects.filter(status=ModelStatus.PRODUCTION).values_list("pk", "version").first()
    )
    candidate = (
        ModelVersion.objects.exclude(status=ModelStatus.PRODUCTION).values_list("pk", "version").first()
    )
    from catalog.models import SearchRequest

    candidate = candidate or production
    rows = {
        "production_pk": production and production[0],
        "candidate_pk": candidate and candidate[0],
        "production_version": production and production[1],
        "candidate_version": candidate and candidate[1],
    }
    search = SearchRequest.objects.order_by("-timestamp").values_list("pk", "request_id").first()
    if search is not None:  # the debugging pages need a logged search
        rows |= {"request_pk": search[0], "request_id": search[1]}
    pages = [REFERENCE]
    for page in PAGES:
        if page.path == REFERENCE[1]:
            continue  # measured once, as the reference
        try:
            pages.append((page.name, page.path.format(**rows)))
        except KeyError as missing:
            print(f"    skipped {page.name}: no row for {missing}", flush=True)
    return pages


@dataclass
class Timed:
    ms: list[float] = field(default_factory=list)
    queries: int = 0  # SQL statements of one request
    big_tables: set[str] = field(default_factory=set)  # the large tables it read


def measure(pages: list[tuple[str, str]], *, warmup: int, repeat: int) -> dict[str, Timed]:
    """Milliseconds per request per page, the pages in turn each round; and, from one extra
    request per page, its SQL statements and which of the large tables they read."""
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    user, _ = User.objects.get_or_create(
        username=BENCH_USER, defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(HTTP_HOST="localhost")  # one of the default ALLOWED_HOSTS
    client.force_login(user)
    timed = {name: Timed() for name, _ in pages}
    for round_ in range(warmup + repeat):
        for name, path in pages:
            started = time.perf_counter()
            response = client.get(path, secure=True)  # production settings redirect plain HTTP
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{path} answered {response.status_code}")
            if round_ >= warmup:
                timed[name].ms.append(elapsed)
        if round_ >= warmup:
            print(f"    round {round_ - warmup + 1}/{repeat}", flush=True)
    for name, path in pages:
        with CaptureQueriesContext(connection) as captured:
            client.get(path, secure=True)
        timed[name].queries = len(captured.captured_queries)
        timed[name].big_tables = {
            table
            for table in LARGE_TABLES
            for query in captured.captured_queries
            if f'"{table}"' in query["sql"]
        }
    return timed


def table(pages: list[tuple[str, str]], timed: dict[str, Timed]) -> list[str]:
    reference = statistics.median(timed[REFERENCE[0]].ms)
    lines = [
        f"| page | path | median ms | range ms | / admin index | SQL statements | large tables read | goal <= {GOAL_MS:.0f} ms |",
        "|---|---|---:|---:|---:|---:|---|---|",
    ]
    for name, path in pages:
        values = timed[name].ms
        median = statistics.median(values)
        verdict = "" if name == REFERENCE[0] else ("met" if median <= GOAL_MS else "**missed**")
        lines.append(
            f"| {name} | `{path}` | {median:,.1f} | {min(values):,.1f} – {max(values):,.1f} "
            f"| {median / reference:.2f} | {timed[name].queries} | {', '.join(sorted(timed[name].big_tables)) or 'none'} | {verdict} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000, help="generate when fewer are stored")
    parser.add_argument("--versions", type=int, default=30, help="registry size the pages show")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--no-write", action="store_true", help="print only, leave the docs alone")
    parser.add_argument("--output", default=str(ROOT / "docs" / "bench_admin_pages.md"))
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]

    step(1, f"Database {url.rsplit('/', 1)[1]} with at least {args.events:,} events")
    database_prepare(url, args.events)
    import django

    django.setup()
    from django.conf import settings

    # Static URLs without collectstatic's manifest (a dict look-up in production instead).
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    from catalog.models import Event
    from catalog.selectors import row_count_estimate

    step(2, f"A staff user and at least {args.versions} model versions")
    registry_fill(args.versions)
    step(3, f"Requests: {args.warmup} warm-up and {args.repeat} timed per page, in process")
    pages = pages_resolve()
    timed = measure(pages, warmup=args.warmup, repeat=args.repeat)
    step(4, "Figures")
    lines = table(pages, timed)
    events = row_count_estimate(model=Event)
    load = ", ".join(f"{value:.1f}" for value in os.getloadavg())
    notes = (
        f"{time.strftime('%Y-%m-%d')}, {platform.node()}: {events:,} events (the planner's estimate), "
        f"{args.repeat} timed requests per page after {args.warmup} warm-up, load average {load}. "
        "Server time: Django's whole stack in process (no network, no browser)."
    )
    print("\n".join(lines) + "\n\n" + notes)
    if not args.no_write:
        block_write(Path(args.output), lines, notes)


if __name__ == "__main__":
    main()
