"""The traffic and health dashboard (``/admin/dashboard/``): searches and events per minute,
latency percentiles, the fallback share and click-through from the catalog's tables; the
scheduler's heartbeat and next runs; drift. Read-only: selectors and the page's view."""
