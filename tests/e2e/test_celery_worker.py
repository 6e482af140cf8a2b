"""A real Celery worker, over the real Redis broker, runs the pipeline against the test database.

The worker is a separate process (``celery worker --pool=solo``) consuming a queue of its
own, so neither another test run nor another worker sharing this Redis can take the
message. The test's rows are committed (``transaction=True``) so that the worker, which
has its own database connection, sees them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from django.conf import settings
from django.db import connection

from catalog.services import synthetic_data_generate
from catalog.synthetic import SyntheticConfig
from training.models import PipelineRun
from training.tasks import pipeline_run_enqueue

ROOT = Path(__file__).resolve().parents[2]
SMALL_SHOP = SyntheticConfig(products=120, categories=4, users=60, events=6_000, days=56, seed=3)
TIMEOUT_SECONDS = 120


def test_database_url() -> str:
    """DATABASE_URL with the test database's name in place of the development one."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{connection.settings_dict['NAME']}"))


test_database_url.__test__ = False  # a helper, not a test


@pytest.fixture
def worker(transactional_db, tmp_path):
    """A worker on a unique queue, stopped (then killed, if it must be) and its queue
    deleted from Redis afterwards. Yields (queue, log path, process)."""
    if not settings.REDIS_URL:
        pytest.skip("needs REDIS_URL: the worker talks to a real broker")
    queue = f"test-e2e-{uuid.uuid4().hex[:12]}"
    log = tmp_path / "worker.log"
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        # The same quick pipeline as the in-process tests (the worker reads only the environment).
        "SEARCHOP_EVAL_DAYS": "14",
        "SEARCHOP_TRAIN_DAYS": "28",
        "SEARCHOP_VALIDATION_DAYS": "5",
        "SEARCHOP_BOOTSTRAP_RESAMPLES": "50",
        "SEARCHOP_NUM_BOOST_ROUND": "20",
    }
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "searchop_site",
        "worker",
        "--pool=solo",
        "-Q",
        queue,
        f"--hostname={queue}@%h",
        "--without-gossip",
        "--without-mingle",
        "--loglevel=INFO",
    ]
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        yield queue, log, process
    finally:
        process.terminate()  # a warm shutdown: the solo pool finishes its task first
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        broker = redis.Redis.from_url(settings.REDIS_URL)
        broker.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        broker.close()


def run_wait(process: subprocess.Popen, log: Path) -> PipelineRun:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        run = PipelineRun.objects.filter(status__in=["succeeded", "failed"]).first()
        if run is not None:
            return run
        if process.poll() is not None:
            pytest.fail(f"the worker exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        time.sleep(0.5)
    pytest.fail(f"no finished run after {TIMEOUT_SECONDS} s; the worker said:\n{log.read_text()[-4000:]}")


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_queued_pipeline_against_the_database(worker):
    queue, log, process = worker
    synthetic_data_generate(config=SMALL_SHOP)

    pipeline_run_enqueue(trigger=PipelineRun.Trigger.ADMIN, actor="admin:e2e", queue=queue)
    run = run_wait(process, log)

    assert run.status == PipelineRun.Status.SUCCEEDED, run.error
    assert (run.trigger, run.actor) == ("admin", "admin:e2e")
    assert run.model_version is not None
    assert run.decision["action"] in {"promoted", "rejected"}
    assert "training.tasks.pipeline_run_task" in log.read_text()  # the worker, not this process, ran it
