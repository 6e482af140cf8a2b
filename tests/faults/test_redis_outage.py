"""Redis stopped for 10 s while gunicorn serves: ranking and events go on at their usual
speed (the throttle counts per worker meanwhile, so a key is held to its limit in each
worker), and the shared count resumes when Redis is back, without a restart."""

from __future__ import annotations

import time

import redis

from tests.faults.seed import LIMITED_PER_MINUTE
from tests.faults.support import Load, until
from tests.faults.test_database_outage import traffic

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
