"""The product text as a stored ``tsvector`` with a GIN index, for the query playground's
full-text search (PostgreSQL only; the embedded SQLite searches with the in-memory BM25
instead: ``catalog.search``).

A generated column (``search_document``, kept up to date by PostgreSQL on every write) rather
than an index on the expression alone: ranking the matches (``ts_rank``) needs each match's
vector, and computing ``to_tsvector`` of every matching description in the request cost about
0.2 ms a product. The column is not a field of the Django model (SQLite has no ``tsvector``);
``catalog.search`` reads it by name, and the importers name the columns they write, so a
generated one is never written by hand. The SQL is written out here rather than imported, so
that this migration keeps doing what it did when ``catalog.search`` changes.
"""

from django.db import migrations

COLUMN = "search_document"
INDEX = "catalog_product_text_search"
DOCUMENT = "to_tsvector('english'::regconfig, title || ' ' || brand || ' ' || category || ' ' || description)"


def search_document_add(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"ALTER TABLE catalog_product ADD COLUMN IF NOT EXISTS {COLUMN} tsvector "
            f"GENERATED ALWAYS AS ({DOCUMENT}) STORED"
        )
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON catalog_product USING gin ({COLUMN})")


def search_document_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")
        schema_editor.execute(f"ALTER TABLE catalog_product DROP COLUMN IF EXISTS {COLUMN}")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0005_partition_events_and_requests")]

    operations = [migrations.RunPython(search_document_add, search_document_drop, elidable=False)]
