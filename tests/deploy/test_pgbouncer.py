"""The connection budget's pooler: the suite's API tests pass through PgBouncer in
transaction pooling with the one setting Django needs for it (no server-side cursors).
PgBouncer (Debian's package) is started by .ci/run (.ci/pgbouncer-start) on its own port
in front of the test PostgreSQL."""

from __future__ import annotations

import os
import re
import sys
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from tests.deploy.support import run

PORT = int(os.environ.get("SEARCHOP_TEST_PGBOUNCER_PORT", "6433"))


def pgbouncer_answers() -> bool:
    try:
        psycopg.connect(
            host="127.0.0.1", port=PORT, user="postgres", dbname="pgbouncer", connect_timeout=3
        ).close()
    except psycopg.OperationalError:
        return False
    return True


def transactions_pooled(database: str) -> int:
    """PgBouncer's count of transactions it pooled for ``database`` (its admin console)."""
    with psycopg.connect(
        host="127.0.0.1", port=PORT, user="postgres", dbname="pgbouncer", autocommit=True
    ) as admin:
        cursor = admin.execute("SHOW STATS")
        columns = [column.name for column in cursor.description or ()]
        stats = {
            row["database"]: row for row in (dict(zip(columns, values, strict=True)) for values in cursor)
        }
    return int(stats[database]["total_xact_count"]) if database in stats else 0


@pytest.fixture
def through_pgbouncer() -> dict[str, str]:
    """The environment of a test run whose every connection goes through PgBouncer, with a
    test database of its own."""
    if not pgbouncer_answers():
        pytest.fail(
            f"no PgBouncer on 127.0.0.1:{PORT}: start it with `bash .ci/pgbouncer-start` (.ci/run does)"
        )
    parts = urlsplit(os.environ["DATABASE_URL"])
    user = f"{parts.username}@" if parts.username else ""
    test_database = (os.environ.get("TEST_DATABASE_NAME") or f"test_{parts.path.lstrip('/')}") + "_pgbouncer"
    return {
        **os.environ,
        "DATABASE_URL": urlunsplit(parts._replace(netloc=f"{user}127.0.0.1:{PORT}")),
        "DATABASE_DISABLE_SERVER_SIDE_CURSORS": "1",
        "TEST_DATABASE_NAME": test_database,
    }


def test_the_api_tests_pass_through_pgbouncer_in_transaction_pooling(through_pgbouncer):
    database = through_pgbouncer["TEST_DATABASE_NAME"]
    before = transactions_pooled(database)

    result = run(
        [sys.executable, "-m", "pytest", "tests/integration/api", "-q", "-p", "no:cacheprovider"],
        env=through_pgbouncer,
        timeout=1200,
    )

    summary = result.stdout.strip().splitlines()[-1]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    passed = int(re.search(r"(\d+) passed", summary).group(1))
    assert passed >= 100, summary
    assert "failed" not in summary
    assert "error" not in summary
    # Every one of them went through PgBouncer: it pooled at least a transaction per test.
    assert transactions_pooled(database) - before >= passed
