from __future__ import annotations

import gzip
import io
import json
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.columns import EVENTS
from catalog.models import Event, Product
from catalog.services import events_import

pytestmark = pytest.mark.django_db

COLUMNS = EVENTS.file_names


def event(n: int, **overrides: str) -> dict[str, str]:
    row = {
        "event_id": str(uuid.UUID(int=n + 1)),
        "event_type": "impression",
        "timestamp": f"2026-09-07T10:{n % 60:02d}:00",
        "user_id": "U1",
        "session_id": "s1",
        "query": "Running Shoes",
        "product_id": f"P{n % 3}",
        "position": str(n % 10 + 1),
        "request_id": f"r{n // 10}",
    }
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    frame_lines = [",".join(COLUMNS)]
    for row in rows:
        frame_lines.append(",".join(_csv_field(row[name]) for name in COLUMNS))
    path.write_text("\n".join(frame_lines) + "\n")
    return path


def _csv_field(value: str) -> str:
    return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n') else value


def write_jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("import_events", *args, stdout=out)
    return out.getvalue()


def test_importing_the_same_file_twice_adds_its_events_once(tmp_path):
    path = write_csv(tmp_path / "events.csv", [event(n) for n in range(25)])
    first = run(str(path))
    assert Event.objects.count() == 25
    second = run(str(path))
    assert Event.objects.count() == 25
    assert "rows read 25, inserted 25, already present 0, rejected 0" in first
    assert "rows read 25, inserted 0, already present 25, rejected 0" in second


def test_a_file_with_a_bad_line_is_rejected_naming_the_line_and_field_and_nothing_is_written(tmp_path):
    rows = [event(n) for n in range(20)]
    rows[15]["position"] = "0"  # line 17: the header is line 1
    path = write_csv(tmp_path / "events.csv", rows)
    with pytest.raises(CommandError) as raised:
        run(str(path))
    assert 'line 17: position: must be an integer >= 1, got "0"' in str(raised.value)
    assert "nothing was written" in str(raised.value)
    assert not Event.objects.exists()


def test_a_bad_row_in_a_later_chunk_rolls_back_the_chunks_already_staged(tmp_path):
    rows = [event(n) for n in range(30)]
    rows[-1]["event_type"] = "view"
    path = write_csv(tmp_path / "events.csv", rows)
    result = events_import(path=path, chunk_rows=7)
    assert not result.committed
    assert [str(error) for error in result.errors] == [
        'line 31: event_type: must be one of impression, click, add_to_cart, purchase, got "view"'
    ]
    assert not Event.objects.exists()


def test_skip_invalid_loads_the_good_rows_and_reports_the_bad_ones(tmp_path):
    rows = [event(n) for n in range(10)]
    rows[2]["timestamp"] = "yesterday"
    rows[6]["event_id"] = "not-a-uuid"
    path = write_csv(tmp_path / "events.csv", rows)
    output = run(str(path), "--skip-invalid")
    assert Event.objects.count() == 8
    assert "rows read 10, inserted 8, already present 0, rejected 2" in output
    assert 'line 4: timestamp: must be an ISO 8601 timestamp, got "yesterday"' in output
    assert 'line 8: event_id: must be a UUID, got "not-a-uuid"' in output


def test_an_event_for_an_unknown_product_is_kept_and_joins_the_product_once_imported(tmp_path):
    events = write_csv(tmp_path / "events.csv", [event(0, product_id="NEW-1")])
    run(str(events))
    stored = Event.objects.get()
    assert stored.product_id == "NEW-1"
    assert not Product.objects.filter(external_id="NEW-1").exists()
    products = tmp_path / "products.csv"
    products.write_text("external_id,title,price\nNEW-1,Trail shoe,59.90\n")
    call_command("import_products", str(products), stdout=io.StringIO())
    assert Event.objects.select_related("product").get().product.title == "Trail shoe"


@pytest.mark.parametrize("name", ["events.jsonl", "events.ndjson.gz", "events.csv", "events.csv.gz"])
def test_csv_and_json_lines_plain_or_gzipped_load_the_same_events(tmp_path, name):
    rows = [event(n) for n in range(12)]
    rows[3].update(event_type="click", position="")
    writer = write_jsonl if ".jsonl" in name or ".ndjson" in name else write_csv
    plain = writer(tmp_path / name.removesuffix(".gz"), rows)
    path = plain
    if name.endswith(".gz"):
        path = tmp_path / name
        path.write_bytes(gzip.compress(plain.read_bytes()))
    run(str(path))
    stored = Event.objects.order_by("event_id")
    assert stored.count() == 12
    click = stored.get(event_id=uuid.UUID(rows[3]["event_id"]))
    assert (click.event_type, click.position, click.query_norm) == ("click", None, "running shoes")
    assert (
        stored.get(event_id=uuid.UUID(rows[0]["event_id"])).timestamp.isoformat()
        == "2026-09-07T10:00:00+00:00"
    )


def test_text_with_tabs_backslashes_quotes_and_line_breaks_is_stored_as_typed(tmp_path):
    typed = 'Shoes\t"42"\\ size\nEU'
    path = write_csv(tmp_path / "events.csv", [event(0, query=typed, user_id="ü-ñ")])
    run(str(path))
    stored = Event.objects.get()
    assert (stored.query, stored.user_id, stored.query_norm) == (typed, "ü-ñ", "shoes 42 size eu")


def test_an_unreadable_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="no such file"):
        run(str(tmp_path / "missing.csv"))
    header_only = tmp_path / "events.csv"
    header_only.write_text("event_id,event_type\n")
    with pytest.raises(CommandError, match="missing column"):
        run(str(header_only))


def test_the_embedded_sqlite_set_up_imports_through_the_same_command(tmp_path):
    path = write_csv(tmp_path / "events.csv", [event(n) for n in range(40)] + [event(3, position="0")])
    database = tmp_path / "x.sqlite3"
    env = {
        **{key: value for key, value in os.environ.items() if key not in ("REDIS_URL", "TEST_DATABASE_NAME")},
        "DATABASE_URL": f"sqlite:///{database}",
        "SECRET_KEY": "x",
        "SEARCHOP_VAR_DIR": str(tmp_path),
    }

    def manage(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
        )

    assert manage("migrate", "-v", "0").returncode == 0
    rejected = manage("import_events", str(path))
    assert rejected.returncode != 0
    assert 'line 42: position: must be an integer >= 1, got "0"' in rejected.stderr
    first = manage("import_events", str(path), "--skip-invalid")
    second = manage("import_events", str(path), "--skip-invalid")
    assert first.returncode == second.returncode == 0, first.stderr
    assert "inserted 40, already present 0, rejected 1" in first.stdout
    assert "inserted 0, already present 40, rejected 1" in second.stdout
    with sqlite3.connect(database) as connection:
        assert connection.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM catalog_event"
        ).fetchone() == (40, 40)
        query_norm, timestamp = connection.execute(
            "SELECT query_norm, timestamp FROM catalog_event WHERE position = 1 ORDER BY id LIMIT 1"
        ).fetchone()
    assert query_norm == "running shoes"
    assert timestamp.startswith("2026-09-07 10:00:00")
