"""Reading a shop's event or product file into chunks of text fields with line numbers.

``read_chunks`` opens a ``.csv`` or ``.jsonl``/``.ndjson`` file (optionally ``.gz``) and
yields ``RawChunk``s: every declared column as text (``""`` when missing), and the line
number in the file of each row, so that a report can point at the line a person would open.
A CSV is split by pandas' C parser; JSON Lines are parsed line by line by orjson, since only
that keeps each row's line number exact.
"""

from __future__ import annotations

import gzip
import itertools
import re
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, cast

import numpy as np
import orjson
import pandas as pd

from catalog.columns import Columns

CHUNK_ROWS = 100_000

_SKIPPED_LINE = re.compile(r"Skipping line (\d+): (.*)")


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


def file_format(path: Path) -> str:
    """``"csv"`` or ``"jsonl"`` from the file name (``.gz`` looked through)."""
    name = path.name.lower().removesuffix(".gz")
    if name.endswith(".csv"):
        return "csv"
    if name.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    raise ImportFileError(f"{path.name}: unknown format; use .csv, .jsonl or .ndjson (optionally .gz)")


def read_chunks(path: Path, *, columns: Columns, chunk_rows: int = CHUNK_ROWS) -> Iterator[RawChunk]:
    """Yield the file's rows in chunks, every column of ``columns``' file present as text."""
    kind = file_format(path)
    if not path.is_file():
        raise ImportFileError(f"{path}: no such file")
    with path.open("rb") as raw:
        stream = cast(IO[bytes], gzip.GzipFile(fileobj=raw) if path.name.lower().endswith(".gz") else raw)
        reader = _csv_chunks if kind == "csv" else _jsonl_chunks
        try:
            for chunk in reader(stream, columns=columns, chunk_rows=chunk_rows):
                chunk.position = raw.tell()
                chunk.frame = _with_columns(chunk.frame, columns.file_names)
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


def _csv_chunks(stream: IO[bytes], *, columns: Columns, chunk_rows: int) -> Iterator[RawChunk]:
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
                _check_header(list(frame.columns), columns=columns)
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


def _check_header(names: list[str], *, columns: Columns) -> None:
    unknown = [name for name in names if name not in columns.file_names]
    missing = [name for name in columns.required if name not in names]
    problems = []
    if missing:
        problems.append("missing column(s) " + ", ".join(missing))
    if unknown:
        problems.append("unknown column(s) " + ", ".join(unknown))
    if problems:
        raise ImportFileError(
            f"line 1: {'; '.join(problems)} (the columns are: {', '.join(columns.file_names)})"
        )


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


def _jsonl_chunks(stream: IO[bytes], *, columns: Columns, chunk_rows: int) -> Iterator[RawChunk]:
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
        unknown = [name for name in frame.columns if name not in columns.file_names]
        if unknown:
            raise ImportFileError(
                f"unknown field(s) {', '.join(map(str, unknown))} (the fields are: {', '.join(columns.file_names)})"
            )
        yield RawChunk(frame=_as_text(frame, len(lines)), lines=lines, errors=errors)


def _json_records(texts: list[bytes], numbers: np.ndarray) -> tuple[list[tuple[int, dict]], list[RowError]]:
    """Parse each line on its own: joining lines into one array would be faster, but two
    broken neighbours can then pass as one object and a row would get the wrong line."""
    records, errors = [], []
    for index, text in enumerate(texts):
        value = json_parsed(text)
        if isinstance(value, orjson.JSONDecodeError):
            errors.append(RowError(line=int(numbers[index]), field="", problem=f"not valid JSON ({value})"))
        elif type(value) is not dict:
            errors.append(RowError(line=int(numbers[index]), field="", problem="not a JSON object"))
        else:
            records.append((index, value))
    return records, errors


def json_parsed(text: bytes | str) -> object:
    """The value, or the error that says why ``text`` is not JSON."""
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
