"""Writes to the catalog and the clickstream."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from django.db import transaction
from django.db.models import Case, F, OuterRef, Subquery, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from catalog import importers, loading, text
from catalog.models import Event, GroundTruth, Product, SearchRequest
from catalog.progress import Reporter
from catalog.synthetic import Generator, Summary, SyntheticConfig

PRODUCT_UPDATE_FIELDS = [
    "title",
    "description",
    "brand",
    "category",
    "price",
    "rating",
    "attributes",
    "active",
]


def products_upsert(*, rows: Iterable[Mapping[str, Any]], batch_size: int = 2_000) -> int:
    """Insert or update products by ``external_id`` (rows already validated). Transactional:
    all rows or none. Returns the number of rows written."""
    written = 0
    batch: list[Product] = []
    with transaction.atomic():
        for row in rows:
            batch.append(
                Product(
                    external_id=str(row["external_id"]),
                    title=row["title"],
                    description=row.get("description") or "",
                    brand=row.get("brand") or "",
                    category=row.get("category") or "",
                    price=Decimal(str(row["price"])),
                    rating=None if row.get("rating") is None else Decimal(str(row["rating"])),
                    attributes=row.get("attributes") or {},
                    active=bool(row.get("active", True)),
                )
            )
            if len(batch) >= batch_size:
                written += _products_write(batch)
                batch = []
        written += _products_write(batch)
    return written


def _products_write(batch: list[Product]) -> int:
    if not batch:
        return 0
    Product.objects.bulk_create(
        batch,
        update_conflicts=True,
        unique_fields=["external_id"],
        update_fields=[*PRODUCT_UPDATE_FIELDS, "updated_at"],
    )
    return len(batch)


def synthetic_data_flush() -> None:
    """Delete the synthetic lists, their events and truth, and every product (a clean slate)."""
    with transaction.atomic():
        GroundTruth.objects.all().delete()
        SearchRequest.objects.filter(source=SearchRequest.Source.SYNTHETIC).delete()
        Event.objects.all().delete()
        Product.objects.all().delete()


def synthetic_data_generate(*, config: SyntheticConfig, reporter: Reporter | None = None) -> Summary:
    """Generate the synthetic shop and load it: products (upserted), events, the impression
    log of its lists and the ground truth. Deterministic for ``config.seed`` and idempotent:
    a second run with the same seed adds no event. Each chunk commits on its own, so ten
    million events stream through bounded memory; a chunk that fails leaves nothing of itself."""
    reporter = reporter or Reporter.silent()
    generator = Generator(config)
    products = generator.catalog.frame()
    with reporter.step("Writing the catalog") as info:
        info["products"] = products_upsert(
            rows=(
                {**row, "rating": None if pd.isna(row["rating"]) else row["rating"]}
                for row in products.to_dict("records")
            )
        )
        info["categories"] = config.categories
    with reporter.step("Generating and loading lists, events and ground truth") as info:
        bar = reporter.bar(total=config.events, unit="ev", desc="events")
        inserted = 0
        with bar:
            for chunk in generator.chunks():
                with transaction.atomic():
                    inserted += loading.events_load(chunk.events)
                    loading.search_requests_load(chunk.requests)
                    loading.ground_truth_load(chunk.truth)
                bar.update(len(chunk.events))
        info["events"] = generator.summary.events
        info["new_events"] = inserted
        info["lists"] = generator.summary.lists
    return generator.summary


# ------------------------------------------------------------------------------------
# Importing a shop's files
# ------------------------------------------------------------------------------------

MAX_REPORTED_ERRORS = 1_000


@dataclass(frozen=True)
class ImportResult:
    """What an import did. ``committed`` is False when the file was rejected whole (nothing
    written). ``errors`` holds the first ``MAX_REPORTED_ERRORS`` problems in line order;
    ``rejected`` counts every bad row."""

    path: str
    rows_read: int
    inserted: int
    rejected: int
    errors: tuple[importers.RowError, ...]
    committed: bool
    duplicates: int = 0  # events whose event_id was already stored (or repeated in the file)
    updated: int = 0  # products that existed and were overwritten


@dataclass
class _Tally:
    rows: int = 0
    rejected: int = 0
    errors: list[importers.RowError] = field(default_factory=list)

    def add(self, chunk: importers.RawChunk, checked: importers.Checked) -> None:
        # Rows the reader could not split are bad rows too, just not in the frame.
        self.rows += len(chunk.frame) + len(chunk.errors)
        self.rejected += checked.rejected + len(chunk.errors)
        room = MAX_REPORTED_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(sorted([*chunk.errors, *checked.errors])[:room])


def events_import(
    *,
    path: Path | str,
    skip_invalid: bool = False,
    reporter: Reporter | None = None,
    chunk_rows: int = importers.CHUNK_ROWS,
) -> ImportResult:
    """Import an events file (CSV or JSON Lines, optionally gzipped). Transactional: the whole
    file is one transaction, never half-written. Idempotent by ``event_id``: a second import
    of the same file inserts nothing. With a bad row and without ``skip_invalid`` nothing is
    written (``committed`` False); with it, the good rows are loaded. Events for products the
    catalog does not know are kept. Raises ``importers.ImportFileError`` for an unreadable file."""
    reporter = reporter or Reporter.silent()
    path = Path(path)
    tally = _Tally()
    with transaction.atomic():
        loader = loading.EventsLoader()
        with reporter.step(f"Reading, validating and staging {path.name}") as info:
            for chunk in _chunks_with_bar(
                path, reporter, importers.EVENT_COLUMNS, importers.EVENT_REQUIRED_COLUMNS, chunk_rows
            ):
                checked = importers.events_check(chunk.frame, chunk.lines)
                tally.add(chunk, checked)
                # Once the file is known to be rejected, keep validating for the report only.
                if skip_invalid or not tally.rejected:
                    loader.add(checked.valid)
            info.update(rows=tally.rows, valid=tally.rows - tally.rejected, rejected=tally.rejected)
        if tally.rejected and not skip_invalid:
            transaction.set_rollback(True)
            return _result(path, tally, inserted=0, committed=False)
        with reporter.step("Inserting new events (stored event ids skipped)") as info:
            inserted = loader.finish()
            info.update(inserted=inserted, duplicates=tally.rows - tally.rejected - inserted)
    return _result(path, tally, inserted=inserted, duplicates=tally.rows - tally.rejected - inserted)


def products_import(
    *,
    path: Path | str,
    skip_invalid: bool = False,
    reporter: Reporter | None = None,
    chunk_rows: int = importers.CHUNK_ROWS,
) -> ImportResult:
    """Import a products file (CSV or JSON Lines, optionally gzipped): upsert by
    ``external_id``, a row for a known product overwrites it. Transactional like
    ``events_import`` and with the same policy for bad rows; an ``external_id`` repeated in
    the file is a bad row (which of the two is meant is not ours to guess)."""
    reporter = reporter or Reporter.silent()
    path = Path(path)
    tally = _Tally()
    inserted = updated = 0
    seen: dict[str, int] = {}
    with transaction.atomic():
        with reporter.step(f"Reading, validating and upserting {path.name}") as info:
            for chunk in _chunks_with_bar(
                path, reporter, importers.PRODUCT_COLUMNS, importers.PRODUCT_REQUIRED_COLUMNS, chunk_rows
            ):
                checked = importers.products_check(chunk.frame, chunk.lines, seen=seen)
                tally.add(chunk, checked)
                if skip_invalid or not tally.rejected:
                    existing = _products_existing(external_ids=checked.valid["external_id"].tolist())
                    written = products_upsert(rows=_product_rows(checked.valid))
                    inserted += written - existing
                    updated += existing
            info.update(rows=tally.rows, inserted=inserted, updated=updated, rejected=tally.rejected)
        if tally.rejected and not skip_invalid:
            transaction.set_rollback(True)
            return _result(path, tally, inserted=0, committed=False)
    return _result(path, tally, inserted=inserted, updated=updated)


def _chunks_with_bar(
    path: Path, reporter: Reporter, columns: tuple[str, ...], required: tuple[str, ...], chunk_rows: int
) -> Iterator[importers.RawChunk]:
    if not path.is_file():
        raise importers.ImportFileError(f"{path}: no such file")
    with reporter.bar(total=path.stat().st_size, unit="B", desc=path.name) as bar:
        for chunk in importers.read_chunks(path, columns=columns, required=required, chunk_rows=chunk_rows):
            yield chunk
            bar.update(chunk.position - bar.n)


def _result(
    path: Path, tally: _Tally, *, inserted: int, committed: bool = True, **counts: int
) -> ImportResult:
    return ImportResult(
        path=str(path),
        rows_read=tally.rows,
        inserted=inserted,
        rejected=tally.rejected,
        errors=tuple(tally.errors),
        committed=committed,
        **counts,
    )


def _products_existing(*, external_ids: list[str], batch: int = 500) -> int:
    # Batched so SQLite's limit on query parameters is never reached.
    return sum(
        Product.objects.filter(external_id__in=external_ids[start : start + batch]).count()
        for start in range(0, len(external_ids), batch)
    )


def _product_rows(frame: pd.DataFrame) -> Iterator[dict[str, Any]]:
    for row in frame.to_dict("records"):
        # products_upsert expects None, not NaN, for an unrated product.
        yield {**row, "rating": None if pd.isna(row["rating"]) else row["rating"]}


@dataclass(frozen=True)
class IngestResult:
    received: int
    stored: int

    @property
    def duplicates(self) -> int:
        return self.received - self.stored


def events_ingest(*, events: list[dict[str, Any]]) -> IngestResult:
    """Store a batch of validated events from ``/api/events``.

    Idempotent by ``event_id`` (a re-sent event is stored once) and all-or-nothing: one
    transaction for the batch, so the caller answers 2xx only after it committed. Each
    event is ``{event_id, event_type, product_id, request_id, position, timestamp, query,
    user_id, session_id}``; a missing query, user or session is taken from the impression
    log row of its request. An event for a product the catalog does not know is kept.
    """
    if not events:
        return IngestResult(received=0, stored=0)
    request_ids = {e["request_id"] for e in events if e.get("request_id")}
    logged = {
        row[0]: row[1:]
        for row in SearchRequest.objects.filter(request_id__in=request_ids).values_list(
            "request_id", "query", "user_id", "session_id"
        )
    }
    now = timezone.now()
    rows = []
    for event in events:
        logged_query, user_id, session_id = logged.get(event.get("request_id") or "", ("", "", ""))
        query = str(event["query"]) if event.get("query") is not None else logged_query
        rows.append(
            {
                "event_id": str(event["event_id"]),
                "event_type": event["event_type"],
                "timestamp": event.get("timestamp") or now,
                "user_id": event.get("user_id") if event.get("user_id") is not None else user_id,
                "session_id": event.get("session_id") if event.get("session_id") is not None else session_id,
                "query": query,
                # NFKC can lengthen a query (U+FDFA is 18 letters): cut to the column.
                "query_norm": text.normalise(query)[:512],
                "product_id": str(event["product_id"]),
                "position": event.get("position"),
                "request_id": event.get("request_id") or "",
                "ingested_at": now,
            }
        )
    frame = pd.DataFrame(rows)
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    frame["ingested_at"] = pd.to_datetime(frame["ingested_at"], utc=True)
    frame["position"] = frame["position"].astype("Int64")
    with transaction.atomic():
        stored = loading.events_load(frame)
    return IngestResult(received=len(events), stored=stored)


def events_request_context_fill() -> int:
    """Give events sent without a query the query, user and session of their request's
    impression-log row, where the row was written after them (``/api/events`` takes them
    from the row when it is already there; the log is written in batches a fraction of a
    second after the response, later while the database was down, so a fast client's events
    can come first). User and session are filled only where empty: what a client sent
    stays. Set-based, through the (query_norm, product) index: run before features are
    built. Returns the number of events filled."""
    logged = SearchRequest.objects.filter(request_id=OuterRef("request_id"))

    def from_log(name: str) -> Subquery:
        return Subquery(logged.values(name)[:1])

    def where_empty(name: str) -> Case:
        return Case(When(**{name: ""}, then=Coalesce(from_log(name), F(name))), default=F(name))

    with_query = SearchRequest.objects.exclude(query_norm="").values("request_id")
    return Event.objects.filter(query_norm="", query="", request_id__in=with_query).update(
        query=from_log("query"),
        query_norm=from_log("query_norm"),
        user_id=where_empty("user_id"),
        session_id=where_empty("session_id"),
    )
