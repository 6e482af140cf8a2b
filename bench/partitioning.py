#!/usr/bin/env python
"""Partitioned event tables against today's plain ones, in the same run (a script, not a test).

    nice .venv/bin/python bench/partitioning.py          # 10M events, 1M per import, 3 rounds

1. Plain: the code before partitioning (``git archive`` of ``--plain-ref``, by default the
   newest commit on this branch's first-parent line without ``catalog/migrations/0004``; on a
   branch that merged main since, pass ``--plain-ref main``), its migrations applied to the database
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
from dataclasses import dataclass, field
from pathlib import Path

import django
import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/searchop_bench_partitions")
# Every event of the database is read (the figures are per million events): a history longer
# than any generated span instead of the 14 days a deployment reads.
os.environ.setdefault("SEARCHOP_HISTORY_DAYS", "36500")

from bench.markdown import block_write  # noqa: E402

from bench.import_events import events_generate  # noqa: E402 - after the path set-up

FIRST_PARTITIONED = "catalog/migrations/0004_event_and_request_keys_hold_their_time.py"


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


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout.strip()


def default_plain_ref() -> str:
    """The newest commit on this branch's first-parent line without the partitioning."""
    for commit in git("rev-list", "--first-parent", "HEAD").split():
        exists = subprocess.run(
            ["git", "cat-file", "-e", f"{commit}:{FIRST_PARTITIONED}"], cwd=ROOT, capture_output=True
        )
        if exists.returncode:
            return commit
    raise SystemExit("no commit without the partitioning: pass --plain-ref")


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


@dataclass
class Run:
    args: argparse.Namespace
    ref: str
    workdir: Path
    code: dict[str, Path]
    url: dict[str, str]
    events: int = 0
    migration_seconds: float = 0.0
    months: int = 0
    times: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    cut: str = ""
    delete_seconds: float = 0.0
    prune_seconds: float = 0.0

    def database(self, variant: str) -> str:
        return name_of(self.url[variant])


def plain_prepare(run: Run) -> None:
    """The plain database, migrated and filled by the code before partitioning (kept between runs)."""
    name = run.database("plain")
    present = admin(sql.SQL("SELECT 1 FROM pg_database WHERE datname = {}").format(sql.Literal(name)))
    if run.args.regenerate or not present:
        for variant in ("partitioned", "plain"):
            admin(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(run.database(variant))))
        admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        manage(run.code["plain"], run.url["plain"], "migrate", "--noinput", "-v", "0")
        seconds = manage(
            run.code["plain"], run.url["plain"], "generate_synthetic_data", "--events", str(run.args.events),
            "--products", "20000", "--users", "100000", "--seed", "42",
        )  # fmt: skip
        print(f"    generated in {seconds:.0f} s")
    run.events = admin("SELECT count(*) FROM catalog_event", dbname=name)[0][0]
    print(f"    {run.events:,} events")


def partitioned_prepare(run: Run) -> None:
    """A copy of the plain database, migrated (partitioned) by this code: the migration is timed."""
    name = run.database("partitioned")
    admin(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name)))
    admin(
        sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(run.database("plain"))
        )
    )
    run.migration_seconds = manage(ROOT, run.url["partitioned"], "migrate", "--noinput", "-v", "0")
    run.months = admin(
        "SELECT count(*) FROM pg_inherits WHERE inhparent = 'catalog_event'::regclass", dbname=name
    )[0][0]
    print(f"    migrated in {run.migration_seconds:.0f} s: {run.months} partitions of catalog_event")


def rounds_run(run: Run) -> None:
    for round_number in range(1, run.args.repeat + 1):
        csv = run.workdir / f"import-{round_number}.csv"
        events_generate(csv, run.args.import_events, seed=1000 + round_number)
        for variant in ("plain", "partitioned"):
            for what, command in (("features", ["build_features"]), ("import", ["import_events", str(csv)])):
                seconds = manage(run.code[variant], run.url[variant], *command)
                run.times.setdefault((variant, what), []).append(seconds)
                print(f"    round {round_number} {variant:<11} {what:<8} {seconds:6.1f} s", flush=True)
        csv.unlink()


def oldest_month_drop(run: Run) -> None:
    """The oldest month of both tables: ``DELETE`` on the plain database, ``prune`` on the other."""
    oldest = admin("SELECT min(timestamp) FROM catalog_event", dbname=run.database("plain"))[0][0]
    run.cut = f"{oldest.year + (oldest.month == 12)}-{oldest.month % 12 + 1:02d}-01"
    started = time.perf_counter()
    for table in ("catalog_event", "catalog_searchrequest"):
        admin(f"DELETE FROM {table} WHERE timestamp < '{run.cut}'", dbname=run.database("plain"))
    run.delete_seconds = time.perf_counter() - started
    run.prune_seconds = manage(ROOT, run.url["partitioned"], "prune", "--before", run.cut)
    print(f"    before {run.cut}: DELETE {run.delete_seconds:.1f} s, prune {run.prune_seconds:.1f} s")


def report(run: Run) -> tuple[list[str], str]:
    rows = [
        "| step | plain: median (range), s | partitioned: median (range), s | partitioned / plain |",
        "|---|---:|---:|---:|",
    ]
    for what, label in (
        ("features", f"`build_features` over {run.events:,}+ events"),
        ("import", f"`import_events` of {run.args.import_events:,} new events"),
    ):
        plain, partitioned = run.times[("plain", what)], run.times[("partitioned", what)]
        ratio = statistics.median(partitioned) / statistics.median(plain)
        rows.append(f"| {label} | {spread(plain)} | {spread(partitioned)} | **{ratio:.2f}** |")
    rows.append(
        f"| dropping the oldest month (before {run.cut}) | DELETE: {run.delete_seconds:.2f} "
        f"| prune: {run.prune_seconds:.2f} | |"
    )
    notes = (
        f"{run.args.repeat} rounds, plain and partitioned in turn; each command timed in a process "
        f"of its own, without Django's start-up. The partitioning migration took "
        f"{run.migration_seconds:.0f} s on {run.events:,} events ({run.months} monthly partitions). "
        f"Plain: the code at `{run.ref[:12]}`. {platform.node()}, {os.cpu_count()} cores, PostgreSQL "
        f"{admin('SHOW server_version')[0][0]}; a machine shared with other work while it ran, so "
        "the ranges are wide and the medians are the figures to read."
    )
    return rows, notes


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
    django.setup()  # the import files are written by the generator, through catalog's columns
    ref = git("rev-parse", args.plain_ref or default_plain_ref())
    workdir = Path(tempfile.mkdtemp(prefix="bench-partitioning-"))
    run = Run(
        args=args,
        ref=ref,
        workdir=workdir,
        code={"plain": plain_code(ref, workdir / "plain"), "partitioned": ROOT},
        url={"plain": database_url("plain"), "partitioned": database_url("partitioned")},
    )
    steps = (
        (
            f"Plain tables (code at {ref[:12]}): {args.events:,} events in {run.database('plain')}",
            plain_prepare,
        ),
        (
            f"Partitioned: a copy of it migrated by this code ({run.database('partitioned')})",
            partitioned_prepare,
        ),
        (
            f"{args.repeat} round(s): build_features, then import_events of {args.import_events:,} new events",
            rounds_run,
        ),
        ("Dropping the oldest month: prune (partitioned) against DELETE (plain)", oldest_month_drop),
    )
    for number, (title, function) in enumerate(steps, start=1):
        step(number, len(steps) + 1, title)
        function(run)
    step(len(steps) + 1, len(steps) + 1, "Report")
    rows, notes = report(run)
    print("\n".join(rows) + "\n\n" + notes)
    if not args.no_write:
        block_write(Path(args.output), rows, notes)
    if args.drop:
        for variant in ("partitioned", "plain"):
            admin(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(run.database(variant))))


if __name__ == "__main__":
    main()
