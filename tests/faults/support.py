"""Real processes for the fault suite, each started and stopped the way an operator would:
a throw-away PostgreSQL cluster and Redis server that a test may stop (never the shared
ones), gunicorn with the project's configuration, a Celery worker and beat, and a load
generator that keeps every answer it got.

Nothing here mocks a part: a fault is a stopped server, a killed process or a slow socket.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from tests.e2e.test_gunicorn import children  # the live children of a process, from /proc

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT_SECONDS = 90


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def until(condition: Callable[[], object], *, what: str, timeout: float = 60, every: float = 0.2):
    """Poll ``condition`` until it returns something true, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = condition()
        except OSError:
            result = None
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:g} s")


def stop_process(process: subprocess.Popen, *, timeout: float = 30) -> None:
    """SIGTERM, then SIGKILL if it does not end in time."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# --- PostgreSQL and Redis that a test may stop ---------------------------------------------


def _postgres_binary(name: str) -> str:
    """initdb and pg_ctl: on PATH, or in the server's bin directory (Debian keeps them there)."""
    found = shutil.which(name)
    if found:
        return found
    bindir = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
    return str(Path(bindir.stdout.strip()) / name)


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root, run the command as the postgres user."""
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else command


@dataclass
class ThrowawayPostgres:
    """A PostgreSQL cluster of its own in a temporary directory, on its own port."""

    directory: Path
    port: int

    @classmethod
    def create(cls, directory: Path) -> ThrowawayPostgres:
        directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(directory, user="postgres")
            directory.chmod(0o755)
        cluster = cls(directory=directory, port=free_port())
        command = [_postgres_binary("initdb"), "-D", str(cluster.data), "-A", "trust", "-U", "postgres"]
        subprocess.run(_as_postgres([*command, "--no-sync", "-E", "UTF8"]), check=True, capture_output=True)
        cluster.start()
        return cluster

    @property
    def data(self) -> Path:
        return self.directory / "data"

    def url(self, database: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _ctl(self, *args: str) -> None:
        subprocess.run(
            _as_postgres([_postgres_binary("pg_ctl"), "-D", str(self.data), "-w", *args]),
            check=True,
            capture_output=True,
        )

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._ctl("-o", options, "-l", str(self.directory / "server.log"), "start")

    def stop(self) -> None:
        """A fast shutdown: every session is cut, as in a restart or a failover."""
        self._ctl("-m", "fast", "stop")

    def sql(self, database: str, statement: str) -> str:
        result = subprocess.run(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                database,
                "-Atc",
                statement,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        return result.stdout.strip()

    def destroy(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self._ctl("-m", "immediate", "stop")
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class ThrowawayRedis:
    """A redis-server of its own (no persistence), on its own port."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        with (self.directory / "redis.log").open("ab") as log:
            self.process = subprocess.Popen(command, cwd=self.directory, stdout=log, stderr=subprocess.STDOUT)
        until(self._answers, what="redis-server answers PING", timeout=30)

    def _answers(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)
            self.process = None


# --- the project's processes ---------------------------------------------------------------


def project_env(*, database_url: str, redis_url: str, var_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a production process of this project, pointed at these servers."""
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "fault-suite-secret",
        "DEBUG": "0",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SEARCHOP_VAR_DIR": str(var_dir),
        "CELERY_TASK_ALWAYS_EAGER": "0",
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


def manage(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, (
        f"manage.py {' '.join(args)} exited {result.returncode}:\n{result.stderr[-4000:]}"
    )
    return result.stdout


@dataclass
class Reply:
    at: float
    path: str
    status: int
    content_type: str
    retry_after: str | None
    body: bytes
    seconds: float
    sent: dict | None = None
    cookies: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> dict:
        return json.loads(self.body)

    @property
    def is_json(self) -> bool:
        return self.content_type.startswith("application/json")


def request(
    base: tuple[str, int],
    method: str,
    path: str,
    body: dict | None = None,
    headers: dict[str, str] | None = None,
    *,
    timeout: float = 30,
    connection: http.client.HTTPConnection | None = None,
) -> Reply:
    """One HTTP request (on ``connection`` when given, kept alive), as a ``Reply``."""
    data = json.dumps(body).encode() if body is not None else None
    sent = (
        {"Content-Type": "application/json", **(headers or {})} if data is not None else dict(headers or {})
    )
    return _exchange(base, method, path, data, sent, timeout=timeout, connection=connection, sent=body)


def request_form(base: tuple[str, int], path: str, form: str, headers: dict[str, str]) -> Reply:
    """A POST of an HTML form (``a=1&b=2``), as a browser sends it."""
    sent = {"Content-Type": "application/x-www-form-urlencoded", **headers}
    return _exchange(base, "POST", path, form.encode(), sent, timeout=60)


def _exchange(
    base: tuple[str, int],
    method: str,
    path: str,
    data: bytes | None,
    headers: dict[str, str],
    *,
    timeout: float,
    connection: http.client.HTTPConnection | None = None,
    sent: dict | None = None,
) -> Reply:
    own = connection is None
    conn = connection or http.client.HTTPConnection(*base, timeout=timeout)
    started = time.monotonic()
    try:
        conn.request(method, path, body=data, headers=headers)
        response = conn.getresponse()
        payload = response.read()
    finally:
        if own:
            conn.close()
    cookies = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        cookies[name.strip()] = rest.split(";")[0]
    return Reply(
        at=time.time(),
        path=path,
        status=response.status,
        content_type=response.getheader("Content-Type", ""),
        retry_after=response.getheader("Retry-After"),
        body=payload,
        seconds=time.monotonic() - started,
        sent=sent,
        cookies=cookies,
    )


@dataclass
class Gunicorn:
    """``gunicorn -c searchop_site/gunicorn.conf.py searchop_site.wsgi``, as deployed."""

    process: subprocess.Popen
    port: int
    log: Path

    @classmethod
    def start(cls, env: dict[str, str], directory: Path, **extra: str) -> Gunicorn:
        directory.mkdir(parents=True, exist_ok=True)
        port = free_port()
        env = {
            **env,
            "GUNICORN_BIND": f"127.0.0.1:{port}",
            "PROMETHEUS_MULTIPROC_DIR": str(directory / "prometheus"),
            "GUNICORN_ACCESSLOG": str(directory / "access.log"),
            # The access log names the worker (%(p)s) that served each request.
            "GUNICORN_CMD_ARGS": "--no-control-socket --access-logformat='%(p)s %(U)s %(s)s'",
            **extra,
        }
        log = directory / "gunicorn.log"
        command = [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            "searchop_site/gunicorn.conf.py",
            "searchop_site.wsgi",
        ]
        with log.open("ab") as output:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT)
        server = cls(process=process, port=port, log=log)
        until(
            lambda: server.get("/health").status == 200, what="/health answers", timeout=START_TIMEOUT_SECONDS
        )
        return server

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)

    def get(self, path: str, **kwargs) -> Reply:
        return request(self.address, "GET", path, **kwargs)

    def post(self, path: str, body: dict, headers: dict[str, str] | None = None, **kwargs) -> Reply:
        return request(self.address, "POST", path, body, headers, **kwargs)

    def admin_login(self, username: str, password: str) -> dict[str, str]:
        """Log in to the admin as a browser does; the headers of a logged-in POST (session
        cookie and CSRF token)."""
        page = self.get("/admin/login/")
        csrf = page.cookies["csrftoken"]
        form = f"username={username}&password={password}&csrfmiddlewaretoken={csrf}&next=/admin/"
        reply = request_form(self.address, "/admin/login/", form, {"Cookie": f"csrftoken={csrf}"})
        assert reply.status == 302, reply.body[:500]
        cookie = f"csrftoken={csrf}; sessionid={reply.cookies['sessionid']}"
        return {"Cookie": cookie, "X-CSRFToken": csrf}

    def workers(self) -> set[int]:
        """The live worker processes (children of the master)."""
        return children(self.process.pid)

    def served_by(self, path: str, status: int = 200) -> set[int]:
        """The workers that answered ``path`` with ``status``, from the access log."""
        found = set()
        for line in (self.log.parent / "access.log").read_text().splitlines():
            pid, request_path, answered = line.split()  # "<1234> /api/rank 200"
            if request_path == path and int(answered) == status:
                found.add(int(pid.strip("<>")))
        return found

    def every_worker_serves(self, send: Callable[[], Reply], path: str) -> None:
        """Send requests on new connections until every worker has answered one (which
        worker accepts a connection is the kernel's choice)."""
        until(
            lambda: send().status and self.workers() <= self.served_by(path),
            what=f"every worker answers {path}",
            timeout=60,
            every=0.05,
        )

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]

    def stop(self) -> None:
        stop_process(self.process)


@dataclass
class CeleryProcess:
    """A Celery worker or beat in a session of its own, so that killing it kills its pool too."""

    process: subprocess.Popen
    log: Path

    @classmethod
    def start(cls, env: dict[str, str], log: Path, *args: str) -> CeleryProcess:
        command = [sys.executable, "-m", "celery", "-A", "searchop_site", *args, "--loglevel=INFO"]
        with log.open("ab") as output:
            process = subprocess.Popen(
                command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
            )
        return cls(process=process, log=log)

    @classmethod
    def worker(cls, env: dict[str, str], log: Path, queue: str = "celery") -> CeleryProcess:
        """A worker as deployed (prefork, one process)."""
        return cls.start(
            env,
            log,
            "worker",
            "--concurrency=1",
            "-Q",
            queue,
            f"--hostname={queue}-{uuid.uuid4().hex[:6]}@%h",
            "--without-gossip",
            "--without-mingle",
        )

    @classmethod
    def beat(cls, env: dict[str, str], log: Path) -> CeleryProcess:
        """Beat as deployed (the DatabaseScheduler), looking at its schedule every second."""
        return cls.start(
            env,
            log,
            "beat",
            "--scheduler=django_celery_beat.schedulers:DatabaseScheduler",
            "--max-interval=1",
            f"--pidfile={log.with_suffix('.pid')}",
        )

    def kill(self) -> None:
        """SIGKILL to the whole process group: the pod is gone, pool and all."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-6000:]


class Load:
    """Threads that send requests in a loop over kept-alive connections and keep every reply
    (a refused connection is recorded as status 0)."""

    def __init__(
        self, server: Gunicorn, make: Callable[[int], tuple[str, dict, dict[str, str]]], threads: int = 4
    ):
        self.server = server
        self.make = make
        self.replies: list[Reply] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._loop, args=(i,), daemon=True) for i in range(threads)]

    def __enter__(self) -> Load:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def _loop(self, number: int) -> None:
        conn: http.client.HTTPConnection | None = None
        sent = 0
        while not self._stop.is_set():
            path, body, headers = self.make(number * 1_000_000 + sent)
            sent += 1
            conn = conn or http.client.HTTPConnection(*self.server.address, timeout=30)
            started = time.monotonic()
            try:
                reply = request(self.server.address, "POST", path, body, headers, connection=conn)
            except (OSError, http.client.HTTPException) as error:
                conn.close()
                conn = None
                reply = Reply(
                    time.time(), path, 0, "", None, repr(error).encode(), time.monotonic() - started, body
                )
                time.sleep(0.05)
            with self._lock:
                self.replies.append(reply)
        if conn is not None:
            conn.close()
