"""Slow clients: eight connections that send their request a byte a second must not stop the
service. A normal request keeps its latency (well under a second), the probes answer, and
no worker is killed for it (gunicorn kills a worker that blocks past its timeout, here 10 s
so that the test need not wait 30)."""

from __future__ import annotations

import socket
import threading
import time

from tests.faults.support import Reply, until

SLOW_CLIENTS = 8
SECONDS = 15
REQUEST_HEAD = b"POST /api/rank HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"


def dribble(address: tuple[str, int], stop: threading.Event) -> None:
    """A request head sent one byte a second, never finished."""
    with socket.create_connection(address, timeout=5) as sock:
        for byte in REQUEST_HEAD * 10:
            if stop.is_set():
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return  # the server closed it: fine too
            stop.wait(1.0)


def timed(send, path: str) -> Reply:
    """The reply, or a status-0 reply that took as long as the request hung."""
    started = time.monotonic()
    try:
        return send()
    except OSError as error:
        return Reply(time.time(), path, 0, "", None, repr(error).encode(), time.monotonic() - started)


def test_eight_slow_clients_leave_normal_requests_fast_and_every_worker_alive(shop, web):
    server = web
    until(lambda: server.get("/ready").status == 200, what="/ready answers 200", timeout=60)
    workers = server.workers()
    auth, body = shop.auth(), shop.rank_body()
    assert server.post("/api/rank", body, auth).status == 200

    stop = threading.Event()
    slow = [threading.Thread(target=dribble, args=(server.address, stop)) for _ in range(SLOW_CLIENTS)]
    for thread in slow:
        thread.start()
    replies = []
    try:
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            replies.append(timed(lambda: server.post("/api/rank", body, auth, timeout=20), "/api/rank"))
            replies.append(timed(lambda: server.get("/health", timeout=20), "/health"))
            replies.append(timed(lambda: server.get("/ready", timeout=20), "/ready"))
            time.sleep(0.3)
    finally:
        stop.set()
        for thread in slow:
            thread.join(10)

    assert {(r.path, r.status) for r in replies} == {("/api/rank", 200), ("/health", 200), ("/ready", 200)}
    slowest = max(r.seconds for r in replies)
    assert slowest < 1.0, f"a normal request took {slowest:.1f} s beside {SLOW_CLIENTS} slow clients"
    assert server.workers() == workers, server.tail()
    assert "WORKER TIMEOUT" not in server.tail()
