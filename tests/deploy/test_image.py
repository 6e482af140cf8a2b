"""The image (Dockerfile, .dockerignore, searchop_site/healthcheck.py), checked without a
container engine: hadolint, checkov (test_manifests.py runs it on the Dockerfile too) and
what the Dockerfile promises, read from its stages."""

from __future__ import annotations

import http.server
import threading

import pytest

from searchop_site import healthcheck
from tests.deploy.support import ROOT, run, tool


def stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined), one list per stage."""
    instructions: list[str] = []
    current = ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        current += line.rstrip("\\").strip() + " "
        if not line.endswith("\\"):
            instructions.append(current.strip())
            current = ""
    result: list[list[str]] = []
    for instruction in instructions:
        if instruction.startswith("FROM "):
            result.append([])
        result[-1].append(instruction)
    return result


def test_hadolint_passes_on_the_dockerfile():
    result = run([tool("hadolint"), "Dockerfile"])

    assert result.returncode == 0, result.stdout + result.stderr


def test_hadolint_fails_a_dockerfile_that_breaks_a_rule(tmp_path):
    """It checks something: a bare ``latest`` base image and ``cd`` in a RUN are refused."""
    broken = tmp_path / "Dockerfile"
    broken.write_text("FROM python:latest\nRUN cd /app && make\n")

    result = run([tool("hadolint"), "--config", str(ROOT / ".hadolint.yaml"), str(broken)])

    assert result.returncode != 0
    assert "DL3007" in result.stdout
    assert "DL3003" in result.stdout


def test_the_image_is_built_in_two_stages_and_the_final_one_has_no_pip_cache_or_compiler():
    build, final = stages()

    assert build[0].startswith("FROM python:3.11-slim")
    assert build[0].endswith(" AS build")
    assert final[0].split()[1] == build[0].split()[1]  # the same base: the venv's python is there
    assert any("pip install --no-cache-dir" in step for step in build)
    assert not any("pip install" in step for step in final)
    assert "COPY --from=build /opt/venv /opt/venv" in final
    for compiler in ("build-essential", "gcc", "g++", "make "):
        assert not any(compiler in step for step in final if step.startswith("RUN ")), compiler


def test_the_final_stage_collects_static_files_runs_as_a_fixed_non_root_uid_and_checks_health():
    _, final = stages()
    users = [step for step in final if step.startswith("USER ")]

    assert any("manage.py collectstatic --noinput" in step for step in final)
    assert users == ["USER 10001:10001"]
    assert final.index(users[0]) > max(i for i, step in enumerate(final) if step.startswith("RUN "))
    assert any(step.startswith("HEALTHCHECK ") and "searchop_site.healthcheck" in step for step in final)
    assert final[-1] == 'CMD ["gunicorn", "-c", "searchop_site/gunicorn.conf.py", "searchop_site.wsgi"]'


def test_the_build_context_leaves_out_tests_virtualenvs_and_local_data():
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}

    assert {".git", ".venv", "var", "tests", "staticfiles", "*.sqlite3", ".env"} <= ignored
    assert (
        not {"requirements.txt", "manage.py", "catalog", "ranking", "training", "searchop_site", "templates"}
        & ignored
    )


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        self.send_response(self.status if self.path == "/health" else 404)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def health_server():
    server = http.server.HTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


GUNICORN = ["/opt/venv/bin/python", "/opt/venv/bin/gunicorn", "-c", "searchop_site/gunicorn.conf.py"]


def test_the_healthcheck_calls_gunicorn_healthy_when_health_answers_200(health_server):
    url = f"http://127.0.0.1:{health_server.server_port}/health"

    assert healthcheck.healthy(GUNICORN, url) is True


def test_the_healthcheck_calls_gunicorn_unhealthy_when_health_fails_or_nothing_listens(health_server):
    port = health_server.server_port
    _Health.status = 503
    try:
        assert healthcheck.healthy(GUNICORN, f"http://127.0.0.1:{port}/health") is False
    finally:
        _Health.status = 200
    health_server.shutdown()
    health_server.server_close()

    assert healthcheck.healthy(GUNICORN, f"http://127.0.0.1:{port}/health") is False


def test_the_healthcheck_calls_the_worker_and_beat_healthy_while_they_run():
    for command in (["celery", "--app=searchop_site", "worker"], ["python", "manage.py", "migrate"]):
        assert healthcheck.healthy(command, "http://127.0.0.1:9/health") is True


def test_the_healthcheck_asks_the_port_gunicorn_binds(monkeypatch):
    monkeypatch.setenv("GUNICORN_BIND", "0.0.0.0:8123")

    assert healthcheck.web_health_url() == "http://127.0.0.1:8123/health"
