"""Benchmark: /api/rank against the floor endpoint in one process, without a server.

    .venv/bin/python bench/rank_in_process.py [--requests 3000] [--rounds 3] [--json]

The same database, model (300 trees, compiled), API key, impression log and payload (100
candidates) as bench/rank.py, but each request goes straight through Django's WSGI handler
(every middleware, DRF, the view, the rendered response) in this process: no gunicorn, no
sockets, no load generator competing for the two cores. What is left is the CPU time each
endpoint's Python costs, so the ratio says how much of the gap in bench/rank.py is the rank
path itself. Measured for the floor, /api/rank and /api/rank with a second ranker scoring
the same matrix (``/api/bench/rank-two-rankers``), one after the other in each of ``--rounds``
rounds; each round's ratios compare measurements minutes apart at most, so their median is
the figure a shared machine disturbs least. Prints ms of CPU per request and the ratios
(``--json``: one JSON line of the per-round figures, for bench/rank.py); writes nothing.
``--profile`` prints cProfile's top functions of /api/rank instead.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rank as rank_bench  # noqa: E402  (bench/rank.py: the same set-up)

ENDPOINTS = {"floor": "/api/bench/floor", "rank": "/api/rank", "two_rankers": "/api/bench/rank-two-rankers"}


def measure(*, requests: int, rounds: int, smoke: bool, profile: bool = False) -> dict[str, list[float]]:
    """ms of this process's CPU per request of each endpoint, in each round."""
    env = rank_bench.environment()
    os.makedirs(env["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    os.environ.update(env)  # before Django reads its settings
    rank_bench.database_ready(env, smoke=smoke)  # sets up Django with the benchmark database
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
    if profile:
        for _ in range(200):
            call("/api/rank")
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [call("/api/rank") for _ in range(requests)])
        pstats.Stats(profiler, stream=sys.stderr).sort_stats(
            os.environ.get("BENCH_PROFILE_SORT", "tottime")
        ).print_stats(60)
        return {}
    print(f"[in-process] load before: {os.getloadavg()[0]:.2f}, {requests:,} requests per endpoint and round",
          file=sys.stderr)  # fmt: skip
    measured: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
    for number in range(1, rounds + 1):
        for name, path in ENDPOINTS.items():
            for _ in range(min(200, requests)):
                call(path)
            started = time.process_time()
            for _ in range(requests):
                call(path)
            ms = (time.process_time() - started) * 1000 / requests
            measured[name].append(ms)
            print(f"[in-process {number}/{rounds}] {path}: {ms:.3f} ms of CPU per request", file=sys.stderr)
    return measured


def ratios(measured: dict[str, list[float]], over: str, under: str) -> list[float]:
    """Per round, ``over``'s CPU per request over ``under``'s."""
    return [a / b for a, b in zip(measured[over], measured[under], strict=True)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--json", action="store_true", help="one JSON line of ms per request, for bench/rank.py"
    )
    parser.add_argument("--smoke", action="store_true", help="a tiny shop and model: checks the script runs")
    parser.add_argument("--profile", action="store_true", help="cProfile of /api/rank instead")
    args = parser.parse_args()
    measured = measure(requests=args.requests, rounds=args.rounds, smoke=args.smoke, profile=args.profile)
    if args.profile:
        return
    if args.json:
        print(json.dumps(measured))
        return
    median = {name: statistics.median(values) for name, values in measured.items()}
    print(
        f"\nmedians of {args.rounds} rounds: floor {median['floor']:.3f} ms, /api/rank {median['rank']:.3f} ms, "
        f"with a second ranker {median['two_rankers']:.3f} ms of CPU per request (this process, the impression "
        f"log's thread included); rank costs {statistics.median(ratios(measured, 'rank', 'floor')):.2f}x the "
        f"floor (median of the rounds' ratios; goal <= 2.5); two rankers "
        f"{statistics.median(ratios(measured, 'rank', 'two_rankers')):.2f}x the throughput of one"
    )


if __name__ == "__main__":
    main()
