"""Hot swap: after a promote or a rollback every worker serves the new production version
within seconds, without a restart, and each request is served wholly by one version
(ranking.serving.state.ServingCache).

The cross-process test starts two real gunicorn servers (one worker each) on the test
database; the registry changes are made in this process and committed, as an operator's
would be.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
import requests
from django.conf import settings as django_settings
from django.db import connection

from catalog.models import SearchRequest
from ranking.models import ModelVersion
from ranking.services import model_version_promote, model_version_register, model_version_rollback
from ranking.serving.state import SERVING, ServingState, state_build
from tests.factories import ContractModelVersionFactory, ProductFactory, contract_register_kwargs
from tests.integration.api.support import RANK, post_json

SWAP_SECONDS = 10.0
PRODUCTS = [
    {"id": "P1", "title": "Trail running shoes", "price": 59.0, "category": "Running Shoes"},
    {"id": "P2", "title": "Leather office shoes", "price": 180.0, "category": "Formal Shoes"},
    {"id": "NEW", "title": "Road running shoes", "price": 95.0, "category": "Running Shoes"},
]
PAYLOAD = {"query": "running shoes", "products": PRODUCTS}


def catalog() -> None:
    for item in PRODUCTS[:2]:
        ProductFactory(
            external_id=item["id"], title=item["title"], price=item["price"], category=item["category"]
        )


def two_versions_with_the_first_in_production() -> tuple[ModelVersion, ModelVersion]:
    first = model_version_register(**contract_register_kwargs(seed=0))
    second = model_version_register(**contract_register_kwargs(seed=1))
    model_version_promote(version=first.version, actor="test", reason="first")
    return first, second


def served_version(client) -> int | None:
    response = post_json(client, RANK, PAYLOAD)
    assert response.status_code == 200, response.content
    return response.json()["model_version"]


def seconds_until(version: int, serve, timeout: float = 60.0) -> float:
    """Poll ``serve()`` until it answers ``version``; the seconds it took."""
    started = time.monotonic()
    while (served := serve()) != version:
        assert time.monotonic() - started < timeout, f"still serving v{served} after {timeout:g} s"
        time.sleep(0.05)
    return time.monotonic() - started


@pytest.mark.django_db(transaction=True)
def test_after_promote_and_rollback_the_worker_serves_the_new_version_within_seconds(client, settings):
    settings.SEARCHOP_MODEL_CHECK_SECONDS = 0.5
    catalog()
    first, second = two_versions_with_the_first_in_production()
    assert served_version(client) == first.version

    model_version_promote(version=second.version, actor="test", reason="better")
    promoted_after = seconds_until(second.version, lambda: served_version(client))
    model_version_rollback(actor="test", reason="worse in production")
    rolled_back_after = seconds_until(first.version, lambda: served_version(client))

    assert promoted_after < SWAP_SECONDS
    assert rolled_back_after < SWAP_SECONDS


@pytest.mark.django_db
def test_one_request_is_served_wholly_by_one_version_while_versions_swap(client):
    """A thread swaps the served state between two versions as fast as it can while
    requests run: each response's scores are those of the version it names, and its
    impression-log row names the same version."""
    catalog()
    first = ContractModelVersionFactory(model_text=contract_register_kwargs(seed=0)["model_text"])
    second = ContractModelVersionFactory(
        model_text=contract_register_kwargs(seed=1)["model_text"], status="archived"
    )
    states: list[ServingState] = [
        state_build((first.version, first.model_sha256, None)),
        state_build((second.version, second.model_sha256, None)),
    ]
    expected = {}
    for state in states:
        SERVING.reset(state)
        body = post_json(client, RANK, PAYLOAD).json()
        expected[state.model_version] = {item["id"]: item["raw_score"] for item in body["ranked_products"]}
    assert expected[first.version] != expected[second.version]

    swapping = threading.Event()
    swapping.set()

    def swap() -> None:
        i = 0
        while swapping.is_set():
            SERVING.reset(states[i % 2])
            i += 1
            time.sleep(0.0005)

    swapper = threading.Thread(target=swap)
    swapper.start()
    try:
        # Until both versions have answered (a loaded machine may schedule the swapper
        # rarely), within a bound.
        bodies = []
        while len(bodies) < 60 or (
            len({body["model_version"] for body in bodies}) < 2 and len(bodies) < 2000
        ):
            bodies.append(post_json(client, RANK, PAYLOAD).json())
    finally:
        swapping.clear()
        swapper.join()

    assert {body["model_version"] for body in bodies} == {first.version, second.version}
    for body in bodies:
        scores = {item["id"]: item["raw_score"] for item in body["ranked_products"]}
        assert scores == expected[body["model_version"]]
        logged = SearchRequest.objects.get(request_id=body["request_id"])
        assert logged.model_version == body["model_version"]


# ---------------------------------------------------------------------------------------
# Across two processes
# ---------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_environment(var_dir: Path) -> dict[str, str]:
    database = connection.settings_dict
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("SEARCHOP_", "PROMETHEUS_"))
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="searchop_site.settings",
        DATABASE_URL=(
            f"postgres://{database['USER']}:{database['PASSWORD'] or ''}@{database['HOST']}:"
            f"{database['PORT']}/{database['NAME']}"
        ),
        REDIS_URL=django_settings.REDIS_URL,
        SECRET_KEY="hot-swap-test",
        LOG_LEVEL="WARNING",
        SEARCHOP_VAR_DIR=str(var_dir),
        SEARCHOP_REQUIRE_API_KEY="0",
        SEARCHOP_IMPRESSION_LOG="off",
        SEARCHOP_COMPILED_INFERENCE="0",
        SEARCHOP_MODEL_CHECK_SECONDS="1",
    )
    return environment


class Server:
    def __init__(self, var_dir: Path, log: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "searchop_site.wsgi:application",
                "--workers=1",
                f"--bind=127.0.0.1:{self.port}",
                "--timeout=120",
            ],
            cwd=django_settings.BASE_DIR,
            env=server_environment(var_dir),
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )

    def wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"the server exited:\n{self.log.read_text()[-3000:]}"
            try:
                if requests.get(f"{self.url}/health", timeout=10).status_code == 200:
                    return
            except requests.RequestException:  # not listening yet, or the worker still booting
                pass
            time.sleep(0.2)
        raise AssertionError(
            f"the server did not answer within {timeout:g} s:\n{self.log.read_text()[-3000:]}"
        )

    def served_version(self) -> int | None:
        response = requests.post(
            f"{self.url}{RANK}",
            data=orjson.dumps(PAYLOAD),
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
        assert response.status_code == 200, response.text
        return response.json()["model_version"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def two_servers(transactional_db, tmp_path) -> Iterator[list[Server]]:
    servers = [Server(tmp_path, tmp_path / f"server-{i}.log") for i in range(2)]
    try:
        for server in servers:
            server.wait_until_up(timeout=120)
        yield servers
    finally:
        for server in servers:
            server.stop()


@pytest.mark.django_db(transaction=True)
def test_two_server_processes_both_switch_within_seconds_after_promote_and_after_rollback(two_servers):
    catalog()
    first, second = two_versions_with_the_first_in_production()
    for server in two_servers:
        assert server.served_version() == first.version

    def both() -> int | None:
        versions = {server.served_version() for server in two_servers}
        return versions.pop() if len(versions) == 1 else None

    model_version_promote(version=second.version, actor="test", reason="better")
    promoted_after = seconds_until(second.version, both)
    model_version_rollback(actor="test", reason="worse in production")
    rolled_back_after = seconds_until(first.version, both)

    assert promoted_after < SWAP_SECONDS, f"both served v{second.version} after {promoted_after:.1f} s"
    assert rolled_back_after < SWAP_SECONDS, f"both served v{first.version} after {rolled_back_after:.1f} s"
