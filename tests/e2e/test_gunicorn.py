"""The production configuration, really started: ``gunicorn -c searchop_site/gunicorn.conf.py
searchop_site.wsgi`` with two workers against the test database, DEBUG off.

What only a real multi-process server shows: the Prometheus multiprocess directory is
emptied when the master starts, ``/metrics`` adds up what every worker observed, and a
worker killed outright is replaced while ``/metrics`` keeps working and drops the dead
worker's live gauges (``child_exit`` -> ``mark_process_dead``).

The test's rows are committed (``transaction=True``): the workers have their own database
connections.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from catalog.models import Product

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 90
RANK_REQUESTS = 60
MAX_ROUNDS = 10
CANDIDATES = 5
STALE_FILE = "counter_999999.db"


def database_url() -> str:
    """DATABASE_URL with the test database's name in place of the development one."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{connection.settings_dict['NAME']}"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (gunicorn's workers), from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        state, ppid = stat.rpartition(")")[2].split()[:2]
        if int(ppid) == pid and state != "Z":
            found.add(int(entry.name))
    return found


@dataclass
class Server:
    process: subprocess.Popen
    url: str
    metrics_dir: Path
    log: Path
    access_log: Path

    def get(self, path: str) -> tuple[int, bytes]:
        return self._open(urllib.request.Request(self.url + path))

    def post_json(self, path: str, body: dict) -> tuple[int, bytes]:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        return self._open(request)

    def _open(self, request: urllib.request.Request) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    def workers(self) -> set[int]:
        return children(self.process.pid)

    def metrics(self) -> dict[str, list]:
        status, body = self.get("/metrics")
        assert status == 200, body[:2000]
        samples: dict[str, list] = {}
        for family in text_string_to_metric_families(body.decode()):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append(sample)
        return samples

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def until(condition, *, what: str, server: Server, timeout: float = START_TIMEOUT_SECONDS):
    """Poll ``condition`` until it returns something true; fail with the server's log."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"gunicorn exited with {server.process.returncode}:\n{server.tail()}")
        try:
            result = condition()
        except (OSError, urllib.error.URLError):
            result = None
        if result:
            return result
        time.sleep(0.2)
    pytest.fail(f"{what}: not within {timeout:g} s; gunicorn said:\n{server.tail()}")


@pytest.fixture
def server(transactional_db, tmp_path):
    """gunicorn with the repository's config, two workers, a fresh metrics directory that
    holds a stale file from "an earlier run"; stopped with SIGTERM (a graceful shutdown)."""
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    (metrics_dir / STALE_FILE).write_bytes(b"left by a previous master")
    port = free_port()
    log, access_log = tmp_path / "gunicorn.log", tmp_path / "access.log"
    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "SECRET_KEY": "e2e-test-secret",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SEARCHOP_REQUIRE_API_KEY": "0",
        "SEARCHOP_VAR_DIR": str(tmp_path / "var"),
        "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": "2",
        "GUNICORN_ACCESSLOG": str(access_log),
        # The access log names the worker (%(p)s) that served each request. No control socket:
        # its default path (~/.gunicorn/gunicorn.ctl) is shared with any other gunicorn here.
        "GUNICORN_CMD_ARGS": "--access-logformat='%(p)s %(m)s %(U)s %(s)s' --no-control-socket",
    }
    command = [sys.executable, "-m", "gunicorn", "-c", "searchop_site/gunicorn.conf.py", "searchop_site.wsgi"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield Server(process, f"http://127.0.0.1:{port}", metrics_dir, log, access_log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def rank_body(i: int) -> dict:
    return {
        "query": "trail shoe",
        "user_id": f"U{i}",
        "products": [
            {"id": str(j), "title": f"Trail shoe {j}", "price": 50 + j, "category": "Shoes"}
            for j in range(CANDIDATES)
        ],
    }


def served_by(server: Server, path: str) -> dict[int, int]:
    """Requests to ``path`` per worker pid, from the access log."""
    counts: dict[int, int] = {}
    for line in server.access_log.read_text().splitlines():
        pid, _, request_path, _ = line.split()  # "<1234> POST /api/rank 200"
        if request_path == path:
            counts[int(pid.strip("<>"))] = counts.get(int(pid.strip("<>")), 0) + 1
    return counts


def gauge_pids(server: Server, samples: dict[str, list] | None = None) -> set[int]:
    """The workers with a live ``searchop_model_version_served`` gauge."""
    samples = samples if samples is not None else server.metrics()
    return {int(sample.labels["pid"]) for sample in samples.get("searchop_model_version_served", [])}


def sample_value(samples: dict[str, list], name: str) -> float:
    return sum(sample.value for sample in samples.get(name, []))


@pytest.mark.django_db(transaction=True)
def test_two_workers_serve_and_metrics_add_up_across_them_and_survive_a_killed_worker(server):
    Product.objects.bulk_create(
        Product(external_id=str(j), title=f"Trail shoe {j}", category="Shoes", price=50 + j) for j in range(3)
    )

    # 1. Up: alive at once, ready once the workers loaded the (fallback) ranking state.
    until(lambda: server.get("/health")[0] == 200, what="/health answers 200", server=server)
    assert not (server.metrics_dir / STALE_FILE).exists()  # emptied when the master started
    status, body = until(
        lambda: (reply := server.get("/ready"))[0] == 200 and reply, what="/ready answers 200", server=server
    )
    assert json.loads(body)["fallback"] is True
    workers = until(lambda: len(found := server.workers()) == 2 and found, what="two workers", server=server)
    # Each worker sets its live gauge once it has loaded its state: then both take requests.
    until(lambda: gauge_pids(server) == workers, what="both workers loaded", server=server)

    # 2. Requests from four connections at once, in rounds until both workers have served
    # (threaded workers each accept connections while they serve: which one takes a
    # connection is the kernel's choice, so a round may go to one worker alone).
    sent = 0
    for _ in range(MAX_ROUNDS):
        with ThreadPoolExecutor(max_workers=4) as pool:
            replies = list(
                pool.map(lambda i: server.post_json("/api/rank", rank_body(i)), range(RANK_REQUESTS))
            )
        sent += RANK_REQUESTS
        assert [status for status, _ in replies] == [200] * RANK_REQUESTS, replies[:3]
        # (a worker writes its access-log line after the response has gone)
        per_worker = until(
            lambda expected=sent: (
                sum((counts := served_by(server, "/api/rank")).values()) == expected and counts
            ),
            what="every request in the access log",
            server=server,
            timeout=10,
        )
        if set(per_worker) == workers:
            break
    assert json.loads(replies[0][1])["num_candidates"] == CANDIDATES
    assert set(per_worker) == workers, per_worker

    # 3. /metrics, served by one worker, counts every request of both.
    samples = server.metrics()
    assert sample_value(samples, "searchop_rank_candidates_count") == sent
    assert sample_value(samples, "searchop_rank_candidates_sum") == sent * CANDIDATES
    assert sample_value(samples, "searchop_rank_fallbacks_total") == sent
    assert gauge_pids(server, samples) == workers  # a live gauge per worker ("liveall")

    # 4. A worker killed outright: gunicorn starts another; /metrics still answers, the dead
    # worker's counts stay in the totals and its live gauge is gone at once (the replacement's
    # appears once it has booted, which this does not wait for).
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    until(
        lambda: len(found := server.workers()) == 2 and victim not in found,
        what="a replacement worker",
        server=server,
    )
    samples = server.metrics()
    served = gauge_pids(server, samples)
    assert victim not in served
    assert workers - {victim} <= served
    assert sample_value(samples, "searchop_rank_candidates_count") == sent
    status, _ = server.post_json("/api/rank", rank_body(0))
    assert status == 200
