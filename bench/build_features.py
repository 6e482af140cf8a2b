#!/usr/bin/env python
"""Benchmark of ``build_features`` end to end on PostgreSQL (a script, not a test).

    nice .venv/bin/python bench/build_features.py                 # 1M and 10M events
    nice .venv/bin/python bench/build_features.py --events 1000000 --no-write

For each size N (default 1,000,000 and 10,000,000 events, one shop of 20,000 products and
100,000 users, seed 42):

1. A dedicated database ``<name>_1m`` / ``<name>_10m`` (``DATABASE_URL``'s name, default
   ``searchop_bench_features``) is created when missing and migrated. When it does not hold
   this shop yet (or with ``--regenerate``), ``manage.py generate_synthetic_data --flush`` fills
   it in a child process: its seconds and peak RSS. Then ``VACUUM ANALYZE`` (what autovacuum
   would do after a bulk load) and ``CHECKPOINT``.
2. ``features_build`` over every event (the ``build_features`` command's default cut-off: just
   after the latest event), in a child process so that its peak RSS (``ru_maxrss``) is its
   own: seconds (the service's own ``build_seconds``; the interpreter's and Django's start-up
   apart), seconds per million events, events/s, the child's CPU time, and its steps.
3. The reference, measured in the same run: ``psql`` running one scan of the same events,
   ``SELECT product_external_id, event_type, count(*), sum(position) FROM catalog_event
   WHERE timestamp < until GROUP BY 1, 2`` (output discarded). The ratio says how many such
   scans' worth the whole build costs.
4. A checksum of every feature table of the set just built (ordered by its key, floats as
   PostgreSQL prints them, i.e. exactly), so an optimisation can show that it changed no row.

Each measurement is repeated (``--repeat``, default 2) and the best is kept; the machine's
load average is printed beside every figure. Metarank's documented import rate (about 2,300
events/s) is shown as context only. A markdown table is printed and written to
docs/bench_build_features.md (between markers). The feature sets the benchmark built are
deleted again; ``--drop`` drops the benchmark databases at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/searchop_bench_features")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "searchop_site.settings")
# Every event of the database is read (the figures are per million events): a history longer
# than any generated span instead of the 14 days a deployment reads.
os.environ.setdefault("SEARCHOP_HISTORY_DAYS", "36500")

from bench.bench_docs import block_write  # noqa: E402 - after the path set-up

METARANK_EVENTS_PER_SECOND = 2_300  # Metarank's documentation, for its import (context only)
GOAL_SECONDS_PER_MILLION = 5.0
GOAL_PEAK_GB = 4.0
CHECKSUM_TABLES = {
    # table: key columns (the unique key besides feature_set_id)
    "ranking_productfeatures": "product_external_id",
    "ranking_queryproductfeatures": "query_norm, product_external_id",
    "ranking_userfeatures": "user_id",
    "ranking_useraffinity": "user_id, kind, key",
    "ranking_queryfrequency": "query_norm",
}


# ---------------------------------------------------------------------------------------
# Child process: one features_build, its steps, its peak memory, its tables' checksums
# ---------------------------------------------------------------------------------------


def child_build() -> None:
    """Run ``features_build`` once and print one JSON line (``BENCH {...}``) at the end."""
    import resource

    import django

    started = time.perf_counter()
    django.setup()
    from datetime import timedelta

    from catalog.progress import Reporter
    from catalog.selectors import event_latest_timestamp_get
    from ranking.services import features_build

    until = event_latest_timestamp_get() + timedelta(microseconds=1)
    ready = time.perf_counter()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    reporter = Reporter.to_stream(sys.stdout)
    feature_set = features_build(until=until, reporter=reporter).feature_set
    finished = time.perf_counter()
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    peak_kb = cpu_after.ru_maxrss
    result = {
        "feature_set": feature_set.pk,
        "until": until.isoformat(),
        "events": feature_set.events_counted,
        "build_seconds": feature_set.build_seconds,
        "service_seconds": finished - ready,
        "startup_seconds": ready - started,
        # CPU time of this process alone (PostgreSQL's work is in its own processes).
        "python_cpu_seconds": (cpu_after.ru_utime + cpu_after.ru_stime)
        - (cpu_before.ru_utime + cpu_before.ru_stime),
        "peak_rss_mb": peak_kb / 1024,
        "counts": feature_set.counts,
        "steps": reporter.history,
        "checksums": tables_checksum(feature_set.pk),
    }
    print("BENCH " + json.dumps(result), flush=True)


def tables_checksum(feature_set_id: int) -> dict[str, str]:
    """md5 of each feature table's rows of one set, in key order, every column but the ids."""
    from django.db import connection

    sums = {}
    with connection.cursor() as cursor:
        for table, key in CHECKSUM_TABLES.items():
            cursor.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = %s AND column_name NOT IN ('id', 'feature_set_id') ORDER BY column_name",
                [table],
            )
            columns = [row[0] for row in cursor.fetchall()]
            row_text = " || '|' || ".join(f"coalesce(\"{c}\"::text, '<null>')" for c in columns)
            cursor.execute(
                f"SELECT count(*), md5(coalesce(string_agg({row_text}, E'\\n' ORDER BY {key}), '')) "
                f"FROM {table} WHERE feature_set_id = %s",
                [feature_set_id],
            )
            rows, digest = cursor.fetchone()
            sums[table] = f"{rows}:{digest}"
        cursor.execute(
            "SELECT md5(events_counted::text || counts::text || stats::text) FROM ranking_featureset WHERE id = %s",
            [feature_set_id],
        )
        sums["ranking_featureset"] = cursor.fetchone()[0]
    return sums


# ---------------------------------------------------------------------------------------
# Parent
# ---------------------------------------------------------------------------------------


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float
    load: str
    output: dict = field(default_factory=dict)


def load_now() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f}/{five:.1f}"


def run_child(args: list[str], env: dict[str, str], *, echo: bool) -> tuple[float, float, str, str]:
    """Run a child; returns (wall seconds, peak RSS MB, stdout, load at start)."""
    load = load_now()
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if echo and not line.startswith("BENCH "):
            print("    " + line.rstrip()[-160:], flush=True)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    output = "".join(lines)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"child failed: {' '.join(args)}\n{output[-3000:]}")
    return elapsed, usage.ru_maxrss / 1024, output, load


def database_url(base: str, suffix: str) -> str:
    import psycopg

    info = psycopg.conninfo.conninfo_to_dict(base)
    info["dbname"] = f"{info['dbname']}_{suffix}"
    return f"postgres://{info.get('user', 'postgres')}@{info.get('host', '127.0.0.1')}:{info.get('port', 5432)}/{info['dbname']}"


def admin_sql(url: str, statement: str, params=None, *, dbname: str | None = None):
    import psycopg

    info = psycopg.conninfo.conninfo_to_dict(url)
    if dbname:
        info["dbname"] = dbname
    with psycopg.connect(psycopg.conninfo.make_conninfo(**info), autocommit=True) as connection:
        cursor = connection.execute(statement, params)
        return cursor.fetchall() if cursor.description else None


def database_ensure(url: str) -> None:
    from psycopg import conninfo, sql

    name = conninfo.conninfo_to_dict(url)["dbname"]
    if not admin_sql(url, "SELECT 1 FROM pg_database WHERE datname = %s", [name], dbname="postgres"):
        admin_sql(url, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)), dbname="postgres")
        print(f"    created database {name}")


def shop_present(url: str, events: int, products: int) -> bool:
    rows = admin_sql(
        url,
        "SELECT (SELECT count(*) FROM catalog_event), (SELECT count(*) FROM catalog_product)",
    )
    stored_events, stored_products = rows[0]
    # The generator finishes the chunk of lists that crosses N: a few events more than asked.
    return stored_products == products and events <= stored_events < events * 1.01 + 1_000


def size_label(events: int) -> str:
    return f"{events // 1_000_000}m" if events % 1_000_000 == 0 else f"{events // 1_000}k"


def reference_timed(url: str, until: str) -> tuple[float, str]:
    """One GROUP BY scan of the events before ``until`` in psql, output discarded."""
    query = (
        "SELECT product_external_id, event_type, count(*), sum(position) FROM catalog_event "
        f"WHERE timestamp < '{until}' GROUP BY product_external_id, event_type"
    )
    load = load_now()
    started = time.perf_counter()
    subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-A", "-t", "-c", query, "-o", "/dev/null"], check=True
    )
    return time.perf_counter() - started, load


def feature_set_delete(url: str, feature_set_id: int) -> None:
    for table in [*CHECKSUM_TABLES, "ranking_featureset"]:
        column = "id" if table == "ranking_featureset" else "feature_set_id"
        admin_sql(url, f"DELETE FROM {table} WHERE {column} = %s", [feature_set_id])


GENERATION_TABLE = "bench_generation"


def generation_remember(url: str, measured: Measured) -> None:
    """Keep the generation's figures beside the data, so a later run that reuses it can say them."""
    admin_sql(url, f"DROP TABLE IF EXISTS {GENERATION_TABLE}")
    admin_sql(url, f"CREATE TABLE {GENERATION_TABLE} (measured jsonb, at timestamptz DEFAULT now())")
    admin_sql(
        url,
        f"INSERT INTO {GENERATION_TABLE} (measured) VALUES (%s)",
        [
            json.dumps(
                {"seconds": measured.seconds, "peak_rss_mb": measured.peak_rss_mb, "load": measured.load}
            )
        ],
    )


def generation_recalled(url: str) -> Measured | None:
    exists = admin_sql(url, "SELECT to_regclass(%s) IS NOT NULL", [GENERATION_TABLE])[0][0]
    rows = exists and admin_sql(url, f"SELECT measured, at FROM {GENERATION_TABLE}")
    if not rows:
        return None
    measured, at = rows[0]
    return Measured(
        seconds=measured["seconds"],
        peak_rss_mb=measured["peak_rss_mb"],
        load=measured["load"],
        output={"at": f"{at:%Y-%m-%d %H:%M} UTC"},
    )


@dataclass
class SizeResult:
    events_asked: int
    database: str
    events: int = 0
    generation: Measured | None = None
    builds: list[Measured] = field(default_factory=list)
    references: list[tuple[float, str]] = field(default_factory=list)

    @property
    def best(self) -> Measured:
        return min(self.builds, key=lambda m: m.output["build_seconds"])

    @property
    def reference(self) -> tuple[float, str]:
        return min(self.references)


def size_run(args, events: int) -> SizeResult:
    url = database_url(os.environ["DATABASE_URL"], size_label(events))
    env = {**os.environ, "DATABASE_URL": url}
    result = SizeResult(events_asked=events, database=url.rsplit("/", 1)[1])
    print(f"\n== {events:,} events in {result.database} ==", flush=True)
    database_ensure(url)
    subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], env=env, check=True)
    if args.regenerate or not shop_present(url, events, args.products):
        print(
            f"[gen] generate_synthetic_data --flush --events {events:,} --products {args.products:,} "
            f"--users {args.users:,} --seed {args.seed} ...",
            flush=True,
        )
        seconds, peak, _, load = run_child(
            [
                sys.executable,
                str(ROOT / "manage.py"),
                "generate_synthetic_data",
                "--flush",
                f"--events={events}",
                f"--products={args.products}",
                f"--users={args.users}",
                f"--seed={args.seed}",
            ],
            env,
            echo=False,
        )
        result.generation = Measured(seconds=seconds, peak_rss_mb=peak, load=load)
        print(f"    {seconds:,.1f} s, peak RSS {peak:,.0f} MB (load {load})", flush=True)
        print("[gen] VACUUM ANALYZE ...", flush=True)
        admin_sql(url, "VACUUM ANALYZE")
        generation_remember(url, result.generation)
    else:
        result.generation = generation_recalled(url)
        print("[gen] the shop is already there (--regenerate to generate and time it again)")
    result.events = admin_sql(url, "SELECT count(*) FROM catalog_event")[0][0]
    if args.generate_only:
        return result

    for attempt in range(1, args.repeat + 1):
        admin_sql(url, "CHECKPOINT")
        print(f"[build {attempt}] features_build over every event ...", flush=True)
        wall, peak, output, load = run_child(
            [sys.executable, str(Path(__file__).resolve()), "--child-build"], env, echo=True
        )
        data = json.loads(next(line for line in output.splitlines() if line.startswith("BENCH "))[6:])
        feature_set_delete(url, data["feature_set"])
        result.builds.append(Measured(seconds=wall, peak_rss_mb=peak, load=load, output=data))
        print(
            f"    build {data['build_seconds']:.2f} s ({wall:.2f} s with start-up), peak RSS {peak:,.0f} MB, "
            f"load {load}; checksums {data['checksums']}",
            flush=True,
        )
        seconds, load = reference_timed(url, data["until"])
        result.references.append((seconds, load))
        print(f"[ref {attempt}] psql GROUP BY scan: {seconds:.2f} s (load {load})", flush=True)
    return result


def report(results: list[SizeResult], args) -> tuple[list[str], str]:
    table = [
        "| events | `features_build` s | s per million (goal <= 5) | events/s | of which Python CPU s | "
        "+ start-up s | peak RSS (goal <= 4 GB at 10M) | one psql GROUP BY scan s | "
        "build / scan | load 1/5 min |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for result in results:
        best = result.best
        seconds = best.output["build_seconds"]
        reference, reference_load = result.reference
        table.append(
            f"| {result.events:,} | {seconds:,.1f} | {seconds / (result.events / 1e6):.2f} | "
            f"{result.events / seconds:,.0f} | {best.output['python_cpu_seconds']:,.1f} | "
            f"{best.output['startup_seconds']:,.1f} | {best.peak_rss_mb / 1024:,.2f} GB | "
            f"{reference:,.2f} | {seconds / reference:.1f}x | {best.load} (scan: {reference_load}) |"
        )
    if len(results) >= 2:
        small, large = results[0], results[-1]
        per_small = small.best.output["build_seconds"] / (small.events / 1e6)
        per_large = large.best.output["build_seconds"] / (large.events / 1e6)
        table.append(
            f"| **linearity** ({large.events / 1e6:.0f}M / {small.events / 1e6:.0f}M, s per million) "
            f"| | **{per_large / per_small:.2f}** | | | | | | | |"
        )
    table.append(
        f"| Metarank's import, as documented (context only) | | {1e6 / METARANK_EVENTS_PER_SECOND:,.0f} | "
        f"{METARANK_EVENTS_PER_SECOND:,} | | | | | | |"
    )

    lines = [
        f"{os.cpu_count()} CPUs shared with other jobs, Python {platform.python_version()}, "
        f"{_server_version(results[0])}; one shop of {args.products:,} products and {args.users:,} users "
        f"(seed {args.seed}); best of {args.repeat} runs each.",
        "",
        "Generating the data (`generate_synthetic_data --flush`, a child process):",
        "",
        "| events | seconds | events/s | peak RSS | load 1/5 min |",
        "|---:|---:|---:|---:|---|",
    ]
    for result in results:
        generation = result.generation
        if generation is None:
            lines.append(f"| {result.events:,} | not measured (reused data) | | | |")
        else:
            when = f" (generated {generation.output['at']})" if generation.output else ""
            lines.append(
                f"| {result.events:,} | {generation.seconds:,.0f} | {result.events / generation.seconds:,.0f} | "
                f"{generation.peak_rss_mb / 1024:,.2f} GB | {generation.load}{when} |"
            )
    for result in results:
        best = result.best.output
        lines += ["", f"Steps of the best build at {result.events:,} events (rows out):", ""]
        lines += [
            f"    {step['seconds']:7.2f} s  {step['step']}  "
            + " ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}" for k, v in step["info"].items())
            for step in best["steps"]
        ]
        lines += [
            "",
            "    all runs: "
            + "; ".join(
                f"{m.output['build_seconds']:.1f} s / {m.peak_rss_mb:,.0f} MB (load {m.load})"
                for m in result.builds
            )
            + " | scans: "
            + "; ".join(f"{s:.2f} s (load {load})" for s, load in result.references),
            "    feature tables (rows:md5): "
            + ", ".join(f"{k.removeprefix('ranking_')} {v}" for k, v in best["checksums"].items()),
        ]
    return table, "\n".join(lines)


def _server_version(result: SizeResult) -> str:
    url = database_url(os.environ["DATABASE_URL"], size_label(result.events_asked))
    version = admin_sql(url, "SHOW server_version")[0][0].split()[0]
    settings = ", ".join(
        f"{name}={admin_sql(url, 'SELECT current_setting(%s)', [name])[0][0]}"
        for name in ("shared_buffers", "work_mem", "max_parallel_workers_per_gather", "jit")
    )
    return f"PostgreSQL {version} ({settings})"


def main() -> None:
    if "--child-build" in sys.argv:
        child_build()
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--products", type=int, default=20_000)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--regenerate", action="store_true", help="generate the data even when present")
    parser.add_argument("--generate-only", action="store_true", help="stop after generating the data")
    parser.add_argument("--drop", action="store_true", help="drop the benchmark databases at the end")
    parser.add_argument("--no-write", action="store_true", help="print only, leave the docs alone")
    parser.add_argument("--output", default=str(ROOT / "docs" / "bench_build_features.md"))
    args = parser.parse_args()
    print(f"load average at start: {load_now()}")
    results = [size_run(args, events) for events in sorted(args.events)]
    if args.generate_only:
        return
    table, machine = report(results, args)
    print("\n" + "\n".join(table) + "\n\n" + machine)
    if not args.no_write:
        block_write(Path(args.output), table, machine)
    if args.drop:
        for result in results:
            admin_sql(os.environ["DATABASE_URL"], f'DROP DATABASE "{result.database}"', dbname="postgres")
            print(f"dropped {result.database}")


if __name__ == "__main__":
    main()
