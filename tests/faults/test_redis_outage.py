"""Redis stopped for 10 s while gunicorn serves: ranking and events go on at their usual
speed (the throttle counts per worker meanwhile, so a key is held to its limit in each
worker), and the shared count resumes when Redis is back, without a restart. And a run that
cannot be queued while Redis is down is closed at once, so it blocks no later trigger."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
import redis

from tests.faults.seed import LIMITED_PER_MINUTE
from tests.faults.support import ROOT, Load, free_port, until
from tests.faults.test_database_outage import traffic
from training.models import PipelineRun
from training.services import pipeline_run_request

OUTAGE_SECONDS = 10
WORKERS = 2


def test_ranking_and_events_go_on_and_a_limited_key_stays_limited_per_worker(shop, redis_server, web):
    server = web
    until(lambda: server.get("/ready").status == 200, what="/ready answers 200", timeout=60)
    workers = server.workers()

    with Load(server, traffic(shop), threads=4) as load:
        time.sleep(2)
        stopped_at = time.time()
        redis_server.stop()
        time.sleep(1)
        limited = [
            server.post("/api/rank", shop.rank_body(), shop.auth(shop.limited_key)) for _ in range(100)
        ]
        time.sleep(OUTAGE_SECONDS - 1 - (time.time() - stopped_at))
        redis_server.start()
        started_at = time.time()
        time.sleep(3)
    replies = load.replies

    # Everything answered, and at the usual speed: nobody waited for Redis.
    assert {(r.path, r.status) for r in replies} == {("/api/rank", 200), ("/api/events", 200)}
    assert max(r.seconds for r in replies if stopped_at < r.at < started_at) < 1.0

    # The limited key: refused with 429 once each worker counted its limit, never unlimited
    # (per clock minute: the requests may straddle two).
    admitted = sum(r.status == 200 for r in limited)
    minutes = len({int(r.at // 60) for r in limited})
    assert {r.status for r in limited} == {200, 429}
    assert admitted <= WORKERS * LIMITED_PER_MINUTE * minutes

    # Redis is back (empty: no persistence) and counts again, in the same workers.
    assert server.post("/api/rank", shop.rank_body(), shop.auth(shop.limited_key)).status in (200, 429)
    store = redis.Redis.from_url(redis_server.url(0))
    assert list(store.scan_iter("searchop:throttle:*"))
    store.close()
    assert server.workers() == workers, server.tail()


@pytest.mark.django_db(transaction=True)
def test_a_run_that_cannot_be_queued_is_closed_as_not_sent_and_blocks_no_later_trigger(test_db_env):
    down = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there: Redis is down
    command = [sys.executable, "manage.py", "run_pipeline", "--async"]

    refused = subprocess.run(
        command, cwd=ROOT, env=test_db_env(down), capture_output=True, text=True, check=False
    )

    assert refused.returncode == 1
    assert "Could not queue the run: the task queue is unreachable" in refused.stderr
    run = PipelineRun.objects.get()
    assert (run.status, run.error.split(":")[0]) == ("failed", "not sent")
    assert pipeline_run_request(trigger="admin", actor="admin:a").status == "queued"  # not blocked
