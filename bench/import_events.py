#!/usr/bin/env python
"""Benchmark of the events importer against PostgreSQL's own bulk load (a script, not a test).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/searchop_bench .venv/bin/python bench/import_events.py

1. Generate N events (default 1,000,000) with the synthetic generator: events/s of the
   generator alone, then write them to a CSV in the importer's columns.
2. ``manage.py import_events`` of that CSV into an empty ``catalog_event``: events/s.
3. A second import of the same file (every event already stored): events/s.
4. ``psql \\copy`` of the same CSV into a table made ``LIKE catalog_event INCLUDING ALL``
   (same unique constraint and indexes): events/s.
5. The ratio import / \\copy (the goal is >= 0.5), and a markdown table, also written to
   docs/bench_import.md.

The database is created when missing and migrated; the events table is emptied first.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/searchop_bench")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "searchop_site.settings")

from bench.markdown import block_write  # noqa: E402 - after the path set-up

COPY_TABLE = "bench_copy_event"


def database_ensure(url: str) -> None:
    """Create the database named by ``url`` if it is not there yet."""
    import psycopg
    from psycopg import sql

    info = psycopg.conninfo.conninfo_to_dict(url)
    name = info.pop("dbname")
    with psycopg.connect(
        psycopg.conninfo.make_conninfo(**info, dbname="postgres"), autocommit=True
    ) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
            print(f"created database {name}")


def events_generate(path: Path, events: int, seed: int) -> tuple[int, float, float]:
    """Write the generator's events as the importer's CSV; returns (events, generator s, total s)."""
    import numpy as np

    from catalog.columns import EVENTS
    from catalog.synthetic import Generator, SyntheticConfig

    columns = list(EVENTS.file_names)
    started = time.perf_counter()
    generator = Generator(SyntheticConfig(events=events, products=5_000, users=20_000, seed=seed))
    generating = time.perf_counter() - started
    written = 0
    with path.open("w", newline="") as out:
        out.write(",".join(columns) + "\n")
        for chunk in generator.chunks():
            tick = time.perf_counter()
            frame = chunk.events
            generating += time.perf_counter() - tick
            naive = frame["timestamp"].dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
            frame = frame.assign(timestamp=np.datetime_as_string(naive, unit="us", timezone="UTC"))
            frame[columns].to_csv(out, header=False, index=False)
            written += len(frame)
    return written, generating, time.perf_counter() - started


def generator_only(events: int, seed: int) -> tuple[int, float]:
    from catalog.synthetic import Generator, SyntheticConfig

    started = time.perf_counter()
    generator = Generator(SyntheticConfig(events=events, products=5_000, users=20_000, seed=seed))
    produced = sum(len(chunk.events) for chunk in generator.chunks())
    return produced, time.perf_counter() - started


def sql_run(statement: str) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(statement)


def import_timed(path: Path) -> tuple[float, str]:
    from django.core.management import call_command

    out = io.StringIO()
    sql_run("CHECKPOINT")
    started = time.perf_counter()
    call_command("import_events", str(path), stdout=out)
    return time.perf_counter() - started, out.getvalue()


def copy_timed(path: Path, url: str) -> float:
    from catalog.columns import EVENTS
    from catalog.models import Event

    table = Event._meta.db_table
    sql_run(f"DROP TABLE IF EXISTS {COPY_TABLE}")
    sql_run(f"CREATE TABLE {COPY_TABLE} (LIKE {table} INCLUDING ALL)")
    # \copy fills what the file has; the rest as the importer would.
    derived = "".join(f"ALTER {EVENTS.db_column(c.name)} SET DEFAULT '', " for c in EVENTS if not c.in_file)
    sql_run(f"ALTER TABLE {COPY_TABLE} {derived}ALTER ingested_at SET DEFAULT now()")
    sql_run("CHECKPOINT")
    columns = ", ".join(f'"{EVENTS.db_column(name)}"' for name in EVENTS.file_names)
    text_columns = ", ".join(EVENTS.db_column(name) for name in EVENTS.text if EVENTS[name].in_file)
    command = (
        f"\\copy {COPY_TABLE} ({columns}) FROM '{path}' "
        f"WITH (FORMAT csv, HEADER true, FORCE_NOT_NULL ({text_columns}))"
    )
    started = time.perf_counter()
    subprocess.run(["psql", url, "-v", "ON_ERROR_STOP=1", "-q", "-c", command], check=True)
    elapsed = time.perf_counter() - started
    sql_run(f"DROP TABLE {COPY_TABLE}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--keep", action="store_true", help="keep the CSV file")
    parser.add_argument("--output", default=str(ROOT / "docs" / "bench_import.md"))
    args = parser.parse_args()
    url = os.environ["DATABASE_URL"]
    database_ensure(url)

    import django

    django.setup()
    from django.core.management import call_command

    from catalog.models import Event

    call_command("migrate", verbosity=0)
    workdir = Path(tempfile.mkdtemp(prefix="searchop-bench-"))
    path = workdir / "events.csv"

    print(f"[1] generator only, {args.events:,} events ...", flush=True)
    produced, generator_seconds = generator_only(args.events, args.seed)
    print(
        f"    {produced:,} events in {generator_seconds:.1f} s = {produced / generator_seconds:,.0f} events/s"
    )
    print("[2] generator + CSV writing ...", flush=True)
    written, _, write_seconds = events_generate(path, args.events, args.seed)
    size_mb = path.stat().st_size / 1e6
    print(f"    {written:,} events, {size_mb:,.0f} MB in {write_seconds:.1f} s")

    sql_run(f"TRUNCATE {Event._meta.db_table}")
    print("[3] import_events into an empty table ...", flush=True)
    import_seconds, output = import_timed(path)
    steps = _step_lines(output)
    print("\n".join(steps) + "\n" + output.strip().splitlines()[-1])
    stored = Event.objects.count()
    assert stored == written, f"{stored} stored, {written} written"
    print("[4] import_events of the same file again (all already stored) ...", flush=True)
    again_seconds, output = import_timed(path)
    print("\n".join(_step_lines(output)) + "\n" + output.strip().splitlines()[-1])
    assert Event.objects.count() == written
    sql_run(f"TRUNCATE {Event._meta.db_table}")
    print("[5] psql \\copy into a table LIKE catalog_event INCLUDING ALL ...", flush=True)
    copy_seconds = copy_timed(path, url)
    print(f"    {copy_seconds:.1f} s")

    ratio = copy_seconds / import_seconds
    rows = [
        ("synthetic generator alone (set-up included, no I/O)", generator_seconds),
        ("generator + writing the CSV (pandas `to_csv`)", write_seconds),
        ("`import_events` of the CSV, empty table", import_seconds),
        ("`import_events` again (every event already stored)", again_seconds),
        ("`psql \\copy` of the same CSV, same indexes", copy_seconds),
    ]
    table = [
        "| step | seconds | events/s |",
        "|---|---:|---:|",
        *(f"| {name} | {seconds:,.1f} | {written / seconds:,.0f} |" for name, seconds in rows),
        f"| **import / \\copy** (goal >= 0.5) | | **{ratio:.2f}** |",
    ]
    machine = (
        f"{written:,} events ({size_mb:,.0f} MB CSV), {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"{_server_version()}"
    )
    machine += "\n\nThe import's own steps (first run):\n\n" + "\n".join(f"    {line}" for line in steps)
    print("\n" + "\n".join(table) + "\n\n" + machine)
    block_write(Path(args.output), table, machine)
    if not args.keep:
        path.unlink()
        workdir.rmdir()


def _step_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("[") and ": done" in line]


def _server_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return "PostgreSQL " + cursor.fetchone()[0].split()[0]


if __name__ == "__main__":
    main()
