"""Writes to the catalog and the clickstream."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import Any, TypedDict, Unpack

import numpy as np
import pandas as pd
from django.db import transaction
from django.db.models import Case, F, OuterRef, Subquery, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from catalog import loading, text
from catalog.columns import EVENTS, PRODUCTS, Column, Columns, Kind
from catalog.importers import validation
from catalog.importers.reading import CHUNK_ROWS, ImportFileError, RawChunk, RowError, read_chunks
from catalog.importers.validation import Checked
from catalog.models import Event, GroundTruth, Product, SearchRequest
from catalog.progress import Reporter
from catalog.synthetic import Generator, Summary, SyntheticConfig

QUERY_NORM_LIMIT = EVENTS.limits["query_norm"]
# Every product column but the key: a known product's row overwrites them all.
PRODUCT_UPDATE_FIELDS = [column.field_name for column in PRODUCTS if column.name != PRODUCTS.key]


def products_upsert(*, rows: Iterable[Mapping[str, Any]], batch_size: int = 2_000) -> int:
    """Insert or update products by ``external_id`` (rows already validated). Transactional:
    all rows or none. Returns the number of rows written."""
    written = 0
    batch: list[Product] = []
    with transaction.atomic():
        for row in rows:
            batch.append(Product(**{column.field_name: _stored(column, row) for column in PRODUCTS}))
            if len(batch) >= batch_size:
                written += _products_write(batch)
                batch = []
        written += _products_write(batch)
    return written


def _stored(column: Column, row: Mapping[str, Any]) -> Any:
    """A validated product value as the model field takes it; a missing optional one as the
    field's default."""
    value = row.get(column.name)
    if column.kind == Kind.FLAG:
        return bool(row.get(column.name, True))
    if column.kind in (Kind.MONEY, Kind.RATING):
        return None if value is None else Decimal(str(value))
    if column.kind == Kind.JSON:
        return value or {}
    return str(value) if value else ""


def _products_write(batch: list[Product]) -> int:
    if not batch:
        return 0
    Product.objects.bulk_create(
        batch,
        update_conflicts=True,
        unique_fields=[PRODUCTS.key],
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
        info["products"] = products_upsert(rows=_product_rows(products))
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


class ImportOptions(TypedDict, total=False):
    skip_invalid: bool  # load the good rows and report the bad ones; default: reject the file
    reporter: Reporter | None
    chunk_rows: int  # rows read at a time


@dataclass(frozen=True)
class ImportResult:
    """What an import did. ``committed`` is False when the file was rejected whole (nothing
    written). ``errors`` holds the first ``MAX_REPORTED_ERRORS`` problems in line order;
    ``rejected`` counts every bad row."""

    path: str
    rows_read: int
    inserted: int
    rejected: int
    errors: tuple[RowError, ...]
    committed: bool
    duplicates: int = 0  # events whose event_id was already stored (or repeated in the file)
    updated: int = 0  # products that existed and were overwritten


def events_import(*, path: Path | str, **options: Unpack[ImportOptions]) -> ImportResult:
    """Import an events file (CSV or JSON Lines, optionally gzipped). Transactional: the whole
    file is one transaction, never half-written. Idempotent by ``event_id``: a second import
    of the same file inserts nothing. With a bad row and without ``skip_invalid`` nothing is
    written (``committed`` False); with it, the good rows are loaded. Events for products the
    catalog does not know are kept. Raises ``ImportFileError`` for an unreadable file."""
    run = _FileImport(Path(path), EVENTS, **options)
    with transaction.atomic():
        loader = loading.EventsLoader()
        with run.reporter.step(f"Reading, validating and staging {run.path.name}") as info:
            for valid in run.valid_chunks(validation.events_check):
                loader.add(valid)
            info.update(rows=run.rows, valid=run.valid, rejected=run.rejected)
        if run.rejected_whole():
            return run.result(inserted=0, committed=False)
        with run.reporter.step("Inserting new events (stored event ids skipped)") as info:
            inserted = loader.finish()
            info.update(inserted=inserted, duplicates=run.valid - inserted)
    return run.result(inserted=inserted, duplicates=run.valid - inserted)


def products_import(*, path: Path | str, **options: Unpack[ImportOptions]) -> ImportResult:
    """Import a products file (CSV or JSON Lines, optionally gzipped): upsert by
    ``external_id``, a row for a known product overwrites it. Transactional like
    ``events_import`` and with the same policy for bad rows; an ``external_id`` repeated in
    the file is a bad row (which of the two is meant is not ours to guess)."""
    run = _FileImport(Path(path), PRODUCTS, **options)
    inserted = updated = 0
    seen: dict[str, int] = {}
    with transaction.atomic():
        with run.reporter.step(f"Reading, validating and upserting {run.path.name}") as info:
            for valid in run.valid_chunks(partial(validation.products_check, seen=seen)):
                existing = _products_existing(external_ids=valid["external_id"].tolist())
                written = products_upsert(rows=_product_rows(valid))
                inserted += written - existing
                updated += existing
            info.update(rows=run.rows, inserted=inserted, updated=updated, rejected=run.rejected)
        if run.rejected_whole():
            return run.result(inserted=0, committed=False)
    return run.result(inserted=inserted, updated=updated)


class _FileImport:
    """One file's reading, checking and counting; the service writes the valid rows."""

    def __init__(
        self,
        path: Path,
        columns: Columns,
        *,
        skip_invalid: bool = False,
        reporter: Reporter | None = None,
        chunk_rows: int = CHUNK_ROWS,
    ):
        self.path, self.columns, self.skip_invalid, self.chunk_rows = path, columns, skip_invalid, chunk_rows
        self.reporter = reporter or Reporter.silent()
        self.rows = self.rejected = 0
        self.errors: list[RowError] = []

    @property
    def valid(self) -> int:
        return self.rows - self.rejected

    def valid_chunks(self, check: Callable[[pd.DataFrame, np.ndarray], Checked]) -> Iterator[pd.DataFrame]:
        """Each chunk's valid rows, as long as they may be written: always with ``skip_invalid``,
        else until the first bad row (the rest of the file is still checked, for the report)."""
        if not self.path.is_file():
            raise ImportFileError(f"{self.path}: no such file")
        with self.reporter.bar(total=self.path.stat().st_size, unit="B", desc=self.path.name) as bar:
            for chunk in read_chunks(self.path, columns=self.columns, chunk_rows=self.chunk_rows):
                checked = check(chunk.frame, chunk.lines)
                self._count(chunk, checked)
                if self.skip_invalid or not self.rejected:
                    yield checked.valid
                bar.update(chunk.position - bar.n)

    def _count(self, chunk: RawChunk, checked: Checked) -> None:
        # Rows the reader could not split are bad rows too, just not in the frame.
        self.rows += len(chunk.frame) + len(chunk.errors)
        self.rejected += checked.rejected + len(chunk.errors)
        room = MAX_REPORTED_ERRORS - len(self.errors)
        if room > 0:
            self.errors.extend(sorted([*chunk.errors, *checked.errors])[:room])

    def rejected_whole(self) -> bool:
        """Whether a bad row rejects the whole file; if so, the transaction is set to roll back."""
        if self.rejected and not self.skip_invalid:
            transaction.set_rollback(True)
            return True
        return False

    def result(self, *, inserted: int, committed: bool = True, **counts: int) -> ImportResult:
        return ImportResult(
            path=str(self.path),
            rows_read=self.rows,
            inserted=inserted,
            rejected=self.rejected,
            errors=tuple(self.errors),
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
                "query_norm": text.normalise(query)[:QUERY_NORM_LIMIT],
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
