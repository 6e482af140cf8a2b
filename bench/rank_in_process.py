"""Benchmark: /api/rank against the floor endpoint in one process, without a server.

    .venv/bin/python bench/rank_in_process.py [--requests 3000]

The same database, model (300 trees, compiled), API key, impression log and payload (100
candidates) as bench/rank.py, but each request goes straight through Django's WSGI handler
(every middleware, DRF, the view, the rendered response) in this process: no gunicorn, no
sockets, no load generator competing for the two cores. What is left is the CPU time each
endpoint's Python costs, so the ratio says how much of the gap in bench/rank.py is the rank
path itself. Prints ms per request for each and the ratio; writes nothing.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rank as rank_bench  # noqa: E402  (bench/rank.py: the same set-up)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    env = rank_bench.environment()
    os.makedirs(env["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    os.environ.update(env)  # before Django reads its settings
    rank_bench.database_ready(env)  # sets up Django with the benchmark database
    from django.core.wsgi import get_wsgi_application

    from ranking.serving.state import serving_state_get

    application = get_wsgi_application()
    key = rank_bench.api_key()
    body = rank_bench.payloads(Path(env["PROMETHEUS_MULTIPROC_DIR"]))[100].read_bytes()

    def call(path: str) -> bytes:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "HTTP_HOST": "127.0.0.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_AUTHORIZATION": f"Api-Key {key}",
            "wsgi.input": io.BytesIO(body),
            "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
        }
        status = []
        chunks = b"".join(application(environ, lambda s, h, e=None: status.append(s)))
        if not status[0].startswith("200"):
            sys.exit(f"{path} answered {status[0]}: {chunks[:300]!r}")
        return chunks

    deadline = time.time() + 120
    while not serving_state_get().compiled:
        if time.time() > deadline:
            sys.exit("the model was not compiled within 120 s")
        call("/api/rank")
        time.sleep(0.2)
    print(f"[run] load before: {os.getloadavg()[0]:.2f}, {args.requests:,} requests per endpoint and round")
    best: dict[str, float] = {}
    for number in range(1, args.rounds + 1):
        for path in ("/api/bench/floor", "/api/rank"):
            for _ in range(200):
                call(path)
            started = time.process_time()
            for _ in range(args.requests):
                call(path)
            ms = (time.process_time() - started) * 1000 / args.requests
            best[path] = min(best.get(path, ms), ms)
            print(f"[{number}/{args.rounds}] {path}: {ms:.3f} ms of CPU per request", flush=True)
    floor, rank = best["/api/bench/floor"], best["/api/rank"]
    print(
        f"\nbest of {args.rounds}: floor {floor:.3f} ms, /api/rank {rank:.3f} ms per request (CPU of this "
        f"process, the impression log's thread included); rank / floor throughput {floor / rank:.2f}; "
        f"rank adds {rank - floor:.3f} ms"
    )


if __name__ == "__main__":
    main()
