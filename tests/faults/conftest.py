"""Fixtures of the fault suite: a throw-away PostgreSQL cluster and Redis server (a test may
stop them; the shared ones are never touched) and a database on that cluster, migrated and
seeded with a catalog, an API key and a production model."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.support import ROOT, ThrowawayPostgres, ThrowawayRedis, manage, project_env


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
    products: list[str]

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
    return Shop(database_url=postgres.url("shop"), api_key=data["api_key"], products=data["products"])
