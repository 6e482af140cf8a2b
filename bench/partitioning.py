#!/usr/bin/env python
"""Partitioned event tables against today's plain ones, in the same run (a script, not a test).

    nice .venv/bin/python bench/partitioning.py          # 10M events, 1M per import, 3 rounds

1. Plain: the code before partitioning (``git archive`` of ``--plain-ref``, by default the
   commit before ``catalog/migrations/0003``), its migrations applied to the database
   ``<name>_plain``, and the synthetic shop (``--events``) generated into it by that code.
2. Partitioned: a copy of that database (``CREATE DATABASE ... TEMPLATE``) migrated by this
   code: the migration's time on ``--events`` events is measured.
3. Rounds (``--repeat``), the two variants in turn: ``manage.py build_features`` (the serving
   feature build over every event), then ``manage.py import_events`` of ``--import-events``
   new events (a fresh file each round, the same file for both variants).
4. ``manage.py prune`` of the oldest month (partitioned) against the same ``DELETE`` (plain).
5. Medians and ranges, written to docs/bench_partitioning.md.

Each command runs in a process of its own and is timed without Django's start-up.
The databases are kept for the next run unless ``--drop``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/searchop_bench_partitions")

from bench.import_events import events_generate  # noqa: E402 - after the path set-up
from bench.markdown import block_write  # noqa: E402

FIRST_PARTITIONED = "catalog/migrations/0003_event_and_request_keys_hold_their_time.py"


def database_url(suffix: str) -> str:
    base, _, name = os.environ["DATABASE_URL"].rpartition("/")
    return f"{base}/{name}_{suffix}"


def admin(statement: sql.Composable | str, *, dbname: str = "postgres") -> list[tuple]:
    info = psycopg.conninfo.conninfo_to_dict(os.environ["DATABASE_URL"])
    info["dbname"] = dbname
    with psycopg.connect(psycopg.conninfo.make_conninfo(**info), autocommit=True) as connection:
        cursor = connection.execute(statement)
        return cursor.fetchall() if cursor.description else []


def name_of(url: str) -> str:
    return url.rpartition("/")[2]


def plain_code(ref: str, into: Path) -> Path:
    """The repository at ``ref`` exported (no git worktree is registered)."""
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, check=True, capture_output=True).stdout
    with tempfile.TemporaryFile() as file:
        file.write(archive)
        file.seek(0)
        with tarfile.open(fileobj=file) as tar:
            tar.extractall(into, filter="data")
    return into


def default_plain_ref() -> str:
    added = subprocess.run(
        ["git", "log", "--format=%H", "--diff-filter=A", "-1", "--", FIRST_PARTITIONED],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return f"{added}^" if added else "HEAD"


# Runs one management command in a fresh process and times the command alone, not Django's
# start-up (which varied by tens of seconds on the shared machine).
TIMED = (
    "import sys, time, django; django.setup(); "
    "from django.core.management import call_command; started = time.perf_counter(); "
    "call_command(*sys.argv[1:]); print(f'SECONDS {time.perf_counter() - started:.3f}')"
)


def manage(code: Path, url: str, *args: str) -> float:
    """Run the management command ``args`` of ``code`` against ``url``; returns its seconds."""
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-only",
        "DEBUG": "0",
        "REDIS_URL": "",
        "DJANGO_SETTINGS_MODULE": "searchop_site.settings",
        "PYTHONPATH": str(code),
    }
    env.pop("TEST_DATABASE_NAME", None)
    result = subprocess.run(
        [sys.executable, "-c", TIMED, *args], cwd=code, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(
            f"manage.py {' '.join(args)} failed in {code}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return float(result.stdout.strip().splitlines()[-1].removeprefix("SECONDS "))


def step(number: int, total: int, title: str) -> None:
    print(f"\n==> [{number}/{total}] {title}", flush=True)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f} to {max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--import-events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--plain-ref", default=None, help="the code before partitioning (a git ref)")
    parser.add_argument("--regenerate", action="store_true", help="generate the shop even when present")
    parser.add_argument("--drop", action="store_true", help="drop the benchmark databases at the end")
    parser.add_argument("--no-write", action="store_true", help="print only, leave the docs alone")
    parser.add_argument("--output", default=str(ROOT / "docs" / "bench_partitioning.md"))
    args = parser.parse_args()
    plain_url, partitioned_url = database_url("plain"), database_url("partitioned")
    ref = args.plain_ref or default_plain_ref()
    workdir = Path(tempfile.mkdtemp(prefix="bench-partitioning-"))
    code = {"plain": plain_code(ref, workdir / "plain"), "partitioned": ROOT}
    url = {"plain": plain_url, "partitioned": partitioned_url}
    total = 5

    step(1, total, f"Plain tables (code at {ref[:12]}): {args.events:,} events in {name_of(plain_url)}")
    present = admin(
        sql.SQL("SELECT 1 FROM pg_database WHERE datname = {}").format(sql.Literal(name_of(plain_url)))
    )
    if args.regenerate or not present:
        for name in (name_of(partitioned_url), name_of(plain_url)):
            admin(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
        admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name_of(plain_url))))
        manage(code["plain"], plain_url, "migrate", "--noinput", "-v", "0")
        seconds = manage(
            code["plain"], plain_url, "generate_synthetic_data", "--events", str(args.events),
            "--products", "20000", "--users", "100000", "--seed", "42",
        )  # fmt: skip
        print(f"    generated in {seconds:.0f} s")
    events = admin("SELECT count(*) FROM catalog_event", dbname=name_of(plain_url))[0][0]
    print(f"    {events:,} events")

    step(2, total, f"Partitioned: a copy of it migrated by this code ({name_of(partitioned_url)})")
    admin(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name_of(partitioned_url))))
    admin(
        sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name_of(partitioned_url)), sql.Identifier(name_of(plain_url))
        )
    )
    migration_seconds = manage(ROOT, partitioned_url, "migrate", "--noinput", "-v", "0")
    months = admin(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'catalog_event'::regclass",
        dbname=name_of(partitioned_url),
    )[0][0]
    print(f"    migrated in {migration_seconds:.0f} s: {months} partitions of catalog_event")

    step(
        3,
        total,
        f"{args.repeat} round(s): build_features, then import_events of {args.import_events:,} new events",
    )
    times: dict[tuple[str, str], list[float]] = {}
    for round_number in range(1, args.repeat + 1):
        csv = workdir / f"import-{round_number}.csv"
        events_generate(csv, args.import_events, seed=1000 + round_number)
        for variant in ("plain", "partitioned"):
            for what, command in (("features", ["build_features"]), ("import", ["import_events", str(csv)])):
                seconds = manage(code[variant], url[variant], *command)
                times.setdefault((variant, what), []).append(seconds)
                print(f"    round {round_number} {variant:<11} {what:<8} {seconds:6.1f} s", flush=True)
        csv.unlink()

    step(4, total, "Dropping the oldest month: prune (partitioned) against DELETE (plain)")
    oldest = admin("SELECT min(timestamp) FROM catalog_event", dbname=name_of(plain_url))[0][0]
    cut = f"{oldest.year + (oldest.month == 12)}-{oldest.month % 12 + 1:02d}-01"
    started = time.perf_counter()
    for table in ("catalog_event", "catalog_searchrequest"):
        admin(f"DELETE FROM {table} WHERE timestamp < '{cut}'", dbname=name_of(plain_url))
    delete_seconds = time.perf_counter() - started
    prune_seconds = manage(ROOT, partitioned_url, "prune", "--before", cut)
    print(f"    before {cut}: DELETE {delete_seconds:.1f} s, prune {prune_seconds:.1f} s")

    step(5, total, "Report")
    rows = [
        "| step | plain: median (range), s | partitioned: median (range), s | partitioned / plain |",
        "|---|---:|---:|---:|",
    ]
    for what, label in (
        ("features", f"`build_features` over {events:,}+ events"),
        ("import", f"`import_events` of {args.import_events:,} new events"),
    ):
        plain, partitioned = times[("plain", what)], times[("partitioned", what)]
        ratio = statistics.median(partitioned) / statistics.median(plain)
        rows.append(f"| {label} | {spread(plain)} | {spread(partitioned)} | **{ratio:.2f}** |")
    rows.append(
        f"| dropping the oldest month (before {cut}) | DELETE: {delete_seconds:.2f} | prune: {prune_seconds:.2f} | |"
    )
    notes = (
        f"{args.repeat} rounds, plain and partitioned in turn; each command timed in a process of "
        f"its own, without Django's start-up. The partitioning migration took {migration_seconds:.0f} s on "
        f"{events:,} events ({months} monthly partitions). Plain: the code at `{ref[:12]}`. "
        f"{platform.node()}, {os.cpu_count()} cores, PostgreSQL "
        f"{admin('SHOW server_version')[0][0]}; a machine shared with other work while it ran, so "
        "the ranges are wide and the medians are the figures to read."
    )
    print("\n".join(rows) + "\n\n" + notes)
    if not args.no_write:
        block_write(Path(args.output), rows, notes)
    if args.drop:
        for name in (name_of(partitioned_url), name_of(plain_url)):
            admin(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))


if __name__ == "__main__":
    main()
