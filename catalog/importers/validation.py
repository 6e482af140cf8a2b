"""Validating the rows of a shop's event or product file: text frames in, typed frames and errors out.

``events_check`` / ``products_check`` take a chunk of text fields (from
``catalog.importers.reading``) and return ``Checked``: the typed rows that passed and an error
per bad field, with its line. No database: every rule can be unit-tested on a small frame.

No row-by-row Python loop runs over a chunk of events: checks are whole-column operations,
and the only per-item work is over distinct values (query normalisation) or the rows already
known to be bad (the messages). Product attributes are parsed value by value (catalogs are
small next to clickstreams).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import numpy as np
import pandas as pd
from django.db import models

from catalog.columns import EVENTS, PRODUCTS, Columns
from catalog.importers.reading import RowError, json_parsed
from catalog.models import EventType
from catalog.text import normalise

# Per chunk; a file whose every row is bad must not build a million messages nobody reads.
ERROR_LIMIT = 1_000
# Checked here, since PostgreSQL would otherwise fail the whole transaction on one bad value,
# with no line number.
SMALLINT_MAX = 32_767
# An event sent to the API happened after this and no more than a clock's skew from now.
EVENT_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
EVENT_CLOCK_SKEW = timedelta(days=1)
_PRICE = cast(models.DecimalField, PRODUCTS.model_field("price"))
PRICE_LIMIT = 10 ** (_PRICE.max_digits - _PRICE.decimal_places)
SHOWN_CHARS = 40

_UUID = r"[0-9a-fA-F]{8}(?:-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}"
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")


@dataclass
class Checked:
    valid: pd.DataFrame
    errors: list[RowError]
    rejected: int  # rows with at least one error; ``errors`` may be cut at ERROR_LIMIT


class _Problems:
    """Collects bad-row masks per field; messages are built only for the first bad rows."""

    def __init__(self, frame: pd.DataFrame, lines: np.ndarray, limit: int):
        self.frame = frame
        self.lines = lines
        self.limit = limit
        self.bad = np.zeros(len(frame), dtype=bool)
        self._found: list[tuple[np.ndarray, str, Callable[[int], str]]] = []

    def flag(self, name: str, mask: np.ndarray | pd.Series, problem: str, *, show: bool = True) -> None:
        """Flag the rows in ``mask``: ``problem`` plus the value found unless ``show`` is off."""
        values = self.frame[name].to_numpy()
        self.flag_each(
            name,
            mask,
            (lambda index: f'{problem}, got "{_shown(values[index])}"') if show else (lambda _: problem),
        )

    def flag_each(self, name: str, mask: np.ndarray | pd.Series, message: Callable[[int], str]) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        self.bad |= mask
        self._found.append((np.flatnonzero(mask), name, message))

    def required(self, name: str) -> np.ndarray:
        """Flags empty values; returns the mask of present ones."""
        present = (self.frame[name] != "").to_numpy()
        self.flag(name, ~present, "required", show=False)
        return present

    def too_long(self, limits: dict[str, int]) -> None:
        for name, limit in limits.items():
            values = self.frame[name].to_numpy()
            # max() over lengths is one C pass; the mask only when some value is too long.
            if len(values) and max(map(len, values)) > limit:
                self.flag(name, self.frame[name].str.len() > limit, f"longer than {limit} characters")

    def checked(self, columns: Columns, typed: dict[str, Any]) -> Checked:
        """The rows without a problem in ``columns``' order: the values in ``typed`` (already
        cut to those rows) where the check made them, the text as read for the rest."""
        good = ~self.bad
        valid = pd.DataFrame(
            {
                name: typed[name] if name in typed else self.frame[name].to_numpy()[good]
                for name in columns.names
            }
        )
        return Checked(valid=valid, errors=self.errors(), rejected=int(self.bad.sum()))

    def errors(self) -> list[RowError]:
        if not self._found:
            return []
        rows = np.concatenate([indexes for indexes, _, _ in self._found])
        which = np.concatenate([np.full(len(indexes), k) for k, (indexes, _, _) in enumerate(self._found)])
        order = np.lexsort((which, rows))[: self.limit]
        return sorted(
            [
                RowError(
                    line=int(self.lines[rows[k]]),
                    field=self._found[which[k]][1],
                    problem=self._found[which[k]][2](rows[k]),
                )
                for k in order
            ]
        )


def _shown(value: object) -> str:
    text = str(value)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def _numbers(column: pd.Series) -> np.ndarray:
    return pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def events_check(raw: pd.DataFrame, lines: np.ndarray, *, error_limit: int = ERROR_LIMIT) -> Checked:
    """Validate event rows (all fields text). ``valid`` has the loader's columns: ``event_id``,
    ``event_type``, ``timestamp`` (UTC; naive input means UTC), the text fields, ``query_norm``
    and ``position`` (nullable integer)."""
    problems = _Problems(raw, lines, error_limit)

    has_id = problems.required("event_id")
    problems.flag(
        "event_id", has_id & ~raw["event_id"].str.fullmatch(_UUID).to_numpy(dtype=bool), "must be a UUID"
    )

    event_type = raw["event_type"]
    has_type = problems.required("event_type")
    problems.flag(
        "event_type",
        has_type & ~event_type.isin(EventType.values).to_numpy(),
        "must be one of " + ", ".join(EventType.values),
    )

    has_time = problems.required("timestamp")
    timestamp = pd.to_datetime(raw["timestamp"], format="ISO8601", utc=True, errors="coerce").dt.as_unit("us")
    problems.flag("timestamp", has_time & timestamp.isna().to_numpy(), "must be an ISO 8601 timestamp")

    problems.required("product_id")

    has_position = (raw["position"] != "").to_numpy()
    problems.flag(
        "position",
        ~has_position & (event_type == "impression").to_numpy(),
        "required for impressions",
        show=False,
    )
    position = _numbers(raw["position"])
    with np.errstate(invalid="ignore"):
        whole = np.isfinite(position) & (position == np.floor(position)) & (position >= 1)
        problems.flag("position", has_position & ~whole, "must be an integer >= 1")
        problems.flag(
            "position", has_position & whole & (position > SMALLINT_MAX), f"must be at most {SMALLINT_MAX}"
        )

    problems.too_long(EVENTS.text_limits)
    # Queries repeat heavily, so normalising the distinct ones is the cheap way.
    codes, distinct = pd.factorize(raw["query"])
    normalised = np.array([normalise(query) for query in distinct], dtype=object)
    query_norm = normalised[codes] if len(codes) else np.array([], dtype=object)
    limit = EVENTS.limits["query_norm"]
    too_long = np.array([len(value) > limit for value in normalised], dtype=bool)
    if too_long.any():
        problems.flag("query", too_long[codes], f"longer than {limit} characters once normalised")

    good = ~problems.bad
    typed = {
        "timestamp": timestamp[good].reset_index(drop=True),
        "query_norm": query_norm[good],
        "position": pd.array(np.where(has_position, position, np.nan)[good], dtype="Float64").astype("Int64"),
    }
    return problems.checked(EVENTS, typed)


def products_check(
    raw: pd.DataFrame, lines: np.ndarray, *, seen: dict[str, int], error_limit: int = ERROR_LIMIT
) -> Checked:
    """Validate product rows (all fields text). ``seen`` maps the external ids of earlier
    chunks to their line and is updated, so an id repeated anywhere in the file is caught.
    ``valid`` has ``price`` and ``rating`` as floats (rating NaN when empty), ``attributes``
    as dicts and ``active`` as bools."""
    problems = _Problems(raw, lines, error_limit)

    external_id = raw["external_id"]
    has_id = problems.required("external_id")
    first_line = external_id.map(seen).to_numpy(dtype=np.float64, na_value=np.nan)
    repeated_here = external_id.duplicated(keep="first").to_numpy() & has_id
    first_here = pd.Series(lines).groupby(external_id.to_numpy()).transform("first").to_numpy()
    first_line = np.where(np.isnan(first_line) & repeated_here, first_here, first_line)
    again = has_id & ~np.isnan(first_line)
    problems.flag_each(
        "external_id", again, lambda index: f"appears again (first on line {int(first_line[index])})"
    )
    seen.update(zip(external_id.to_numpy()[has_id & ~again], lines[has_id & ~again], strict=True))

    problems.required("title")

    has_price = problems.required("price")
    price = _numbers(raw["price"])
    with np.errstate(invalid="ignore"):
        problems.flag(
            "price", has_price & ~(np.isfinite(price) & (price >= 0)), "must be a finite number >= 0"
        )
        problems.flag(
            "price", has_price & np.isfinite(price) & (price >= PRICE_LIMIT), f"must be below {PRICE_LIMIT:,}"
        )

    has_rating = (raw["rating"] != "").to_numpy()
    rating = _numbers(raw["rating"])
    with np.errstate(invalid="ignore"):
        problems.flag("rating", has_rating & ~((rating >= 0) & (rating <= 5)), "must be a number from 0 to 5")

    attributes = _json_objects(raw["attributes"])
    problems.flag("attributes", attributes.isna().to_numpy(), "must be a JSON object")

    active_text = raw["active"].str.strip().str.lower()
    truthy = active_text.isin(_TRUE).to_numpy()
    problems.flag("active", ~(truthy | active_text.isin(("", *_FALSE)).to_numpy()), "must be true or false")

    problems.too_long(PRODUCTS.text_limits)

    good = ~problems.bad
    typed = {
        "price": price[good],
        "rating": np.where(has_rating, rating, np.nan)[good],
        "attributes": attributes.to_numpy()[good],
        "active": (truthy | (active_text == "").to_numpy())[good],
    }
    return problems.checked(PRODUCTS, typed)


def _json_objects(column: pd.Series) -> pd.Series:
    """Each value parsed as a JSON object; ``{}`` when empty, NA when not an object."""
    values = column.to_numpy()
    parsed = [json_parsed(text) if text else {} for text in values]
    return pd.Series([value if type(value) is dict else None for value in parsed], dtype=object)
