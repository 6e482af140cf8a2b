"""Fixtures of the fault suite: a throw-away PostgreSQL cluster and Redis server (a test may
stop them; the shared ones are never touched), a database on that cluster, migrated and
seeded with a catalog, API keys and a production model, and gunicorn serving it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.db import connection

from catalog.synthetic import SyntheticConfig
from tests.faults.support import (
    ROOT,
    Gunicorn,
    ThrowawayPostgres,
    ThrowawayRedis,
    manage,
    project_env,
    until,
)


@pytest.fixture(scope="session")
def postgres() -> ThrowawayPostgres:
    # Not under pytest's temporary directory: as root, that is closed to the postgres user.
    cluster = ThrowawayPostgres.create(Path(tempfile.mkdtemp(prefix="searchop-faults-pg-")))
    yield cluster
    cluster.destroy()


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> ThrowawayRedis:
    server = ThrowawayRedis(directory=tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@dataclass(frozen=True)
class Shop:
    """The seeded database: where it is, its API key and its product ids."""

    database_url: str
    api_key: str
    limited_key: str
    products: list[str]
    candidates: list[int]  # primary keys of the candidate model versions

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Api-Key {key or self.api_key}"}

    def rank_body(self, n: int = 0) -> dict:
        products = [
            {"id": pid, "title": "Trail running shoe", "price": 50, "category": "Running Shoes"}
            for pid in self.products[:8]
        ]
        return {"query": "trail shoe", "user_id": f"U{n % 50}", "products": products}

    def env(self, redis_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
        return project_env(database_url=self.database_url, redis_url=redis_url, var_dir=var_dir, **extra)


@pytest.fixture(scope="session")
def shop(postgres, tmp_path_factory) -> Shop:
    """A database on the throw-away cluster: migrated, with 40 products, a key and a model."""
    postgres.sql("postgres", "CREATE DATABASE shop")
    env = project_env(
        database_url=postgres.url("shop"), redis_url="", var_dir=tmp_path_factory.mktemp("seed-var")
    )
    manage(env, "migrate", "--noinput", "-v", "0")
    seeded = subprocess.run(
        [sys.executable, "-m", "tests.faults.seed"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert seeded.returncode == 0, seeded.stderr[-4000:]
    data = json.loads(seeded.stdout.strip().splitlines()[-1])
    return Shop(database_url=postgres.url("shop"), **data)


@pytest.fixture(scope="session")
def web(shop, redis_server, tmp_path_factory) -> Gunicorn:
    """gunicorn as deployed (two workers, API keys on) on the seeded database and the
    throw-away Redis, with a key cache of 2 s (so every worker looks its key up again during
    a 10 s outage) and a worker timeout of 10 s (so a blocked worker would be killed while a
    test watches)."""
    directory = tmp_path_factory.mktemp("web")
    manage(
        shop.env(redis_url="", var_dir=directory / "var"), "collectstatic", "--noinput", "-v", "0"
    )  # the admin's
    env = shop.env(
        redis_url=redis_server.url(0),
        var_dir=directory / "var",
        SEARCHOP_API_KEY_CACHE_SECONDS="2",
        GUNICORN_TIMEOUT="10",
    )
    server = Gunicorn.start(env, directory)
    # Warm: every worker serves its model compiled (compiling takes the CPU for seconds).
    until(
        lambda: all("(compiled)" in server.get("/ready").json.get("reason", "") for _ in range(20)),
        what="both workers serve the compiled model",
        timeout=120,
        every=1,
    )
    yield server
    server.stop()


# The pipeline of the in-process tests, quick: small trees, few resamples, default windows.
QUICK_PIPELINE = {
    "SEARCHOP_EVAL_DAYS": "14",
    "SEARCHOP_TRAIN_DAYS": "28",
    "SEARCHOP_VALIDATION_DAYS": "5",
    "SEARCHOP_BOOTSTRAP_RESAMPLES": "50",
    "SEARCHOP_NUM_BOOST_ROUND": "20",
}
SMALL_SHOP = SyntheticConfig(products=120, categories=4, users=60, events=6_000, days=56, seed=3)


@pytest.fixture
def test_db_env(transactional_db, tmp_path):
    """``env(redis_url, **extra)``: the environment of a project process on this test's
    database (the test's rows are committed: ``transactional_db``), with the quick pipeline."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    database_url = urlunsplit(parts._replace(path=f"/{connection.settings_dict['NAME']}"))

    def env(redis_url: str = "", **extra: str) -> dict[str, str]:
        return project_env(
            database_url=database_url,
            redis_url=redis_url,
            var_dir=tmp_path / "var",
            **QUICK_PIPELINE,
            **extra,
        )

    return env


@pytest.fixture
def broker(redis_server) -> str:
    """Celery's broker for a worker test: a database of the throw-away Redis, emptied first,
    so a worker on the default queue meets no message of an earlier test."""
    url = redis_server.url(1)
    store = redis.Redis.from_url(url)
    store.flushdb()
    store.close()
    return url


@pytest.fixture
def celery_processes():
    """Start Celery workers and beats with ``celery_processes.append(...)``; all are stopped
    after the test."""
    started: list = []
    yield started
    for process in started:
        process.stop()
