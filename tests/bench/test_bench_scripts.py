"""Every script under ``bench/`` runs, with tiny sizes and its own databases, so that none can
rot; the figures are the full runs' business (README, *Benchmarks*). Each script runs as a
child process, as a person would run it, and its databases are dropped afterwards."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_SECONDS = 600


def database_url(suffix: str) -> str:
    """A database of this test run's own (named after the test database), for one script."""
    default = settings.DATABASES["default"]
    name = default["TEST"]["NAME"] or f"test_{default['NAME']}"
    return f"postgres://{default['USER'] or 'postgres'}@{default['HOST']}:{default['PORT'] or 5432}/{name}_{suffix}"


def drop(url: str) -> None:
    info = psycopg.conninfo.conninfo_to_dict(url)
    name = info.pop("dbname")
    with psycopg.connect(
        psycopg.conninfo.make_conninfo(**info, dbname="postgres"), autocommit=True
    ) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run(script: str, *args: str, **env: str) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    assert result.returncode == 0, f"bench/{script} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout


@pytest.fixture
def databases() -> Iterator[list[str]]:
    """The databases a test's scripts create, dropped at the end."""
    created: list[str] = []
    yield created
    for url in created:
        drop(url)


@pytest.fixture(scope="module")
def rank_database() -> Iterator[str]:
    """The two rank benchmarks' database (a tiny shop and model, made by the first to run)."""
    url = database_url("bench_rank")
    yield url
    drop(url)


def test_the_in_process_benchmark_reports_the_cpu_of_each_endpoint(rank_database):
    out = run(
        "rank_in_process.py", "--smoke", "--requests=20", "--rounds=1", BENCH_DATABASE_URL=rank_database
    )
    assert "rank costs" in out
    assert "two rankers" in out


def test_the_rank_benchmark_measures_every_figure_in_one_run(rank_database):
    out = run("rank.py", "--smoke", BENCH_DATABASE_URL=rank_database, BENCH_PORT=str(free_port()))
    for figure in ("Rank / floor", "rank p99", "two rankers / one", "in process, rank costs", "| 1,000 |"):
        assert figure in out, out[-3000:]
    assert "| features |" in out


def test_the_features_and_training_benchmarks_run_on_a_tiny_shop(databases):
    base = database_url("bench_features")
    databases.append(f"{base}_3k")
    out = run(
        "build_features.py", "--events=3000", "--products=100", "--users=200", "--repeat=1", "--no-write",
        DATABASE_URL=base,
    )  # fmt: skip
    assert "per million" in out, out[-3000:]
    out = run("train.py", "--events=3000", "--repeat=1", "--no-write", DATABASE_URL=base)
    assert "lightgbm.train" in out, out[-3000:]


def test_the_import_benchmark_writes_its_block_of_the_docs(databases, tmp_path):
    url = database_url("bench_import")
    databases.append(url)
    output = tmp_path / "bench_import.md"
    run("import_events.py", "--events=3000", f"--output={output}", DATABASE_URL=url)
    text = output.read_text()
    assert "<!-- bench:begin -->" in text
    assert "import / \\copy" in text


def test_the_experiment_power_benchmark_runs_on_a_tiny_shop(databases):
    url = database_url("bench_power")
    databases.append(url)
    out = run(
        "experiment_power.py", "--smoke", "--searches=300", "--experiments=20", "--cap=20000",
        BENCH_DATABASE_URL=url,
    )  # fmt: skip
    assert "| model vs |" in out, out[-3000:]
    for other in ("bm25", "popularity", "weaker model"):
        assert f"| {other} |" in out


def test_the_admin_pages_benchmark_times_every_page_against_the_admin_index(databases):
    url = database_url("bench_admin_pages")
    databases.append(url)
    out = run(
        "admin_pages.py", "--events=2000", "--versions=3", "--warmup=1", "--repeat=2", "--no-write",
        DATABASE_URL=url,
    )  # fmt: skip
    assert "| admin-index (reference) | `/admin/` |" in out, out[-3000:]
    for page in ("| landing |", "| metric-history |", "| model-version-production |"):
        assert page in out, out[-3000:]


def test_the_dashboard_benchmark_times_every_range_cold_with_and_without_the_roll_up(databases):
    url = database_url("bench_dashboard")
    databases.append(url)
    out = run(
        "dashboard.py", "--searches=3000", "--events=9000", "--warmup=0", "--repeat=1", "--no-write",
        DATABASE_URL=url,
    )  # fmt: skip
    assert "first run 168 hours" in out, out[-3000:]
    for window in ("hour", "day", "week"):
        for mode in ("live (reference)", "roll-up"):
            assert f"| {window} | {mode} |" in out, out[-3000:]


def test_the_drift_sampling_benchmark_reports_its_cost(rank_database):
    out = run("drift_sampling.py", "--smoke", "--requests=20", "--rounds=1", BENCH_DATABASE_URL=rank_database)
    assert "drift sampling at the default share costs" in out
    assert "the call alone costs" in out
