"""Benchmark: POST /api/rank against a floor endpoint, in the production configuration.

    apt-get install wrk        # once: the load generator
    .venv/bin/python bench/rank.py [--duration 15] [--connections 4] [--repeat 3]

Production configuration: PostgreSQL, gunicorn with 2 sync workers (searchop_site/
gunicorn.conf.py), DEBUG off, an API key required (one whose throttle is far above the
load), the impression log on (batched thread), text features per request, a production
LambdaMART model of 300 trees (31 leaves) served compiled (lleaves). The floor is
``POST /api/bench/floor``: a DRF view in the same project, behind the same middleware and
gunicorn configuration, that parses the same payload and returns it reordered.

Measured in the same run with wrk (on the same 2-core machine, so the load generator takes
CPU from the server, as in the issue's reference figures):
1. throughput and latency percentiles of the floor and of /api/rank with 100 candidates at
   4 connections, the two alternating ``--repeat`` times; the ratio rank / floor (goal >= 0.6)
   and rank's p99 (goal <= 8 ms) of each round and their medians;
2. latency of one connection at 10, 100 and 1,000 candidates (goal: at most linear growth);
3. the time of each step of the rank pipeline from the server's own histograms.

Writes docs/bench_rank.md (unless ``--no-write``). ``--impression-log off`` measures what the
log costs (not the production configuration: nothing is written then).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATABASE_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/searchop_bench_rank")
PORT = int(os.environ.get("BENCH_PORT", "8099"))
PY = str(ROOT / ".venv" / "bin" / "python")
WRK_SCRIPT = """
wrk.method = "POST"
local f = io.open(os.getenv("PAYLOAD"), "r")
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
local key = os.getenv("APIKEY")
if key and key ~= "" then wrk.headers["Authorization"] = "Api-Key " .. key end
"""


def environment(impression_log: str = "thread") -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=DATABASE_URL,
        SECRET_KEY="bench-secret",
        DEBUG="0",
        DJANGO_SETTINGS_MODULE="searchop_site.settings",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        SEARCHOP_REQUIRE_API_KEY="1",
        SEARCHOP_IMPRESSION_LOG=impression_log,
        SEARCHOP_COMPILED_INFERENCE="1",
        SEARCHOP_BENCH_FLOOR="1",
        SEARCHOP_VAR_DIR=str(ROOT / "var" / "bench"),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        GUNICORN_BIND=f"127.0.0.1:{PORT}",
        GUNICORN_WORKERS="2",
        PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(prefix="searchop-bench-prom-"),
    )
    return env


def manage(env: dict, *args: str, capture: bool = False) -> str:
    result = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=capture, text=True)
    if result.returncode != 0:
        sys.exit(
            f"manage.py {' '.join(args)} failed:\n{result.stdout if capture else ''}{result.stderr or ''}"
        )
    return result.stdout if capture else ""


def database_ready(env: dict) -> None:
    """Create, migrate and fill the benchmark database once; train a 300-tree model."""
    name = DATABASE_URL.rsplit("/", 1)[1]
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {name}"],
        capture_output=True,
    )
    manage(env, "migrate", "--noinput", "-v", "0")
    import django

    os.environ.update({k: env[k] for k in ("DATABASE_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE")})
    django.setup()
    from catalog.models import Event
    from ranking.models import ModelVersion

    if not Event.objects.exists():
        print("[setup] generating the default synthetic shop ...", flush=True)
        manage(env, "generate_synthetic_data")
    production = ModelVersion.objects.filter(status="production", num_trees__gte=250).first()
    if production is None:
        print("[setup] training a 300-tree model (31 leaves) ...", flush=True)
        train_env = {
            **env,
            "SEARCHOP_NUM_BOOST_ROUND": "300",
            "SEARCHOP_NUM_LEAVES": "31",
            "SEARCHOP_MIN_DATA_IN_LEAF": "20",
        }
        report = json.loads(manage(train_env, "train_model", "--json", capture=True))
        manage(env, "build_features")
        manage(env, "promote_model", str(report["version"]), "--reason", "benchmark model (300 trees)")
        production = ModelVersion.objects.get(version=report["version"])
    from django.db import connection

    with connection.cursor() as cursor:
        # Every run starts from the same impression log: the rows earlier runs logged would
        # make each run's writes into its indexes a little dearer than the last's.
        cursor.execute("DELETE FROM catalog_searchrequest WHERE source = 'api'")
        cursor.execute("VACUUM ANALYZE")
    print(f"[setup] production: v{production.version}, {production.num_trees} trees", flush=True)


def api_key() -> str:
    from ranking.models import ApiClient

    _, key = ApiClient.objects.create_key(name=f"bench {time.time():.0f}", requests_per_minute=100_000_000)
    return key


def payloads(directory: Path) -> dict[int, Path]:
    from catalog.models import Product

    products = list(
        Product.objects.order_by("id").values("external_id", "title", "price", "category", "brand", "rating")[
            :1000
        ]
    )
    out = {}
    for size in (10, 100, 1000):
        chosen = products[: size - max(1, size // 20)]
        body = {
            "query": "red running shoes",
            "user_id": "U0001",
            "session_id": "bench",
            "products": [
                {
                    "id": p["external_id"],
                    "title": p["title"],
                    "price": float(p["price"]),
                    "category": p["category"],
                    "brand": p["brand"],
                    "rating": None if p["rating"] is None else float(p["rating"]),
                }
                for p in chosen
            ]
            # A few products the catalog does not know (cold start), as in real traffic.
            + [
                {
                    "id": f"new-{i}",
                    "title": f"New Red Running Shoes {i}",
                    "price": 99.0,
                    "category": "Running Shoes",
                }
                for i in range(size - len(chosen))
            ],
        }
        path = directory / f"payload{size}.json"
        path.write_text(json.dumps(body))
        out[size] = path
    return out


def get(path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{PORT}{path}", timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
    except OSError:
        return 0, b""


def server_start(env: dict) -> subprocess.Popen:
    server = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "-c",
            "searchop_site/gunicorn.conf.py",
            "searchop_site.wsgi",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=open(Path(tempfile.gettempdir()) / "searchop-bench-gunicorn.log", "w"),  # noqa: SIM115
        start_new_session=True,
    )
    deadline = time.time() + 180
    while time.time() < deadline:
        status, body = get("/ready")
        # Both workers: ask a few times, each answer comes from either worker.
        if status == 200 and b"compiled" in body and all(b"compiled" in get("/ready")[1] for _ in range(6)):
            return server
        time.sleep(1)
    os.killpg(server.pid, signal.SIGTERM)
    sys.exit("the server did not become ready with a compiled model within 180 s")


def wrk(path: str, payload: Path, *, key: str, connections: int, duration: int) -> dict:
    script = Path(tempfile.gettempdir()) / "searchop-bench.lua"
    script.write_text(WRK_SCRIPT)
    output = subprocess.run(
        [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{duration}s",
            "--latency",
            "-s",
            str(script),
            f"http://127.0.0.1:{PORT}{path}",
        ],
        env={**os.environ, "PAYLOAD": str(payload), "APIKEY": key},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}
    for percentile in ("50", "90", "99"):
        match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        value, unit = float(match.group(1)), match.group(2)
        result[f"p{percentile}_ms"] = value / 1000 if unit == "us" else value * 1000 if unit == "s" else value
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["errors"] = int(non2xx.group(1)) if non2xx else 0
    return result


def step_seconds() -> dict[str, tuple[float, float]]:
    _, body = get("/metrics")
    sums, counts = {}, {}
    for line in body.decode().splitlines():
        match = re.match(r'searchop_rank_step_seconds_(sum|count)\{step="(\w+)"\} ([\d.e+-]+)', line)
        if match:
            (sums if match.group(1) == "sum" else counts)[match.group(2)] = float(match.group(3))
    return {step: (sums[step], counts.get(step, 0.0)) for step in sums}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3, help="rounds of floor then rank")
    parser.add_argument("--impression-log", choices=("thread", "off"), default="thread")
    parser.add_argument("--no-write", action="store_true", help="print only, leave docs/bench_rank.md alone")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    env = environment(args.impression_log)
    database_ready(env)
    key = api_key()
    work = Path(tempfile.mkdtemp(prefix="searchop-bench-"))
    files = payloads(work)
    print(f"[run] load before: {os.getloadavg()[0]:.2f}", flush=True)
    server = server_start(env)
    rounds = []
    try:
        # Warm both workers (first requests touch lazy imports and caches).
        wrk("/api/rank", files[100], key=key, connections=args.connections, duration=3)
        wrk("/api/bench/floor", files[100], key=key, connections=args.connections, duration=3)
        before = step_seconds()
        for number in range(1, args.repeat + 1):
            floor = wrk(
                "/api/bench/floor", files[100], key=key, connections=args.connections, duration=args.duration
            )
            rank = wrk("/api/rank", files[100], key=key, connections=args.connections, duration=args.duration)
            rounds.append((floor, rank))
            print(
                f"[{number}/{args.repeat}] floor {floor['rps']:,.0f} requests/s, rank {rank['rps']:,.0f} "
                f"requests/s (ratio {rank['rps'] / floor['rps']:.2f}), rank p99 {rank['p99_ms']:.2f} ms",
                flush=True,
            )
        after = step_seconds()
        sizes = {}
        for size in (10, 100, 1000):
            sizes[size] = wrk(
                "/api/rank", files[size], key=key, connections=1, duration=max(5, args.duration // 2)
            )
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    load = os.getloadavg()[0]

    steps = {}
    for step, (total, count) in after.items():
        prev_total, prev_count = before.get(step, (0.0, 0.0))
        if count > prev_count:
            steps[step] = (total - prev_total) / (count - prev_count) * 1000
    ratios = [rank["rps"] / floor["rps"] for floor, rank in rounds]
    p99s = [rank["p99_ms"] for _, rank in rounds]
    log = "on" if args.impression_log == "thread" else "**off**"
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC on this 2-core machine (wrk on the same machine), "
        f"load average {load:.2f} at the end; gunicorn 2 sync workers, PostgreSQL, API key on, impression log {log}, "
        f"300-tree model compiled with lleaves, {args.connections} connections, {args.duration} s per run, "
        f"{args.repeat} rounds of floor then rank.",
        "",
        "| round | endpoint (100 candidates) | requests/s | p50 ms | p90 ms | p99 ms | non-2xx | rank / floor |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for number, ((floor, rank), ratio) in enumerate(zip(rounds, ratios, strict=True), start=1):
        lines += [
            f"| {number} | floor: parse + reorder (`/api/bench/floor`) | {floor['rps']:,.0f} | "
            f"{floor['p50_ms']:.2f} | {floor['p90_ms']:.2f} | {floor['p99_ms']:.2f} | {floor['errors']} | |",
            f"| {number} | `/api/rank` | {rank['rps']:,.0f} | {rank['p50_ms']:.2f} | {rank['p90_ms']:.2f} | "
            f"{rank['p99_ms']:.2f} | {rank['errors']} | {ratio:.2f} |",
        ]
    lines += [
        "",
        f"**Ratio rank / floor: {statistics.median(ratios):.2f}** (median of {len(ratios)}; "
        f"{min(ratios):.2f} to {max(ratios):.2f}; goal >= 0.6); **rank p99 {statistics.median(p99s):.2f} ms** "
        f"(median; {min(p99s):.2f} to {max(p99s):.2f}; goal <= 8 ms).",
        "",
        "| candidates (1 connection) | requests/s | p50 ms | p99 ms | p50 per candidate (us) |",
        "|---:|---:|---:|---:|---:|",
    ]
    for size, result in sizes.items():
        lines.append(
            f"| {size:,} | {result['rps']:,.0f} | {result['p50_ms']:.2f} | {result['p99_ms']:.2f} | "
            f"{result['p50_ms'] * 1000 / size:.1f} |"
        )
    lines += ["", "| step of /api/rank (100 candidates, in the server, all rounds) | mean ms |", "|---|---:|"]
    for step in ("parse", "validate", "features", "score", "order", "log", "respond"):
        if step in steps:
            lines.append(f"| {step} | {steps[step]:.3f} |")
    report = "\n".join(lines)
    print("\n" + report)
    if not args.no_write:
        (ROOT / "docs").mkdir(exist_ok=True)
        (ROOT / "docs" / "bench_rank.md").write_text("## /api/rank benchmark\n\n" + report + "\n")


if __name__ == "__main__":
    main()
