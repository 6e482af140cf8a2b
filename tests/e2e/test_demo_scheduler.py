"""The demo's periodic tasks really run: a Celery worker and beat over kombu's filesystem
transport (``CELERY_BROKER_URL=filesystem://``, no broker server), as ``run.py demo`` starts
them. Beat sends the watchdog every two seconds here; the worker runs it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django_celery_beat.models import PeriodicTask

from tests.e2e.test_celery_worker import ROOT, test_database_url

TIMEOUT_SECONDS = 90


def celery(role: str, *, env: dict, log: Path) -> subprocess.Popen:
    extra = ["--pool=solo", "--without-gossip", "--without-mingle"] if role == "worker" else []
    with log.open("wb") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "searchop_site", role, "--loglevel=INFO", *extra],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_the_demo_worker_and_beat_run_the_schedule_over_the_filesystem_broker(tmp_path):
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "filesystem://",
        "SEARCHOP_VAR_DIR": str(tmp_path),
        "SEARCHOP_PIPELINE_WATCHDOG_SECONDS": "2",
    }
    worker_log, beat_log = tmp_path / "worker.log", tmp_path / "beat.log"
    worker = celery("worker", env=env, log=worker_log)
    beat = celery("beat", env=env, log=beat_log)
    try:
        deadline = time.monotonic() + TIMEOUT_SECONDS
        while time.monotonic() < deadline and "pipeline_watchdog_task" not in _succeeded(worker_log):
            for process, log in ((worker, worker_log), (beat, beat_log)):
                if process.poll() is not None:
                    pytest.fail(f"celery exited with {process.returncode}:\n{log.read_text()[-4000:]}")
            time.sleep(0.5)
    finally:
        stop(beat)
        stop(worker)

    assert "training.tasks.pipeline_watchdog_task" in _succeeded(worker_log), (
        f"the worker ran no watchdog in {TIMEOUT_SECONDS} s:\n{worker_log.read_text()[-3000:]}\n"
        f"beat:\n{beat_log.read_text()[-3000:]}"
    )
    assert PeriodicTask.objects.get(name="pipeline-watchdog").last_run_at is not None
    assert "transport:   filesystem://" in worker_log.read_text()  # the worker's banner
    assert any((tmp_path / "broker" / "control").iterdir())  # and its files under var/, not the checkout


def _succeeded(log: Path) -> str:
    text = log.read_text() if log.exists() else ""
    return "\n".join(line for line in text.splitlines() if "succeeded" in line)
