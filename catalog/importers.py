"""Reading and validating a shop's product and event files: frames in, frames and errors out.

Pure pandas and numpy, no Django, so every rule can be unit-tested on a small frame. The
services in ``catalog.services`` (``events_import``, ``products_import``) drive it chunk by
chunk and do the writing.

1. ``read_chunks`` opens a ``.csv`` or ``.jsonl``/``.ndjson`` file (optionally ``.gz``) and
   yields ``RawChunk``s: every field as text (``""`` when missing), and the line number in
   the file of each row, so that a report can point at the line a person would open.
2. ``events_check`` / ``products_check`` validate a chunk with whole-column operations and
   return ``Checked``: the typed rows that passed and an error per bad field.

On the hot path (a CSV of events) no row-by-row Python loop runs over a chunk: pandas' C
parser splits it, checks are whole-column operations, and the only per-item work is over
distinct values (query normalisation) or the rows already known to be bad (the messages).
JSON Lines are parsed line by line by orjson, since only that keeps each row's line number
exact, and product attributes value by value (catalogs are small next to clickstreams).
"""

from __future__ import annotations

import gzip
import itertools
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

import numpy as np
import orjson
import pandas as pd

from catalog.text import normalise

CHUNK_ROWS = 100_000
# Per chunk; a file whose every row is bad must not build a million messages nobody reads.
ERROR_LIMIT = 1_000

# Mirrors the model's max_length (tests/unit/test_importers.py checks they agree): PostgreSQL
# would otherwise fail the whole transaction on one over-long value, with no line number.
EVENT_TEXT_LIMITS = {
    "user_id": 128,
    "session_id": 128,
    "query": 512,
    "product_id": 128,
    "request_id": 64,
}
PRODUCT_TEXT_LIMITS = {"external_id": 128, "title": 512, "brand": 128, "category": 128}
SMALLINT_MAX = 32_767
PRICE_LIMIT = 10**10  # numeric(12, 2)

EVENT_TYPES = ("impression", "click", "add_to_cart", "purchase")
EVENT_COLUMNS = (
    "event_id",
    "event_type",
    "timestamp",
    "user_id",
    "session_id",
    "query",
    "product_id",
    "position",
    "request_id",
)
EVENT_REQUIRED_COLUMNS = ("event_id", "event_type", "timestamp", "product_id")
PRODUCT_COLUMNS = (
    "external_id",
    "title",
    "description",
    "brand",
    "category",
    "price",
    "rating",
    "attributes",
    "active",
)
PRODUCT_REQUIRED_COLUMNS = ("external_id", "title", "price")

_UUID = r"[0-9a-fA-F]{8}(?:-?[0-9a-fA-F]{4}){3}-?[0-9a-fA-F]{12}"
_TRUE = ("true", "t", "yes", "y", "1")
_FALSE = ("false", "f", "no", "n", "0")
_SKIPPED_LINE = re.compile(r"Skipping line (\d+): (.*)")
SHOWN_CHARS = 40


class ImportFileError(ValueError):
    """The file as a whole cannot be read (format, encoding, header): no row is looked at."""


@dataclass(frozen=True, order=True)
class RowError:
    line: int
    field: str
    problem: str

    def __str__(self) -> str:
        return (
            f"line {self.line}: {self.field}: {self.problem}"
            if self.field
            else f"line {self.line}: {self.problem}"
        )


@dataclass
class RawChunk:
    """Rows as text plus where they are in the file; ``errors`` holds rows the reader
    could not even split into fields (they are not in ``frame``)."""

    frame: pd.DataFrame
    lines: np.ndarray
    errors: list[RowError] = field(default_factory=list)
    position: int = 0  # bytes of the file consumed so far, for a progress bar


@dataclass
class Checked:
    valid: pd.DataFrame
    errors: list[RowError]
    rejected: int  # rows with at least one error; ``errors`` may be cut at ERROR_LIMIT


# ------------------------------------------------------------------------------------
# 1. Reading
# ------------------------------------------------------------------------------------


def file_format(path: Path) -> str:
    """``"csv"`` or ``"jsonl"`` from the file name (``.gz`` looked through)."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    raise ImportFileError(f"{path.name}: unknown format; use .csv, .jsonl or .ndjson (optionally .gz)")


def read_chunks(
    path: Path, *, columns: Sequence[str], required: Sequence[str], chunk_rows: int = CHUNK_ROWS
) -> Iterator[RawChunk]:
    """Yield the file's rows in chunks, every known column present as text."""
    kind = file_format(path)
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    with path.open("rb") as raw:
        stream = cast(IO[bytes], gzip.GzipFile(fileobj=raw) if path.name.lower().endswith(".gz") else raw)
        reader = _csv_chunks if kind == "csv" else _jsonl_chunks
        try:
            for chunk in reader(stream, columns=columns, required=required, chunk_rows=chunk_rows):
                chunk.position = raw.tell()
                chunk.frame = _with_columns(chunk.frame, columns)
                yield chunk
        except UnicodeDecodeError as error:
            raise ImportFileError(
                f"{path.name}: not UTF-8 text ({error.reason} at byte {error.start})"
            ) from error
        except (OSError, EOFError) as error:  # a truncated or corrupt .gz
            raise ImportFileError(f"{path.name}: {error}") from error


def _with_columns(frame: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    missing = {name: "" for name in columns if name not in frame}
    frame = frame.assign(**missing) if missing else frame
    return frame[list(columns)]


def _csv_chunks(
    stream: IO[bytes], *, columns: Sequence[str], required: Sequence[str], chunk_rows: int
) -> Iterator[RawChunk]:
    try:
        reader = pd.read_csv(
            stream,
            dtype=str,
            keep_default_na=False,
            na_filter=False,
            # Blank lines come through as empty rows so the line count stays exact; they are
            # dropped below.
            skip_blank_lines=False,
            on_bad_lines="warn",
            chunksize=chunk_rows,
            encoding="utf-8-sig",
        )
    except pd.errors.EmptyDataError as error:
        raise ImportFileError("the file is empty; line 1 must name the columns") from error
    except pd.errors.ParserError as error:
        raise ImportFileError(f"not a readable CSV file: {error}") from error
    # pandas numbers records (a quoted field may span lines); these turn them into lines.
    next_record, next_line = 2, 2
    checked_header = False
    with reader:
        while True:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", pd.errors.ParserWarning)
                try:
                    frame = next(reader)
                except StopIteration:
                    return
                except pd.errors.ParserError as error:
                    raise ImportFileError(f"not a readable CSV file: {error}") from error
            if not checked_header:
                _check_header(list(frame.columns), columns=columns, required=required)
                checked_header = True
            skipped: dict[int, str] = {}
            for warning in caught:
                for number, problem in _SKIPPED_LINE.findall(str(warning.message)):
                    skipped[int(number)] = problem.strip()
            records = np.arange(next_record, next_record + len(frame) + len(skipped))
            is_row = ~np.isin(records, list(skipped))
            spans = np.ones(len(records), dtype=np.int64)
            spans[is_row] += _embedded_newlines(frame)
            starts = next_line + np.concatenate([[0], np.cumsum(spans)[:-1]])
            next_record += len(records)
            next_line += int(spans.sum())
            errors = [
                RowError(line=int(line), field="", problem=skipped[int(record)])
                for record, line in zip(records[~is_row], starts[~is_row], strict=True)
            ]
            lines = starts[is_row]
            blank = _blank_rows(frame)
            if blank.any():
                frame, lines = frame[~blank], lines[~blank]
            yield RawChunk(frame=frame.reset_index(drop=True), lines=lines, errors=errors)


def _check_header(names: list[str], *, columns: Sequence[str], required: Sequence[str]) -> None:
    unknown = [name for name in names if name not in columns]
    missing = [name for name in required if name not in names]
    problems = []
    if missing:
        problems.append("missing column(s) " + ", ".join(missing))
    if unknown:
        problems.append("unknown column(s) " + ", ".join(unknown))
    if problems:
        raise ImportFileError(f"line 1: {'; '.join(problems)} (the columns are: {', '.join(columns)})")


def _embedded_newlines(frame: pd.DataFrame) -> np.ndarray | int:
    """Line breaks inside quoted fields, per row. Joining a column is one C pass; the
    per-value count only runs for a column that has a line break at all."""
    counts: np.ndarray | int = 0
    for name in frame.columns:
        values = frame[name].to_numpy()
        if "\n" in "".join(values):
            counts = counts + frame[name].str.count("\n").to_numpy(dtype=np.int64)
    return counts


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    if frame.empty:
        return np.zeros(0, dtype=bool)
    blank = (frame.iloc[:, 0] == "").to_numpy()
    if blank.any():
        blank = blank & (frame == "").all(axis=1).to_numpy()
    return blank


def _jsonl_chunks(
    stream: IO[bytes], *, columns: Sequence[str], required: Sequence[str], chunk_rows: int
) -> Iterator[RawChunk]:
    next_line = 1
    while True:
        batch = list(itertools.islice(stream, chunk_rows))
        if not batch:
            return
        numbers = np.arange(next_line, next_line + len(batch))
        next_line += len(batch)
        keep = np.array([bool(line.strip()) for line in batch], dtype=bool)
        texts = [line for line, kept in zip(batch, keep, strict=True) if kept]
        records, errors = _json_records(texts, numbers[keep])
        lines = numbers[keep][[index for index, _ in records]] if records else numbers[:0]
        frame = pd.DataFrame.from_records([record for _, record in records])
        unknown = [name for name in frame.columns if name not in columns]
        if unknown:
            raise ImportFileError(
                f"unknown field(s) {', '.join(map(str, unknown))} (the fields are: {', '.join(columns)})"
            )
        yield RawChunk(frame=_as_text(frame, len(lines)), lines=lines, errors=errors)


def _json_records(texts: list[bytes], numbers: np.ndarray) -> tuple[list[tuple[int, dict]], list[RowError]]:
    """Parse each line on its own: joining lines into one array would be faster, but two
    broken neighbours can then pass as one object and a row would get the wrong line."""
    records, errors = [], []
    for index, text in enumerate(texts):
        value = _json_or_error(text)
        if isinstance(value, orjson.JSONDecodeError):
            errors.append(RowError(line=int(numbers[index]), field="", problem=f"not valid JSON ({value})"))
        elif type(value) is not dict:
            errors.append(RowError(line=int(numbers[index]), field="", problem="not a JSON object"))
        else:
            records.append((index, value))
    return records, errors


def _json_or_error(text: bytes | str) -> object:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as error:
        return error


def _as_text(frame: pd.DataFrame, rows: int) -> pd.DataFrame:
    """JSON values as the text a CSV file would hold, so both formats share one validation."""
    if frame.empty:
        return pd.DataFrame(index=range(rows))
    out = {}
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_bool_dtype(column):
            out[name] = np.where(column.to_numpy(), "true", "false")
        elif pd.api.types.is_integer_dtype(column):
            out[name] = column.astype(str)
        elif pd.api.types.is_float_dtype(column):
            out[name] = column.map(_json_text)
        elif isinstance(column.dtype, pd.StringDtype):
            out[name] = column.fillna("")
        else:
            out[name] = column.map(_json_text)
    return pd.DataFrame(out).astype(str)


def _json_text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    return orjson.dumps(value).decode()


# ------------------------------------------------------------------------------------
# 2. Validation
# ------------------------------------------------------------------------------------


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
        has_type & ~event_type.isin(EVENT_TYPES).to_numpy(),
        "must be one of " + ", ".join(EVENT_TYPES),
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

    problems.too_long(EVENT_TEXT_LIMITS)
    # Queries repeat heavily, so normalising the distinct ones is the cheap way.
    codes, distinct = pd.factorize(raw["query"])
    normalised = np.array([normalise(query) for query in distinct], dtype=object)
    query_norm = normalised[codes] if len(codes) else np.array([], dtype=object)
    too_long = np.array([len(value) > EVENT_TEXT_LIMITS["query"] for value in normalised], dtype=bool)
    if too_long.any():
        problems.flag(
            "query", too_long[codes], f"longer than {EVENT_TEXT_LIMITS['query']} characters once normalised"
        )

    good = ~problems.bad
    valid = pd.DataFrame(
        {
            "event_id": raw["event_id"].to_numpy()[good],
            "event_type": event_type.to_numpy()[good],
            "timestamp": timestamp[good].reset_index(drop=True),
            "user_id": raw["user_id"].to_numpy()[good],
            "session_id": raw["session_id"].to_numpy()[good],
            "query": raw["query"].to_numpy()[good],
            "query_norm": query_norm[good],
            "product_id": raw["product_id"].to_numpy()[good],
            "position": pd.array(np.where(has_position, position, np.nan)[good], dtype="Float64").astype(
                "Int64"
            ),
            "request_id": raw["request_id"].to_numpy()[good],
        }
    )
    return Checked(valid=valid, errors=problems.errors(), rejected=int(problems.bad.sum()))


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

    problems.too_long(PRODUCT_TEXT_LIMITS)

    good = ~problems.bad
    valid = pd.DataFrame(
        {
            "external_id": external_id.to_numpy()[good],
            "title": raw["title"].to_numpy()[good],
            "description": raw["description"].to_numpy()[good],
            "brand": raw["brand"].to_numpy()[good],
            "category": raw["category"].to_numpy()[good],
            "price": price[good],
            "rating": np.where(has_rating, rating, np.nan)[good],
            "attributes": attributes.to_numpy()[good],
            "active": (truthy | (active_text == "").to_numpy())[good],
        }
    )
    return Checked(valid=valid, errors=problems.errors(), rejected=int(problems.bad.sum()))


def _json_objects(column: pd.Series) -> pd.Series:
    """Each value parsed as a JSON object; ``{}`` when empty, NA when not an object."""
    values = column.to_numpy()
    parsed = [_json_or_error(text) if text else {} for text in values]
    return pd.Series([value if type(value) is dict else None for value in parsed], dtype=object)
