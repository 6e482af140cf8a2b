"""Partition the events and the impression log by month of ``timestamp`` (PostgreSQL only).

On PostgreSQL each table is rebuilt as a partitioned table: a partition per month from the
month of its oldest row to three months ahead, and a default partition for anything else;
the rows are copied (ids kept), then the keys and indexes are built again under their old
names, the primary key becoming (id, timestamp) since a partitioned table's unique keys must
hold its partition key (the other unique keys already do: migration 0004). The copy holds
the tables locked: plan for about a minute per few million events (docs/DEPLOYMENT.md).
Afterwards ``catalog.partitions`` keeps the months coming (a daily task).

SQLite, the embedded demo, keeps plain tables: nothing to do there.

The SQL is written out here rather than imported, so that this migration keeps doing what
it did when ``catalog.partitions`` changes.
"""

from datetime import UTC, datetime

from django.db import migrations

TABLES = ("catalog_event", "catalog_searchrequest")
KEY = "timestamp"
AHEAD_MONTHS = 3
OLDEST_MONTHS = 120


def month_add(month, months):
    index = month.year * 12 + month.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def table_indexes(cursor, table):
    """(name, definition, constraint type or None, constraint definition) of each index."""
    cursor.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid), c.contype, pg_get_constraintdef(c.oid) "
        "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
        "LEFT JOIN pg_constraint c ON c.conindid = x.indexrelid AND c.conrelid = x.indrelid "
        "WHERE x.indrelid = %s::regclass ORDER BY i.relname",
        [table],
    )
    return cursor.fetchall()


def rebuild(cursor, table, *, partitioned):
    """Rebuild ``table`` (partitioned or plain) with its rows, keys and indexes."""
    old = f"{table}_before_0005"
    cursor.execute(f"ALTER TABLE {table} RENAME TO {old}")
    indexes = table_indexes(cursor, old)
    cursor.execute(f'SELECT min("{KEY}"), max(id) FROM {old}')
    oldest, last_id = cursor.fetchone()
    cursor.execute(
        f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING IDENTITY)"
        + (f' PARTITION BY RANGE ("{KEY}")' if partitioned else "")
    )
    if partitioned:
        now = datetime.now(UTC)
        this_month = datetime(now.year, now.month, 1, tzinfo=UTC)
        # From the oldest row's month, but no more than ten years back (older rows go to the
        # default partition), to three months ahead.
        month = datetime((oldest or now).year, (oldest or now).month, 1, tzinfo=UTC)
        month = max(month, month_add(this_month, -OLDEST_MONTHS))
        last = month_add(this_month, AHEAD_MONTHS)
        while month <= last:
            cursor.execute(
                f"CREATE TABLE {table}_{month:%Y_%m} PARTITION OF {table} FOR VALUES FROM (%s) TO (%s)",
                [month, month_add(month, 1)],
            )
            month = month_add(month, 1)
        cursor.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    cursor.execute(f"INSERT INTO {table} SELECT * FROM {old}")
    cursor.execute(f"DROP TABLE {old} CASCADE")
    # The identity's sequence was created beside the old one's: give it the usual name.
    cursor.execute("SELECT pg_get_serial_sequence(%s, 'id')", [table])
    (sequence,) = cursor.fetchone()
    cursor.execute(f"ALTER SEQUENCE {sequence} RENAME TO {table}_id_seq")
    cursor.execute("SELECT setval(%s, %s, %s)", [f"{table}_id_seq", last_id or 1, last_id is not None])
    for name, definition, kind, constraint in indexes:
        if kind in ("p", "u"):
            columns = constraint[constraint.index("(") + 1 : constraint.rindex(")")]
            columns = [column.strip() for column in columns.split(",")]
            if kind == "p":  # the primary key is (id) plain and (id, timestamp) partitioned
                columns = ["id", f'"{KEY}"'] if partitioned else ["id"]
            elif f'"{KEY}"' not in columns:
                raise RuntimeError(f"{table}: unique key {name} lacks {KEY}; partitioning needs it")
            kind_sql = "PRIMARY KEY" if kind == "p" else "UNIQUE"
            cursor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {name} {kind_sql} ({', '.join(columns)})")
        else:
            # A partitioned table's index reads "ON ONLY": built on the parent alone.
            for on in (f" ON ONLY public.{old} ", f" ON public.{old} "):
                definition = definition.replace(on, f" ON public.{table} ")
            cursor.execute(definition)
    cursor.execute(f"ANALYZE {table}")


def partition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table in TABLES:
            rebuild(cursor, table, partitioned=True)


def unpartition(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        for table in TABLES:
            rebuild(cursor, table, partitioned=False)


class Migration(migrations.Migration):
    dependencies = [("catalog", "0004_event_and_request_keys_hold_their_time")]

    operations = [migrations.RunPython(partition, unpartition)]
