"""Benchmark: what drift sampling costs /api/rank, against the same run without it.

    .venv/bin/python bench/drift_sampling.py [--requests 3000] [--rounds 5] [--smoke]

The database, model, API key and payload (100 candidates) of bench/rank.py, each request
through Django's WSGI handler in this process (as bench/rank_in_process.py). In each round,
/api/rank is timed (CPU of this process per request, the sampler's writer thread included)
with sampling off (``sample_share`` 0), at the default share, and with every request offered
to the sampler (share 1; the reservoir's per-minute cap still bounds what is kept); the
figure is the median over rounds of each round's ratio to "off". Goal: the default costs
under 2% more. Writes nothing but the drift samples of the run, deleted at the end.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import rank as rank_bench  # noqa: E402  (bench/rank.py: the same set-up)


def measure(*, requests: int, rounds: int, smoke: bool) -> dict[str, list[float]]:
    """ms of this process's CPU per /api/rank request in each setting, per round."""
    env = rank_bench.environment()
    env["SECURE_SSL_REDIRECT"] = "0"  # plain HTTP in this process (the production default redirects)
    os.makedirs(env["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)
    os.environ.update(env)  # before Django reads its settings
    rank_bench.database_ready(env, smoke=smoke)
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    from ranking.models import DriftSample
    from ranking.serving.drift_sampling import SAMPLER

    application = get_wsgi_application()
    key = rank_bench.api_key()
    body = rank_bench.payloads(Path(env["PROMETHEUS_MULTIPROC_DIR"]))[100].read_bytes()

    def call() -> None:
        environ = {
            "REQUEST_METHOD": "POST", "PATH_INFO": "/api/rank", "SCRIPT_NAME": "", "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80", "HTTP_HOST": "127.0.0.1", "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_TYPE": "application/json", "CONTENT_LENGTH": str(len(body)),
            "HTTP_AUTHORIZATION": f"Api-Key {key}", "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http",
            "wsgi.errors": sys.stderr,
        }  # fmt: skip
        status: list[str] = []
        chunks = b"".join(application(environ, lambda s, h, e=None: status.append(s)))
        if not status[0].startswith("200"):
            sys.exit(f"/api/rank answered {status[0]}: {chunks[:300]!r}")

    default_share = settings.SEARCHOP_DRIFT["sample_share"]
    shares = {"off": 0.0, "default": default_share, "every request": 1.0}
    measured: dict[str, list[float]] = {name: [] for name in shares}
    for _ in range(min(300, requests)):  # warm: the model loaded and compiled, caches filled
        call()
    print(
        f"[drift] load before: {os.getloadavg()[0]:.2f}, {requests:,} requests per setting and round",
        file=sys.stderr,
    )
    for number in range(1, rounds + 1):
        for name, share in shares.items():
            settings.SEARCHOP_DRIFT = {**settings.SEARCHOP_DRIFT, "sample_share": share}
            started = time.process_time()
            for _ in range(requests):
                call()
            SAMPLER.flush()  # the writer's work counts too
            ms = (time.process_time() - started) * 1000 / requests
            measured[name].append(ms)
            print(f"[drift {number}/{rounds}] sampling {name} ({share:g}): {ms:.3f} ms of CPU per request",
                  file=sys.stderr)  # fmt: skip
    measured["offer_us"] = [_offer_cost(share) for share in (default_share, 1.0)]
    SAMPLER.reset()
    DriftSample.objects.all().delete()
    return measured


def _offer_cost(share: float, calls: int = 20_000) -> float:
    """µs of CPU per ``drift_sample_offer`` call alone (a 100 x contract matrix), at ``share``."""
    import numpy as np
    from django.conf import settings

    from ranking.features.contract import NAMES
    from ranking.serving.drift_sampling import SAMPLER

    settings.SEARCHOP_DRIFT = {**settings.SEARCHOP_DRIFT, "sample_share": share}
    features = np.random.default_rng(0).random((100, len(NAMES)))
    started = time.process_time()
    for _ in range(calls):
        SAMPLER.offer(model_version=1, query_norm="bench", features=features)
    return (time.process_time() - started) * 1e6 / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="a tiny shop and model: checks the script runs")
    args = parser.parse_args()
    measured = measure(requests=args.requests, rounds=args.rounds, smoke=args.smoke)
    offer_default, offer_every = measured.pop("offer_us")
    ratio = {
        name: statistics.median(a / b for a, b in zip(values, measured["off"], strict=True))
        for name, values in measured.items()
    }
    print(
        f"\n/api/rank, medians of {args.rounds} rounds: {statistics.median(measured['off']):.3f} ms of CPU per "
        f"request without sampling; drift sampling at the default share costs {ratio['default']:.4f}x "
        f"(goal < 1.02), offering every request {ratio['every request']:.4f}x "
        f"(ranges {min(measured['default']):.3f}-{max(measured['default']):.3f} and "
        f"{min(measured['off']):.3f}-{max(measured['off']):.3f} ms); the call alone costs "
        f"{offer_default:.2f} µs at the default share and {offer_every:.2f} µs offering every request "
        f"({100 * offer_default / 1000 / statistics.median(measured['off']):.3f}% of a request without sampling)"
    )


if __name__ == "__main__":
    main()
