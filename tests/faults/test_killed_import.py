"""An import killed mid-way (SIGKILL, as by the OOM killer or a deploy) leaves the tables as
they were, and its query does not go on without it: PostgreSQL notices the client is gone
(``client_connection_check_interval``, set in the settings' connection options) and ends the
query, here while it waits for a lock that is held until long after the kill."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from catalog.models import Event
from tests.factories import EventFactory
from tests.faults.support import ROOT, until

CHECK_SECONDS = float(os.environ.get("SEARCHOP_DB_CLIENT_CHECK_SECONDS", "5"))


def test_database_url() -> str:
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path=f"/{connection.settings_dict['NAME']}"))


test_database_url.__test__ = False  # a helper, not a test


def import_backend() -> tuple[int, str] | None:
    """(pid, wait event type) of the import's INSERT into the events table, if it runs."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid, coalesce(wait_event_type, '') FROM pg_stat_activity"
            " WHERE datname = current_database() AND query LIKE 'INSERT INTO catalog_event%%'"
        )
        return cursor.fetchone()


@pytest.mark.django_db(transaction=True)
def test_a_killed_import_leaves_the_tables_unchanged_and_its_query_ends(tmp_path):
    EventFactory.create_batch(3)
    before = sorted(str(pk) for pk in Event.objects.values_list("event_id", flat=True))
    path = tmp_path / "events.jsonl"
    path.write_text(
        "".join(
            json.dumps(
                {
                    "event_id": str(uuid.uuid4()),
                    "event_type": "click",
                    "product_id": f"P{i}",
                    "timestamp": "2026-11-01T10:00:00Z",
                }
            )
            + "\n"
            for i in range(500)
        )
    )
    # Another session holds a lock the import's INSERT needs: it waits, with its rows staged.
    blocker = psycopg.connect(test_database_url().replace("postgres://", "postgresql://"), autocommit=False)
    blocker.execute("LOCK TABLE catalog_event IN SHARE MODE")
    env = {**os.environ, "DATABASE_URL": test_database_url(), "SEARCHOP_VAR_DIR": str(tmp_path / "var")}
    command = [sys.executable, "manage.py", "import_events", str(path)]
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _pid, waiting = until(import_backend, what="the import's INSERT is running", timeout=60)
        assert waiting == "Lock"

        process.send_signal(signal.SIGKILL)
        process.wait(10)
        killed_at = time.monotonic()
        until(
            lambda: import_backend() is None,
            what="the killed import's query ends",
            timeout=2 * CHECK_SECONDS + 5,
        )
        assert time.monotonic() - killed_at < 2 * CHECK_SECONDS + 5
    finally:
        if process.poll() is None:
            process.kill()
        blocker.rollback()
        blocker.close()

    assert sorted(str(pk) for pk in Event.objects.values_list("event_id", flat=True)) == before
    assert settings.DATABASES["default"]["OPTIONS"]["options"].endswith(
        f"client_connection_check_interval={round(1000 * CHECK_SECONDS)}"
    )
