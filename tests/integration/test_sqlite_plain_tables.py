"""The embedded SQLite default (the demo) keeps plain tables: migrations branch on the
database, the re-send rule holds there too, and prune says it needs PostgreSQL. Run in a
child process on a SQLite file of its own, as the demo runs."""

from __future__ import annotations

from tests.sqlite_project import SqliteProject

SCRIPT = """
import json, uuid
from datetime import UTC, datetime, timedelta
from django.db import connection
from catalog.partitions import partitions_get
from catalog.services import events_ingest

event_id, when = str(uuid.uuid4()), datetime(2026, 10, 14, tzinfo=UTC)
def send(at):
    return events_ingest(events=[{"event_id": event_id, "event_type": "click", "product_id": "P1",
                                  "position": 1, "timestamp": at}]).stored
stored = [send(when), send(when), send(when + timedelta(days=1)), send(when + timedelta(days=8))]
with connection.cursor() as cursor:
    cursor.execute("SELECT type FROM sqlite_master WHERE name = 'catalog_event'")
    kind = cursor.fetchone()[0]
print(json.dumps({"vendor": connection.vendor, "kind": kind, "partitions": partitions_get("catalog_event"), "stored": stored}))
"""


def test_on_sqlite_the_tables_stay_plain_events_are_stored_once_and_prune_needs_postgresql(tmp_path):
    project = SqliteProject(tmp_path)
    facts = project.facts(SCRIPT)
    pruned = project.manage("prune", "--before", "2026-01-01")

    assert facts["vendor"] == "sqlite"
    assert facts["kind"] == "table"
    assert facts["partitions"] == []
    # As on PostgreSQL: once as sent, not again within the window, again beyond it.
    assert facts["stored"] == [1, 0, 0, 1]
    assert pruned.returncode != 0
    assert "prune needs PostgreSQL" in pruned.stderr
