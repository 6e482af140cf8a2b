from __future__ import annotations

from catalog.columns import EVENTS
from catalog.management.importing import POLICY, ImportCommand
from catalog.services import events_import


class Command(ImportCommand):
    help = (
        "Import clickstream events from a CSV or JSON Lines file (.csv, .jsonl, .ndjson, "
        f"optionally .gz). Columns: {', '.join(EVENTS.file_names)}. event_id is a UUID and the "
        "key: events already stored are skipped, so importing a file twice is harmless. "
        "timestamp is ISO 8601 (naive means UTC); position (from 1) is required for "
        "impressions; product_id is the product's external_id, and events for products not "
        "in the catalog yet are kept. " + POLICY
    )
    what = "events"
    service = staticmethod(events_import)
