"""A GIN index on the product text for the query playground's full-text search (PostgreSQL
only; the embedded SQLite searches with the in-memory BM25 instead: ``catalog.search``).

The indexed expression is what ``catalog.search.product_search_vector()`` compiles to; the
planner uses the index only for that exact expression, which ``tests/integration/
test_product_search.py`` checks with EXPLAIN. The SQL is written out here rather than
imported, so that this migration keeps doing what it did when ``catalog.search`` changes.
"""

from django.db import migrations

INDEX = "catalog_product_text_search"
EXPRESSION = (
    "to_tsvector('english'::regconfig, COALESCE(title, '') || ' ' || COALESCE(brand, '') || ' ' "
    "|| COALESCE(category, '') || ' ' || COALESCE(description, ''))"
)


def index_create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON catalog_product USING gin ({EXPRESSION})"
        )


def index_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0005_partition_events_and_requests")]

    operations = [migrations.RunPython(index_create, index_drop, elidable=False)]
