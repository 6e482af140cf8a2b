"""PostgreSQL stopped for 10 s while gunicorn serves ranking and events, with API keys on.

Ranking goes on from what each worker holds in memory (the model, the feature snapshot, the
keys it verified); events get a JSON 503 with Retry-After and are not stored; nothing is an
HTML page or a 500; every event that got a 200 is in the database afterwards; and the same
workers recover when PostgreSQL is back, without a restart.
"""

from __future__ import annotations

import time
import uuid

from tests.faults.support import Load, until

OUTAGE_SECONDS = 10


def traffic(shop):
    """Two rank requests for every event, each event new."""

    def make(n: int) -> tuple[str, dict, dict[str, str]]:
        if n % 3 == 2:
            event = {"event_id": str(uuid.uuid4()), "event_type": "click", "product_id": shop.products[n % 8]}
            return "/api/events", {"events": [event]}, shop.auth()
        return "/api/rank", shop.rank_body(n), shop.auth()

    return make


def test_ranking_goes_on_events_answer_503_and_nothing_acknowledged_is_lost(postgres, shop, web):
    server = web
    until(lambda: server.get("/ready").status == 200, what="/ready answers 200", timeout=60)
    workers = server.workers()
    # Every worker checks the key (so each holds it through the outage, within the grace).
    server.every_worker_serves(lambda: server.post("/api/rank", shop.rank_body(), shop.auth()), "/api/rank")

    with Load(server, traffic(shop), threads=4) as load:
        time.sleep(2)
        postgres.stop()
        down_from = time.time()  # the server is down from here ...
        time.sleep(OUTAGE_SECONDS)
        down_until = time.time()  # ... to here, when it is started again
        postgres.start()
        until(lambda: server.get("/ready").status == 200, what="/ready recovers", timeout=30)
        recovered = time.time()
        time.sleep(4)
    replies = load.replies

    # 1. No HTML, no 500, no dropped connection: every answer is JSON and chosen on purpose.
    assert [r for r in replies if r.status == 0] == []
    assert [(r.status, r.body[:200]) for r in replies if not r.is_json] == []
    assert [(r.status, r.body[:200]) for r in replies if r.status >= 500 and r.status != 503] == []
    assert all(r.retry_after for r in replies if r.status == 503)

    # 2. Ranking never stopped: every rank request got its ranking, during the outage too.
    ranks = [r for r in replies if r.path == "/api/rank"]
    during = [r for r in ranks if down_from < r.at < down_until]
    assert during, "no rank request was answered during the outage"
    assert {r.status for r in ranks} == {200}

    # 3. Events: refused with 503 while the database was down (a reply that arrives just
    # after the stop may be an event committed just before it), stored again afterwards.
    events = [r for r in replies if r.path == "/api/events"]
    assert {r.status for r in events if down_from + 0.5 < r.at < down_until} == {503}
    after = [r.status for r in events if r.at > recovered + 1]
    assert after
    assert set(after) == {200}

    # 4. Every acknowledged event is stored; no refused one is.
    acknowledged = {r.sent["events"][0]["event_id"] for r in events if r.status == 200}
    refused = {r.sent["events"][0]["event_id"] for r in events if r.status == 503}
    stored = set(postgres.sql("shop", "SELECT event_id FROM catalog_event").split())
    assert acknowledged <= stored
    assert not refused & stored

    # 5. The same workers, recovered without a restart.
    assert server.workers() == workers, server.tail()
