#!/usr/bin/env python3
"""The two commands of SearchOp's quick start. Needs only Python 3.11.

    python3.11 run.py demo    set everything up and run the main job on the embedded
                              default (SQLite, Celery in-process), then serve it
    python3.11 run.py test    run the whole test suite (lint, types, every test layer)
                              against the PostgreSQL and Redis named in the environment

Both build the virtualenv in ``.venv`` when it is missing or when the requirements
changed. Anything after ``test`` is passed on to pytest (``run.py test -k rank``).
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VAR = ROOT / "var"
PY = VENV / "bin" / "python"
# checkov's own virtualenv, inside .venv so that it goes wherever .venv goes
# (requirements-checkov.txt says why it cannot share .venv).
CHECKOV_VENV = VENV / "checkov"

TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/searchop"
TEST_REDIS_URL = "redis://127.0.0.1:6379/0"

# With DEBUG off the settings redirect to HTTPS and keep cookies to HTTPS; the demo and the
# tests serve plain HTTP on 127.0.0.1, so they turn exactly these off (the tests through
# tests/plain_http.py, which reads this).
PLAIN_HTTP = {"SECURE_SSL_REDIRECT": "0", "SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0"}


class Steps:
    """Numbered steps with timings, so a long set-up shows where it is."""

    def __init__(self, total: int):
        self.total = total
        self.number = 0

    def run(self, title: str, command: list[str] | None = None, *, env: dict | None = None, func=None):
        self.number += 1
        print(f"\n==> [{self.number}/{self.total}] {title}", flush=True)
        started = time.perf_counter()
        if command is not None:
            result = subprocess.run(command, cwd=ROOT, env=env)
            if result.returncode != 0:
                print(
                    f"==> [{self.number}/{self.total}] {title}: FAILED (exit {result.returncode})", flush=True
                )
                sys.exit(result.returncode)
        if func is not None:
            func()
        print(
            f"==> [{self.number}/{self.total}] {title}: done in {time.perf_counter() - started:.1f} s",
            flush=True,
        )


def venv_ensure(
    requirements: str, *, where: Path = VENV, includes: tuple[str, ...] = ("requirements.txt",)
) -> None:
    """Create the virtualenv ``where`` and install ``requirements`` into it unless the same
    files (``requirements`` and the ones it ``includes``) are installed already."""
    digest = hashlib.sha256()
    for name in (*includes, requirements):
        digest.update((ROOT / name).read_bytes())
    stamp = where / f".installed-{requirements}-{digest.hexdigest()[:16]}"
    label = where.relative_to(ROOT)
    if stamp.exists():
        print(f"    {label} is up to date with {requirements}")
        return
    python = where / "bin" / "python"
    if not python.exists():
        print(f"    creating {label}")
        venv.EnvBuilder(with_pip=True).create(where)
    # -qq: errors only (this takes a minute or two on a fresh machine).
    subprocess.run([str(python), "-m", "pip", "install", "-qq", "-r", str(ROOT / requirements)], check=True)
    for old in where.glob(f".installed-{requirements}-*"):
        old.unlink()
    stamp.touch()


def install(requirements: str) -> None:
    """The virtualenv with ``requirements``, then the compiled feature kernel of /api/rank (a C
    extension, rebuilt only when its source changed); without a C compiler serving uses the
    reference builder, with the same values, slower."""
    venv_ensure(requirements)
    built = subprocess.run([str(PY), "-m", "ranking.compiled"], cwd=ROOT, check=False)
    if built.returncode != 0:
        print(
            "    the feature kernel could not be built (no C compiler?): serving uses the reference builder"
        )


def demo_env() -> dict:
    env = dict(os.environ)
    VAR.mkdir(exist_ok=True)
    secret = VAR / "secret_key"
    if not secret.exists():
        secret.write_text(secrets.token_urlsafe(50))
        secret.chmod(0o600)
    env.setdefault("SECRET_KEY_FILE", str(secret))
    env.setdefault("DEBUG", "0")
    env.setdefault("SEARCHOP_REQUIRE_API_KEY", "0")
    env.update(PLAIN_HTTP)
    # The demo is the embedded default: SQLite under var/ and Celery in-process.
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def demo(args: list[str]) -> None:
    manage = [str(PY), "manage.py"]
    env = demo_env()
    steps = Steps(total=8)
    steps.run("Virtualenv, requirements and the feature kernel", func=lambda: install("requirements.txt"))
    steps.run("Database (SQLite under var/)", [*manage, "migrate", "--noinput", "-v", "0"], env=env)
    steps.run("Static files for the admin", [*manage, "collectstatic", "--noinput", "-v", "0"], env=env)
    steps.run(
        "Synthetic shop (1,000 products, 500 users, ~50,000 events)",
        [*manage, "generate_synthetic_data"],
        env=env,
    )
    steps.run(
        "Pipeline: features, training, evaluation against the baselines, decision",
        [*manage, "run_pipeline"],
        env=env,
    )
    steps.run(
        f"A second model ({DEMO_CHALLENGER_ROUNDS} boosting rounds, so weaker) in an interleaving experiment "
        "against production on half the searches",
        func=lambda: demo_experiment_start(env),
    )
    steps.run("Admin login for the control room", [*manage, "ensure_admin"], env=env)
    print(DEMO_USAGE, flush=True)
    steps.run(
        "Serving on http://127.0.0.1:8000 with simulated shoppers (Ctrl-C stops it)", func=lambda: serve(env)
    )


# The demo's challenger: the same data and features, far fewer trees.
DEMO_CHALLENGER_ROUNDS = 5
DEMO_SEARCHES_PER_SECOND = 3


def demo_experiment_start(env: dict) -> None:
    """Train the weaker model (registered as a candidate, not promoted) and start it against
    production. A demo started again over an experiment still running keeps that one."""
    manage = [str(PY), "manage.py"]
    trained = subprocess.run(
        [*manage, "train_model"],
        cwd=ROOT,
        env={**env, "SEARCHOP_NUM_BOOST_ROUND": str(DEMO_CHALLENGER_ROUNDS)},
        capture_output=True,
        text=True,
    )
    registered = re.search(r"Registered (v\d+) as a candidate", trained.stdout)
    if registered is None:
        print(trained.stdout[-2000:], trained.stderr[-2000:], sep="\n")
        sys.exit("the second model could not be trained")
    challenger = ["--kind", "interleaving", "--challenger", registered.group(1), "--traffic", "0.5"]
    started = subprocess.run(
        [*manage, "experiment_start", *challenger],
        cwd=ROOT,
        env=env,
    )
    if started.returncode != 0:
        print("    (the demo goes on with the experiment that is running)")


def serve(env: dict) -> None:
    """gunicorn in the foreground; beside it a Celery worker and beat over kombu's filesystem
    transport (no broker server: the periodic tasks really run), and, once the server is
    ready, ``simulate_traffic`` playing shoppers at a few searches a second. Their logs go
    to var/. Ctrl-C stops them all."""
    bind = env.get("GUNICORN_BIND", "127.0.0.1:8000")
    background_env = {**env, "CELERY_BROKER_URL": "filesystem://", "CELERY_TASK_ALWAYS_EAGER": "0"}
    celery = [str(PY), "-m", "celery", "-A", "searchop_site"]
    background = [
        _background([*celery, "worker", "--pool=solo", "--loglevel=INFO"], "worker", background_env),
        _background([*celery, "beat", "--loglevel=INFO"], "beat", background_env),
    ]
    server = subprocess.Popen(
        [str(VENV / "bin" / "gunicorn"), "-c", "searchop_site/gunicorn.conf.py", "searchop_site.wsgi"],
        cwd=ROOT,
        env={**background_env, "GUNICORN_BIND": bind},
    )
    try:
        if _ready_wait(f"http://{bind}/ready", server):
            simulate = [str(PY), "manage.py", "simulate_traffic", "--searches", "1000000"]
            simulate += ["--url", f"http://{bind}", "--rate", str(DEMO_SEARCHES_PER_SECOND)]
            background.append(_background(simulate, "simulate_traffic", background_env))
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        for process in [server, *background]:
            process.terminate()
        for process in [server, *background]:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def _background(command: list[str], name: str, env: dict) -> subprocess.Popen:
    log = VAR / f"{name}.log"
    print(f"    {name}: logging to {log.relative_to(ROOT)}", flush=True)
    with log.open("ab") as output:
        return subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)


def _ready_wait(url: str, server: subprocess.Popen, *, seconds: float = 120.0) -> bool:
    """Whether the server answered 200 on ``url`` within ``seconds`` (False if it exited)."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(1)
    return False


DEMO_USAGE = """
    Try it (no API key needed in the demo):

    curl -s http://127.0.0.1:8000/api/rank -H 'Content-Type: application/json' -d '{
      "query": "red running shoes", "user_id": "U0001", "limit": 3,
      "products": [
        {"id": "P00001", "title": "x", "price": 10, "category": "Running Shoes"},
        {"id": "P00002", "title": "x", "price": 10, "category": "Running Shoes"},
        {"id": "new-1", "title": "Red Trail Running Shoes", "price": 95, "category": "Running Shoes"}]}'

    curl -s http://127.0.0.1:8000/api/events -H 'Content-Type: application/json' -d '{"events": [
      {"event_id": "6f1c1f9e-1111-4a2b-8c3d-000000000001", "event_type": "click",
       "request_id": "<request_id from the rank response>", "product_id": "P00002", "position": 1}]}'

    API docs: http://127.0.0.1:8000/api/docs/   metrics: http://127.0.0.1:8000/metrics

    Simulated shoppers search a few times a second (var/simulate_traffic.log); the
    experiment fills in at http://127.0.0.1:8000/admin/ranking/experiment/ and the beat task
    decides it (var/worker.log, var/beat.log); `python manage.py experiment_report` prints it.
"""


# The browser tests use Debian's chromium and chromium-driver; the benchmarks' smoke runs, wrk;
# the connection-pooling test, pgbouncer; the monitoring kit's checks, promtool (prometheus).
TEST_PACKAGES = {
    "chromium": "chromium",
    "chromedriver": "chromium-driver",
    "wrk": "wrk",
    "curl": "curl",
    "pgbouncer": "pgbouncer",
    "promtool": "prometheus",
}


def test_packages_ensure() -> None:
    """Install the Debian packages the tests run (browser, load generator) when missing."""
    missing = [package for command, package in TEST_PACKAGES.items() if shutil.which(command) is None]
    if not missing:
        print(f"    {', '.join(TEST_PACKAGES)} are installed")
        return
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        print(f"    {', '.join(missing)} missing and cannot be installed here (needs apt-get as root)")
        sys.exit(1)
    apt_env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=apt_env)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True, env=apt_env
    )


def test_env() -> dict:
    env = dict(os.environ)
    env.setdefault("DATABASE_URL", TEST_DATABASE_URL)
    env.setdefault("REDIS_URL", TEST_REDIS_URL)
    env.setdefault("SECRET_KEY", "test-only-secret-key")
    env.setdefault("DEBUG", "0")
    env["PYTHONUNBUFFERED"] = "1"
    env["SEARCHOP_VAR_DIR"] = str(VAR / "test")
    return env


def test(args: list[str]) -> None:
    env = test_env()
    steps = Steps(total=8)
    steps.run(
        "Virtualenv, requirements (dev) and the feature kernel", func=lambda: install("requirements-dev.txt")
    )
    steps.run(
        "checkov for the manifest checks (its own virtualenv, .venv/checkov)",
        func=lambda: venv_ensure("requirements-checkov.txt", where=CHECKOV_VENV, includes=()),
    )
    steps.run(
        "Debian packages of the tests (chromium, wrk, curl, pgbouncer, prometheus)", func=test_packages_ensure
    )
    steps.run(
        "PgBouncer for the pooling test (its own port)",
        ["bash", str(ROOT / ".ci" / "pgbouncer-start")],
        env=env,
    )
    steps.run("Lint (ruff)", [str(VENV / "bin" / "ruff"), "check", "."], env=env)
    steps.run(
        "Import rules (lint-imports, contracts in pyproject.toml)",
        [str(VENV / "bin" / "lint-imports")],
        env=env,
    )
    steps.run("Types (mypy on the services)", [str(VENV / "bin" / "mypy")], env=env)
    steps.run(
        f"Tests (pytest) against {env['DATABASE_URL']} and {env['REDIS_URL']}",
        [str(PY), "-m", "pytest", *args],
        env=env,
    )


def main() -> None:
    if sys.version_info < (3, 11):  # noqa: UP036 - run.py may be started by an older python3
        sys.exit("SearchOp needs Python 3.11 or newer")
    if len(sys.argv) < 2 or sys.argv[1] not in ("demo", "test"):
        sys.exit(__doc__)
    {"demo": demo, "test": test}[sys.argv[1]](sys.argv[2:])


if __name__ == "__main__":
    main()
