"""Benchmark: POST /api/rank against a floor endpoint, in the production configuration.

    apt-get install wrk        # once: the load generator
    .venv/bin/python bench/rank.py [--duration 15] [--connections 4] [--repeat 3]

Production configuration: PostgreSQL, gunicorn with 2 gthread workers of 16 threads (searchop_site/
gunicorn.conf.py), DEBUG off, an API key required (one whose throttle is far above the
load), the impression log on (batched thread), text features per request, a production
LambdaMART model of 300 trees (31 leaves) served compiled (lleaves). The floor is
``POST /api/bench/floor``: a DRF view in the same project, behind the same middleware and
gunicorn configuration, that parses the same payload and returns it reordered.

Measured in the same run (wrk on the same 2-core machine, so the load generator takes CPU
from the server, as in the issue's reference figures):
1. the CPU per request of the floor, /api/rank and /api/rank with a second ranker, in one
   process without a server (bench/rank_in_process.py, before the server starts): the figure
   least disturbed by a shared machine (goal: rank <= 2.5x the floor);
2. throughput and latency percentiles of the floor, /api/rank, /api/rank with a second
   model scoring the same requests (``/api/bench/rank-two-rankers``) and /api/rank with an
   interleaving experiment running (a second model of the same size as the challenger, every
   search interleaved: started through the service before, stopped after, each picked up by
   both workers' check), 100 candidates at 4 connections, alternating ``--repeat`` times; per
   round the ratios rank / floor (goal >= 0.6), two rankers / one (goal >= 0.8), with an
   experiment / without (goal >= 0.8) and rank's p99 (goal <= 8 ms); medians and ranges;
3. latency of one connection at 10, 100 and 1,000 candidates (goal: p50 <= 4 ms at 1,000);
4. the time of each step of the rank pipeline from the server's own histograms.

Writes docs/bench_rank.md (unless ``--no-write``). ``--impression-log off`` measures what the
log costs (not the production configuration: nothing is written then). ``--smoke`` runs every
part with a tiny shop, a 20-tree model and one-second runs, writing nothing: the test suite
runs it so the script cannot rot.
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
from run import PLAIN_HTTP  # noqa: E402  (the repository root is on the path from here on)

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
        SEARCHOP_BENCH_ENDPOINTS="1",
        SEARCHOP_VAR_DIR=str(ROOT / "var" / "bench"),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        GUNICORN_BIND=f"127.0.0.1:{PORT}",
        GUNICORN_WORKERS="2",
        PROMETHEUS_MULTIPROC_DIR=tempfile.mkdtemp(prefix="searchop-bench-prom-"),
    )
    # wrk and the in-process client speak plain HTTP to 127.0.0.1, as the demo and the tests
    # do (TLS ends at the ingress in production): no HTTPS redirect. Set already: it wins.
    env.update({name: value for name, value in PLAIN_HTTP.items() if name not in os.environ})
    return env


def manage(env: dict, *args: str, capture: bool = False) -> str:
    result = subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, capture_output=capture, text=True)
    if result.returncode != 0:
        sys.exit(
            f"manage.py {' '.join(args)} failed:\n{result.stdout if capture else ''}{result.stderr or ''}"
        )
    return result.stdout if capture else ""


# The default shop and a 300-tree model; ``--smoke``: a tiny shop and a 20-tree model, only to
# show that the script runs (the test suite's smoke layer).
SHOP = {"full": [], "smoke": ["--products", "120", "--categories", "4", "--users", "60", "--events", "6000"]}
TREES = {"full": ("300", "31", "20"), "smoke": ("20", "7", "20")}  # rounds, leaves, min data in leaf
# The experiment's challenger: as many trees and leaves, grown on other data (min data in leaf).
CHALLENGER_MIN_DATA = "40"


def database_ready(env: dict, *, smoke: bool = False) -> int:
    """Create, migrate and fill the benchmark database once; train a 300-tree model, and a
    second one for the experiment's challenger. Returns the challenger's version."""
    size = "smoke" if smoke else "full"
    rounds, leaves, min_data = TREES[size]
    name = DATABASE_URL.rsplit("/", 1)[1]
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {name}"],
        capture_output=True,
    )
    manage(env, "migrate", "--noinput", "-v", "0")
    import django

    os.environ.update(
        {k: env[k] for k in ("DATABASE_URL", "SECRET_KEY", "DJANGO_SETTINGS_MODULE", "SEARCHOP_VAR_DIR")}
    )
    django.setup()
    from catalog.models import Event
    from ranking.models import ModelVersion

    if not Event.objects.exists():
        print("[setup] generating the default synthetic shop ...", flush=True)
        manage(env, "generate_synthetic_data", *SHOP[size])
    production = ModelVersion.objects.filter(status="production", num_trees__gte=int(rounds) * 0.8).first()
    if production is None:
        print(f"[setup] training a {rounds}-tree model ({leaves} leaves) ...", flush=True)
        train_env = {
            **env,
            "SEARCHOP_NUM_BOOST_ROUND": rounds,
            "SEARCHOP_NUM_LEAVES": leaves,
            "SEARCHOP_MIN_DATA_IN_LEAF": min_data,
        }
        report = json.loads(manage(train_env, "train_model", "--json", capture=True))
        manage(env, "build_features")
        manage(env, "promote_model", str(report["version"]), "--reason", f"benchmark model ({rounds} trees)")
        production = ModelVersion.objects.get(version=report["version"])
    challenger = challenger_ready(env, rounds=rounds, leaves=leaves)
    from django.db import connection

    with connection.cursor() as cursor:
        # Every run starts from the same impression log: the rows earlier runs logged would
        # make each run's writes into its indexes a little dearer than the last's.
        cursor.execute("DELETE FROM catalog_searchrequest WHERE source = 'api'")
        cursor.execute("VACUUM ANALYZE")
    print(
        f"[setup] production: v{production.version}, {production.num_trees} trees; the experiment's "
        f"challenger: v{challenger}",
        flush=True,
    )
    return challenger


def challenger_ready(env: dict, *, rounds: str, leaves: str) -> int:
    """A candidate of production's size for the interleaving experiment (trained once), compiled
    into the cache the workers read (as a worker would compile it after the start)."""
    from ranking.experiments.selectors import experiment_running_get
    from ranking.experiments.services import experiment_stop
    from ranking.models import ModelVersion
    from ranking.serving.state import compiled_predictor

    if experiment_running_get() is not None:  # left by an interrupted run
        experiment_stop(reason="benchmark set-up", actor="bench")
    challenger = ModelVersion.objects.filter(
        status="candidate",
        num_trees__gte=int(rounds) * 0.8,
        hyperparameters__min_data_in_leaf=int(CHALLENGER_MIN_DATA),
    ).first()
    if challenger is None:
        print(f"[setup] training the experiment's challenger ({rounds} trees) ...", flush=True)
        train_env = {
            **env,
            "SEARCHOP_NUM_BOOST_ROUND": rounds,
            "SEARCHOP_NUM_LEAVES": leaves,
            "SEARCHOP_MIN_DATA_IN_LEAF": CHALLENGER_MIN_DATA,
        }
        report = json.loads(manage(train_env, "train_model", "--json", capture=True))
        challenger = ModelVersion.objects.get(version=report["version"])
    compiled_predictor(challenger.model_sha256, challenger.model_text)
    return challenger.version


def experiment_switch(*, challenger: int | None, key: str, payload: Path) -> None:
    """Start an interleaving experiment of ``challenger`` on every search (None: stop it), and
    wait until both workers serve it (or no longer), its challenger compiled."""
    from ranking.experiments.services import experiment_launch, experiment_stop

    if challenger is None:
        experiment_stop(reason="benchmark round done", actor="bench")
    else:
        experiment_launch(actor="bench", kind="interleaving", challenger=f"v{challenger}", traffic=1.0)
    body = payload.read_bytes()
    deadline, agreeing = time.time() + 120, 0
    while agreeing < 12:  # either worker may answer each request: a dozen in a row
        if time.time() > deadline:
            sys.exit("the workers did not pick up the experiment's start or stop within 120 s")
        status, answer = post("/api/rank", body, key=key)
        serving = status == 200 and json.loads(answer).get("experiment") is not None
        agreeing = agreeing + 1 if serving == (challenger is not None) else 0
        time.sleep(0.05)
    if challenger is not None:
        time.sleep(3)  # the compiled challenger (from the cache) replaces LightGBM's


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


def post(path: str, body: bytes, *, key: str) -> tuple[int, bytes]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{PORT}{path}",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Api-Key {key}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
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


def in_process(*, requests: int, rounds: int, smoke: bool) -> dict[str, list[float]]:
    """bench/rank_in_process.py in a child process (its own Django set-up): ms of CPU per request
    of each endpoint, per round."""
    command = [
        PY,
        str(ROOT / "bench" / "rank_in_process.py"),
        "--json",
        f"--requests={requests}",
        f"--rounds={rounds}",
    ]
    result = subprocess.run(
        [*command, *(["--smoke"] if smoke else [])], cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode != 0:
        sys.exit(f"bench/rank_in_process.py failed:\n{result.stderr[-3000:]}")
    print(result.stderr.strip(), flush=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def spread(values: list[float], digits: int = 2) -> str:
    """The median, and the range when there is more than one value."""
    median = f"{statistics.median(values):.{digits}f}"
    return median if len(values) < 2 else f"{median} ({min(values):.{digits}f} to {max(values):.{digits}f})"


ENDPOINTS = {"floor": "/api/bench/floor", "rank": "/api/rank", "two": "/api/bench/rank-two-rankers"}
LABELS = {
    "floor": "floor: parse + reorder (`/api/bench/floor`)",
    "rank": "`/api/rank`",
    "two": "`/api/rank` + a second model on the same matrix",
    "experiment": "`/api/rank`, an interleaving experiment running (every search)",
}


def report(args, *, cpu: dict, rounds: list[dict], sizes: dict, steps: dict, load: float) -> str:
    ratios = [r["rank"]["rps"] / r["floor"]["rps"] for r in rounds]
    two_ratios = [r["two"]["rps"] / r["rank"]["rps"] for r in rounds]
    experiment_ratios = [r["experiment"]["rps"] / r["rank"]["rps"] for r in rounds]
    p99s = [r["rank"]["p99_ms"] for r in rounds]
    cpu_ratios = {key: [a / b for a, b in zip(cpu[key], cpu["floor"], strict=True)] for key in cpu}
    log = "on" if args.impression_log == "thread" else "**off**"
    lines = [
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} UTC on this 2-core machine (wrk on the same machine), "
        f"load average {load:.2f} at the end; gunicorn 2 gthread workers of 16 threads, PostgreSQL, API key on, impression log {log}, "
        f"{'a 20-tree smoke' if args.smoke else 'a 300-tree'} model compiled with lleaves, {args.connections} "
        f"connections, {args.duration} s per run, {args.repeat} rounds of floor, rank, two rankers and rank "
        "with an interleaving experiment (a second model of the same size, every search interleaved).",
        "",
        "| in one process, no server | ms of CPU per request (median, range) | x floor (per round: median, range) |",
        "|---|---:|---:|",
        *(f"| {LABELS[name]} | {spread(cpu[key], 3)} | {spread(cpu_ratios[key])} |"
          for name, key in (("floor", "floor"), ("rank", "rank"), ("two", "two_rankers"))),
        "",
        "| round | endpoint (100 candidates) | requests/s | p50 ms | p90 ms | p99 ms | non-2xx | ratio |",
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]  # fmt: skip
    for number, (measured, ratio, two_ratio, experiment_ratio) in enumerate(
        zip(rounds, ratios, two_ratios, experiment_ratios, strict=True), start=1
    ):
        for name, shown in (
            ("floor", ""),
            ("rank", f"{ratio:.2f} of floor"),
            ("two", f"{two_ratio:.2f} of rank"),
            ("experiment", f"{experiment_ratio:.2f} of rank"),
        ):
            r = measured[name]
            lines.append(
                f"| {number} | {LABELS[name]} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p90_ms']:.2f} | "
                f"{r['p99_ms']:.2f} | {r['errors']} | {shown} |"
            )
    lines += [
        "",
        f"**Rank / floor: {spread(ratios)}** (median of {len(ratios)} rounds and range; goal >= 0.6); "
        f"**rank p99 {spread(p99s)} ms** (goal <= 8 ms); **two rankers / one: {spread(two_ratios)}** "
        f"(goal >= 0.8); **with an interleaving experiment / without: {spread(experiment_ratios)}** (goal >= 0.8); "
        f"**in process, rank costs {spread(cpu_ratios['rank'])}x the floor's CPU** (goal <= 2.5).",
        "",
        "| candidates (1 connection) | requests/s | p50 ms | p99 ms | p50 per candidate (us) |",
        "|---:|---:|---:|---:|---:|",
        *(f"| {size:,} | {r['rps']:,.0f} | {r['p50_ms']:.2f} | {r['p99_ms']:.2f} | {r['p50_ms'] * 1000 / size:.1f} |"
          for size, r in sizes.items()),
        "",
        "| step of /api/rank (100 candidates, in the server, all rounds) | mean ms |",
        "|---|---:|",
        *(f"| {step} | {steps[step]:.3f} |" for step in STEPS if step in steps),
    ]  # fmt: skip
    return "\n".join(lines)


STEPS = ("parse", "validate", "features", "score", "score_also", "experiment", "order", "log", "respond")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of floor, rank, two rankers and rank in an experiment"
    )
    parser.add_argument("--in-process-requests", type=int, default=3000)
    parser.add_argument("--impression-log", choices=("thread", "off"), default="thread")
    parser.add_argument("--no-write", action="store_true", help="print only, leave docs/bench_rank.md alone")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one-second runs, nothing written")
    args = parser.parse_args()
    if args.smoke:
        args.duration, args.repeat, args.in_process_requests, args.no_write = 1, 1, 20, True
    if shutil.which("wrk") is None:
        sys.exit("wrk is not installed: apt-get install wrk")
    env = environment(args.impression_log)
    challenger = database_ready(env, smoke=args.smoke)
    key = api_key()
    work = Path(tempfile.mkdtemp(prefix="searchop-bench-"))
    files = payloads(work)
    print(f"[run] load before: {os.getloadavg()[0]:.2f}", flush=True)
    cpu = in_process(requests=args.in_process_requests, rounds=1 if args.smoke else 3, smoke=args.smoke)
    server = server_start(env)
    rounds = []
    try:
        # Warm both workers (first requests touch lazy imports and caches).
        for path in ENDPOINTS.values():
            wrk(path, files[100], key=key, connections=args.connections, duration=1 if args.smoke else 3)
        before = step_seconds()
        for number in range(1, args.repeat + 1):
            measured = {
                name: wrk(path, files[100], key=key, connections=args.connections, duration=args.duration)
                for name, path in ENDPOINTS.items()
            }
            experiment_switch(challenger=challenger, key=key, payload=files[100])
            wrk("/api/rank", files[100], key=key, connections=args.connections, duration=1)  # warm
            measured["experiment"] = wrk(
                "/api/rank", files[100], key=key, connections=args.connections, duration=args.duration
            )
            experiment_switch(challenger=None, key=key, payload=files[100])
            rounds.append(measured)
            floor, rank, two, inside = (measured[k] for k in ("floor", "rank", "two", "experiment"))
            print(
                f"[{number}/{args.repeat}] floor {floor['rps']:,.0f} requests/s, rank {rank['rps']:,.0f} "
                f"(ratio {rank['rps'] / floor['rps']:.2f}, p99 {rank['p99_ms']:.2f} ms), two rankers "
                f"{two['rps']:,.0f} ({two['rps'] / rank['rps']:.2f} of one), in an experiment "
                f"{inside['rps']:,.0f} ({inside['rps'] / rank['rps']:.2f} of without)",
                flush=True,
            )
        after = step_seconds()
        sizes = {
            size: wrk("/api/rank", files[size], key=key, connections=1, duration=max(1, args.duration // 2))
            for size in (10, 100, 1000)
        }
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    steps = {}
    for step, (total, count) in after.items():
        prev_total, prev_count = before.get(step, (0.0, 0.0))
        if count > prev_count:
            steps[step] = (total - prev_total) / (count - prev_count) * 1000
    text = report(args, cpu=cpu, rounds=rounds, sizes=sizes, steps=steps, load=os.getloadavg()[0])
    print("\n" + text)
    if not args.no_write:
        (ROOT / "docs").mkdir(exist_ok=True)
        (ROOT / "docs" / "bench_rank.md").write_text("## /api/rank benchmark\n\n" + text + "\n")


if __name__ == "__main__":
    main()
