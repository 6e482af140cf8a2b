"""Production settings (searchop_site/settings.py): secure by default with DEBUG off, so
Django's own deployment checks pass with nothing but the three required variables; the demo
turns off by name what plain HTTP on 127.0.0.1 needs; secrets can be mounted files."""

from __future__ import annotations

import json
import os
import re
import secrets
import sys

import pytest

import run as run_py
from tests.deploy.support import ROOT, run

NAMES = (
    "DEBUG",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SESSION_COOKIE_SECURE",
    "SESSION_COOKIE_HTTPONLY",
    "CSRF_COOKIE_SECURE",
    "CSRF_COOKIE_HTTPONLY",
    "SECURE_PROXY_SSL_HEADER",
    "REDIS_URL",
    "DATABASES",
)
PROBE = (
    "import json; from django.conf import settings as s; "
    f"print(json.dumps({{n: getattr(s, n, None) for n in {NAMES!r}}}, default=str))"
)


def production_env(**extra: str) -> dict[str, str]:
    """Only what production must set, and nothing from this test run's environment."""
    return {
        "PATH": os.environ["PATH"],
        "SECRET_KEY": secrets.token_urlsafe(50),
        "DATABASE_URL": "postgres://searchop@db.invalid:5432/searchop",
        "ALLOWED_HOSTS": "searchop.example.com",
        **extra,
    }


def settings_under(env: dict[str, str]) -> dict:
    result = run(
        [sys.executable, "-c", PROBE], env={**env, "DJANGO_SETTINGS_MODULE": "searchop_site.settings"}
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def check_deploy(env: dict[str, str]):
    return run([sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"], env=env)


def test_check_deploy_passes_at_warning_level_with_only_secret_key_database_url_and_allowed_hosts():
    result = check_deploy(production_env())

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_with_debug_off_https_redirect_hsts_secure_http_only_cookies_and_the_proxy_header_are_on():
    settings = settings_under(production_env())

    assert settings["DEBUG"] is False
    assert settings["SECURE_SSL_REDIRECT"] is True
    assert settings["SECURE_HSTS_SECONDS"] >= 31_536_000
    assert settings["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["SESSION_COOKIE_HTTPONLY"] is True
    assert settings["CSRF_COOKIE_SECURE"] is True
    assert settings["CSRF_COOKIE_HTTPONLY"] is True
    assert settings["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]


@pytest.mark.parametrize(
    ("variable", "setting", "off"),
    [
        ("SECURE_SSL_REDIRECT", "SECURE_SSL_REDIRECT", False),
        ("SECURE_HSTS_SECONDS", "SECURE_HSTS_SECONDS", 0),
        ("SESSION_COOKIE_SECURE", "SESSION_COOKIE_SECURE", False),
        ("CSRF_COOKIE_SECURE", "CSRF_COOKIE_SECURE", False),
        ("SECURE_PROXY_SSL_HEADER", "SECURE_PROXY_SSL_HEADER", None),
    ],
)
def test_each_is_turned_off_only_explicitly_by_its_variable(variable, setting, off):
    assert settings_under(production_env(**{variable: "0"}))[setting] == off


def test_the_demo_turns_off_the_https_redirect_and_https_only_cookies_and_nothing_else(monkeypatch, tmp_path):
    monkeypatch.setattr(run_py, "VAR", tmp_path)
    demo = run_py.demo_env()
    plain_http = {name: demo[name] for name in run_py.PLAIN_HTTP}

    result = check_deploy(production_env(**plain_http))

    assert plain_http == {"SECURE_SSL_REDIRECT": "0", "SESSION_COOKIE_SECURE": "0", "CSRF_COOKIE_SECURE": "0"}
    # Django names exactly what was turned off: the redirect and the two cookies.
    assert result.returncode != 0
    assert sorted(set(re.findall(r"\(security\.(W\d+)\)", result.stderr))) == ["W008", "W012", "W016"]


def test_secrets_can_be_mounted_files(tmp_path):
    database_url = tmp_path / "database-url"
    database_url.write_text("postgres://searchop:s3cret@db.internal:6432/searchop\n")
    redis_url = tmp_path / "redis-url"
    redis_url.write_text("rediss://:s3cret@redis.internal:6380/0\n")
    env = production_env(DATABASE_URL_FILE=str(database_url), REDIS_URL_FILE=str(redis_url))
    del env["DATABASE_URL"]

    settings = settings_under(env)

    database = settings["DATABASES"]["default"]
    assert (database["HOST"], database["PORT"], database["PASSWORD"]) == ("db.internal", 6432, "s3cret")
    assert database["CONN_HEALTH_CHECKS"] is True
    assert database["CONN_MAX_AGE"] == 60
    assert settings["REDIS_URL"] == "rediss://:s3cret@redis.internal:6380/0"


def test_behind_pgbouncer_django_opens_no_server_side_cursor():
    env = production_env(DATABASE_DISABLE_SERVER_SIDE_CURSORS="1")

    assert settings_under(env)["DATABASES"]["default"]["DISABLE_SERVER_SIDE_CURSORS"] is True
    assert settings_under(production_env())["DATABASES"]["default"]["DISABLE_SERVER_SIDE_CURSORS"] is False


@pytest.fixture
def https_redirect(settings):
    """Production's redirect, in process (the test run itself serves plain HTTP)."""
    settings.SECURE_SSL_REDIRECT = True


@pytest.mark.django_db  # an answered scrape also reads beat's and the pipeline's state
def test_the_probes_and_metrics_are_never_redirected_to_https(https_redirect, client):
    assert client.get("/health").status_code == 200
    assert client.get("/metrics").status_code == 200
    response = client.get("/api/docs/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/api/docs/"


def test_a_request_the_ingress_forwarded_from_https_is_served_with_hsts(https_redirect, client):
    response = client.get("/api/docs/", HTTP_X_FORWARDED_PROTO="https")

    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"


def test_the_tests_themselves_speak_plain_http_like_the_demo():
    """tests/plain_http.py set what the demo sets before Django read its settings."""
    assert all(os.environ[name] == value for name, value in run_py.PLAIN_HTTP.items())
    assert ROOT.joinpath("tests", "plain_http.py").exists()
