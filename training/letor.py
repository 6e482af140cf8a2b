"""LETOR / SVMlight ranking files: read, write, and a LightGBM LambdaMART benchmark on them.

Pure (numpy, pandas, LightGBM; no Django), so public benchmark sets (MSLR-WEB10K/30K,
LETOR 4.0, Yahoo, Istella) and SearchOp's own lists can be exchanged with other tools.

**The format.** One row a line: ``label qid:Q 1:v 7:v ... # optional comment``. Feature
indices are 1-based, increasing and sparse (a missing feature is 0.0). ``Q`` is any token
without whitespace, ``:`` or ``#``; the lines of one qid are contiguous and form a list.
A qid that comes back after other qids is an error naming both lines (not a new list: a
file whose rows were shuffled would otherwise split each query into fragments that train
and evaluate as separate lists). LightGBM's own form has no qid: the group sizes come from
a side file, one integer a line, named ``FILE.query`` (found next to ``FILE`` on its own,
or given as ``query_file``). Files may be gzip-compressed (recognised by their first bytes).
Labels must be whole numbers from 0 to 2**31 - 1: LightGBM's lambdarank refuses others.

**Read engine.** ``sklearn.datasets.load_svmlight_file`` is not used: its loop makes Python
objects of every token (it read 100k-row x 136-feature files 2.5-3x slower than this engine,
under 1 M tokens/s), and with ``query_id=True`` it grows the qid array with ``np.append``
per line, which is quadratic (minutes more for MSLR-WEB10K Fold1's 723k rows). Instead each
block of ~32 MB of whole lines goes through
1. comments cut and whitespace made single blanks (C-speed ``bytes`` operations, each
   skipped when there is nothing to do: MSLR's files need none), then a structure check on
   the line *skeletons*, the blanks and colons left when every other byte is deleted: each
   line must read ``" :" * k`` (a label, then k tokens with exactly one colon each), and no
   index, value or qid may be empty — so nothing malformed reaches step 2;
2. pandas' C CSV reader with ``sep=" "`` on the block with ``:`` turned into a blank, so
   every index and value is a field (correctly rounded: a written file reads back bit for
   bit; no quoting, so a stray ``"`` is just a bad value);
3. array checks (labels whole and >= 0, indices whole, >= 1 and increasing, values finite)
   and a scatter into a dense float64 block.
A block that fails any step is parsed again line by line in Python (``_parse_line``, the
reference: tokens are what ``bytes.split`` gives after cutting the line at ``#``), which
either raises ``LetorFormatError`` naming the file, the line and what is wrong, or — for the
rare valid line the fast path does not take, such as a qid spelled ``NA`` — reads it.

**Write.** ``letor_write`` formats whole numbers as integers and other values with ``repr``
(the shortest string that reads back as the same float64) over blocks of rows, and joins
each block's lines in one ``str.join``; zeros are left out.
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import os
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, cast

import lightgbm as lgb
import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from training import metrics

__all__ = [
    "MAX_FEATURE_INDEX",
    "LetorData",
    "LetorFormatError",
    "letor_read",
    "letor_train_evaluate",
    "letor_write",
]

PathLike = str | os.PathLike[str]

NDCG_CUTOFFS = (1, 3, 5, 10)

DEFAULT_TRAIN_PARAMS: dict[str, Any] = {
    "seed": 0,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "verbose": -1,
}
"""Defaults for ``letor_train_evaluate`` (``params`` override them): a fixed seed, a fixed
thread count and row-wise histograms make a rerun on the same files the same model."""

MAX_FEATURE_INDEX = 100_000
"""Feature indices above this are refused: the matrix is dense (ranking sets have tens to
hundreds of features; a larger index is almost surely a typo such as ``1e300:1``)."""

_SMALL_INTEGERS = np.array([str(i) for i in range(1 << 16)], dtype=object)  # "0" .. "65535"
_MAX_LABEL = 2**31 - 1  # LightGBM's lambdarank indexes label_gain with a 32-bit label

# Blocks of about this many bytes of whole lines are parsed at a time.
_BLOCK_BYTES = 32 << 20
# Rows formatted per block when writing (~1-3 M tokens for 136 dense features).
_WRITE_ROWS = 20_000

# Whitespace other than blanks and newlines (what bytes.split() also splits on) becomes a
# blank; the skeleton of a line is its blanks and colons, everything else deleted.
_OTHER_WHITESPACE = b"\t\r\x0b\x0c"
_TO_BLANK = bytes.maketrans(_OTHER_WHITESPACE, b" " * len(_OTHER_WHITESPACE))
_COLON_TO_BLANK = bytes.maketrans(b":", b" ")
_NOT_SEPARATORS = bytes(set(range(256)) - set(b" :\n"))
_COMMENT = re.compile(rb"#[^\n]*+")
_BLANKS = re.compile(rb"  ++")
_QID_TEXT = re.compile(r"[^\s:#]+")
_INTEGER_TEXT = re.compile(r"[-+]?[0-9]+")

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


class LetorFormatError(ValueError):
    """A ranking file (or its .query side file) that cannot be read: names file and line."""

    def __init__(self, path: PathLike, line: int | None, problem: str) -> None:
        self.path = os.fspath(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True, eq=False)
class LetorData:
    """Rows of ranking lists as read from (or written to) a LETOR file.

    ``features`` float64 ``(n_rows, num_features)``, column ``j`` is feature ``j + 1``;
    ``labels`` int64; ``list_index`` int64, ``0 .. L-1``, non-decreasing (each list's rows
    are contiguous, in file order); ``qids`` one per list, int64 when every qid in the file
    is an integer, else str (object); in the .query form the list numbers ``0 .. L-1``.
    """

    features: FloatArray
    labels: IntArray
    list_index: IntArray
    qids: np.ndarray

    def __post_init__(self) -> None:
        n = self.labels.shape[0]
        if self.features.ndim != 2 or self.features.shape[0] != n or self.list_index.shape != (n,):
            raise ValueError("features (2-D), labels and list_index must have the same number of rows")
        steps = np.diff(self.list_index)
        if n and (self.list_index[0] != 0 or not np.all((steps == 0) | (steps == 1))):
            raise ValueError("list_index must number contiguous lists 0 .. L-1 in row order")
        if self.qids.shape != (self.num_lists,):
            raise ValueError(f"qids must have one value per list ({self.num_lists})")

    @property
    def num_features(self) -> int:
        return int(self.features.shape[1])

    @property
    def num_rows(self) -> int:
        return int(self.labels.shape[0])

    @property
    def num_lists(self) -> int:
        return int(self.list_index[-1]) + 1 if self.list_index.size else 0

    @property
    def groups(self) -> IntArray:
        """Rows per list, in list order (LightGBM's ``group``)."""
        return np.bincount(self.list_index, minlength=self.num_lists).astype(np.int64)

    def with_num_features(self, num_features: int) -> LetorData:
        """The same rows with zero columns appended up to ``num_features`` (to align the
        train and validation files of a sparse set, whose highest index may differ)."""
        if num_features < self.num_features:
            raise ValueError(f"num_features={num_features} is below the {self.num_features} columns here")
        if num_features == self.num_features:
            return self
        extra = np.zeros((self.num_rows, num_features - self.num_features))
        return LetorData(np.hstack([self.features, extra]), self.labels, self.list_index, self.qids)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


def letor_read(path: PathLike, *, query_file: PathLike | None = None) -> LetorData:
    """Read a LETOR / SVMlight ranking file (plain or gzip) into dense arrays.

    Lists come from the ``qid:`` tokens or, in a file without them, from the group sizes
    in ``query_file`` (default: ``FILE.query`` next to the file; for ``x.txt.gz`` also
    ``x.txt.query``). ``num_features`` is the highest feature index in the file. Raises
    ``LetorFormatError`` (a ``ValueError``) naming the file and line of the first problem;
    ``OSError`` when a file is missing. See the module docstring for the engine.
    """
    with_qid = _first_data_line_has_qid(path)
    if with_qid and query_file is not None:
        raise LetorFormatError(
            path, None, "the rows have qid: tokens; query_file is only for files without them"
        )
    sizes_path = None if with_qid else _query_file_for(path, query_file)

    blocks = [_parse_block(path, first_line, block, with_qid) for first_line, block in _blocks(path)]
    n_rows = sum(block.labels.size for block in blocks)
    width = max((block.features.shape[1] for block in blocks), default=0)
    features = np.zeros((n_rows, width))
    row = 0
    for block in blocks:
        features[row : row + block.labels.size, : block.features.shape[1]] = block.features
        row += block.labels.size
    labels = np.concatenate([block.labels for block in blocks]) if blocks else np.zeros(0, np.int64)

    if sizes_path is None:
        qid_rows = np.concatenate([block.qids for block in blocks]) if blocks else np.zeros(0, object)
        list_index, qids = _lists_from_qids(path, qid_rows)
    else:
        sizes = _read_query_file(sizes_path)
        if int(sizes.sum()) != n_rows:
            raise LetorFormatError(
                sizes_path, None, f"the group sizes add up to {int(sizes.sum())} but {path} has {n_rows} rows"
            )
        list_index = np.repeat(np.arange(sizes.size, dtype=np.int64), sizes)
        qids = np.arange(sizes.size, dtype=np.int64)
    return LetorData(features=features, labels=labels, list_index=list_index, qids=qids)


@dataclass
class _Block:
    labels: IntArray
    qids: np.ndarray  # str per row (object), or empty in the .query form
    features: FloatArray


def _open_binary(path: PathLike) -> IO[bytes]:
    with open(path, "rb") as probe:
        gzipped = probe.read(2) == b"\x1f\x8b"
    return cast(IO[bytes], gzip.open(path, "rb") if gzipped else open(path, "rb"))


def _blocks(path: PathLike) -> Iterator[tuple[int, bytes]]:
    """Blocks of whole lines (each ending in a newline) and the number of each one's first line."""
    line = 1
    rest = b""
    with _open_binary(path) as stream:
        while data := stream.read(_BLOCK_BYTES):
            data = rest + data
            cut = data.rfind(b"\n") + 1
            rest = data[cut:]
            if cut:
                yield line, data[:cut]
                line += data.count(b"\n", 0, cut)
    if rest:
        yield line, rest + b"\n"


def _data_lines(path: PathLike) -> Iterator[tuple[int, bytes]]:
    """(line number, line) of each line that holds a row: not blank, not only a comment."""
    for first_line, block in _blocks(path):
        for offset, line in enumerate(block.split(b"\n")[:-1]):
            if line.split(b"#", 1)[0].split():
                yield first_line + offset, line


def _first_data_line_has_qid(path: PathLike) -> bool:
    for _, line in _data_lines(path):
        tokens = line.split(b"#", 1)[0].split()
        return len(tokens) > 1 and tokens[1].startswith(b"qid:")
    return True  # an empty file: no rows either way


def _query_file_for(path: PathLike, query_file: PathLike | None) -> Path:
    if query_file is not None:
        return Path(query_file)
    name = os.fspath(path)
    candidates = [Path(name + ".query")]
    if name.endswith(".gz"):
        candidates.append(Path(name[:-3] + ".query"))
    for candidate in candidates:
        if candidate.exists():
            return candidate
    line = next(_data_lines(path))[0]
    raise LetorFormatError(
        path,
        line,
        f"no qid: token, and no group sizes file ({' or '.join(map(str, candidates))}); pass query_file",
    )


def _read_query_file(path: Path) -> IntArray:
    sizes = []
    with _open_binary(path) as stream:
        for number, raw in enumerate(stream, start=1):
            text = raw.split(b"#", 1)[0].strip()
            if not text:
                continue
            try:
                size = int(text)
            except ValueError:
                size = 0
            if size < 1:
                raise LetorFormatError(path, number, f"group size {_show(text)} is not a positive integer")
            sizes.append(size)
    return np.asarray(sizes, dtype=np.int64)


def _parse_block(path: PathLike, first_line: int, block: bytes, with_qid: bool) -> _Block:
    fast = _parse_block_fast(block, with_qid)
    return fast if fast is not None else _parse_block_careful(path, first_line, block.split(b"\n"), with_qid)


def _parse_block_fast(block: bytes, with_qid: bool) -> _Block | None:
    """Steps 1-3 of the module docstring; None when anything is off (the caller then
    goes line by line to name the problem)."""
    text = _canonical(block)
    # 1. Each line is a label and tokens with exactly one colon each: its skeleton is " :"
    #    repeated (qid:Q is one of them), and no token, index or value is empty.
    skeleton = text.translate(None, _NOT_SEPARATORS)
    if skeleton.replace(b" :", b"").replace(b"\n", b""):
        return None
    fields = text.translate(_COLON_TO_BLANK)
    if b"  " in fields or b"\n " in fields or b" \n" in fields or fields.startswith(b" "):
        return None
    pairs = max(map(len, skeleton.split(b"\n"))) // 2
    if with_qid and pairs == 0:  # no qid anywhere: no rows, or rows that lack it
        return None
    # 2. Every index and value a field of its own (a qid line reads label, "qid", Q, ...).
    names = range(1 + 2 * pairs)
    dtypes: dict[int, Any] = dict.fromkeys(names, np.float64)
    if with_qid:
        dtypes[1] = dtypes[2] = str
    try:
        frame = pd.read_csv(
            io.BytesIO(fields),
            sep=" ",
            header=None,
            names=names,
            dtype=dtypes,
            quoting=csv.QUOTE_NONE,
            engine="c",
        )
    except ValueError:  # a value that is not a number, or no rows at all
        return None
    if with_qid:
        marks = frame.pop(1).to_numpy(dtype=object)
        qids = frame.pop(2).to_numpy(dtype=object)
        if not (np.all(marks == "qid") and all(isinstance(q, str) for q in qids)):
            return None  # no qid token, or a qid such as "NA" that pandas read as missing
    else:
        qids = np.zeros(0, dtype=object)
    # 3. Numbers that make sense, scattered into a dense block.
    table = frame.to_numpy(dtype=np.float64)
    labels, index, values = table[:, 0], table[:, 1::2], table[:, 2::2]
    present = ~np.isnan(index)
    if not (np.all((labels >= 0) & (labels <= _MAX_LABEL)) and np.all(labels == np.floor(labels))):
        return None  # (NaN fails both comparisons)
    found_index, found_value = index[present], values[present]
    # A row has at most as many indices as it has tokens, so equal totals mean no token was
    # read as missing (pandas takes "NA", "nan", "null" ... for NaN).
    if found_index.size != skeleton.count(b":") - (labels.size if with_qid else 0):
        return None
    if not np.all(np.isfinite(found_value)):
        return None
    if not (
        np.all(np.isfinite(found_index)) and np.all((found_index >= 1) & (found_index <= MAX_FEATURE_INDEX))
    ):
        return None
    if not np.all(found_index == np.floor(found_index)):
        return None
    if np.any(np.diff(index, axis=1) <= 0):  # not increasing (the NaN padding compares False)
        return None
    width = int(found_index.max()) if found_index.size else 0
    features = np.zeros((labels.size, width))
    features[np.nonzero(present)[0], found_index.astype(np.intp) - 1] = found_value
    return _Block(labels=labels.astype(np.int64), qids=qids, features=features)


def _canonical(block: bytes) -> bytes:
    """The block without comments, its tokens split by single blanks, no blank at either end
    of a line: how ``bytes.split`` after cutting at "#" sees it. Each step is one pass in C,
    skipped when there is nothing to do (MSLR's files need none)."""
    if b"#" in block:
        block = _COMMENT.sub(b"", block)
    if any(char in block for char in _OTHER_WHITESPACE):
        block = block.translate(_TO_BLANK)
    if b"  " in block:
        block = _BLANKS.sub(b" ", block)
    if block.startswith(b" "):
        block = block[1:]
    return block.replace(b"\n ", b"\n").replace(b" \n", b"\n")


def _parse_block_careful(path: PathLike, first_line: int, lines: list[bytes], with_qid: bool) -> _Block:
    """Line by line in Python: raises at the first bad line, else returns the block."""
    labels: list[int] = []
    qids: list[str] = []
    rows: list[int] = []
    columns: list[int] = []
    values: list[float] = []
    for offset, line in enumerate(lines):
        try:
            parsed = _parse_line(line, with_qid)
        except ValueError as error:
            raise LetorFormatError(path, first_line + offset, str(error)) from None
        if parsed is None:
            continue
        label, qid, indices, row_values = parsed
        rows.extend([len(labels)] * len(indices))
        columns.extend(index - 1 for index in indices)
        values.extend(row_values)
        labels.append(label)
        if qid is not None:
            qids.append(qid)
    width = max(columns, default=-1) + 1
    features = np.zeros((len(labels), width))
    features[rows, columns] = values
    return _Block(
        labels=np.asarray(labels, dtype=np.int64), qids=np.asarray(qids, dtype=object), features=features
    )


def _parse_line(line: bytes, with_qid: bool) -> tuple[int, str | None, list[int], list[float]] | None:
    """One line: ``(label, qid, indices, values)``, None for a blank or comment-only line.

    Raises ValueError saying what is wrong. The reference the fast path must agree with.
    """
    tokens = line.split(b"#", 1)[0].split()
    if not tokens:
        return None
    label = _number(tokens[0], "label")
    if not math.isfinite(label) or label != math.floor(label):
        raise ValueError(
            f"label {_show(tokens[0])} is not an integer (LightGBM's lambdarank needs integer labels)"
        )
    if label < 0:
        raise ValueError(f"label {_show(tokens[0])} is negative")
    if label > _MAX_LABEL:
        raise ValueError(f"label {_show(tokens[0])} is above {_MAX_LABEL}")
    qid = None
    features = tokens[1:]
    has_qid = bool(features) and features[0].startswith(b"qid:")
    if with_qid:
        if not has_qid:
            got = f"got {_show(features[0])}" if features else "the line ends"
            raise ValueError(f"expected qid:<id> after the label, {got} (the first row has a qid)")
        qid = features[0][4:].decode("utf-8", "replace")
        if not _QID_TEXT.fullmatch(qid):
            raise ValueError(f"qid {qid!r} is empty or holds a ':'")
        features = features[1:]
    elif has_qid:
        raise ValueError("a qid: token, but the first row has none (its lists come from the .query file)")
    indices: list[int] = []
    values: list[float] = []
    for token in features:
        index_text, colon, value_text = token.partition(b":")
        if not colon or not index_text or not value_text or b":" in value_text:
            raise ValueError(f"token {_show(token)} is not index:value")
        number = _number(index_text, "feature index")
        if not (math.isfinite(number) and number == math.floor(number)):
            raise ValueError(f"feature index {_show(index_text)} is not a whole number")
        index = int(number)
        if index < 1:
            raise ValueError(f"feature index {index}: indices start at 1")
        if index > MAX_FEATURE_INDEX:
            raise ValueError(f"feature index {index} is above MAX_FEATURE_INDEX = {MAX_FEATURE_INDEX}")
        if indices and index <= indices[-1]:
            raise ValueError(f"feature index {index} after {indices[-1]}: indices must increase")
        value = _number(value_text, f"the value of feature {index}")
        if not math.isfinite(value):
            raise ValueError(f"the value of feature {index} is {_show(value_text)}, not a finite number")
        indices.append(index)
        values.append(value)
    return int(label), qid, indices, values


def _number(text: bytes, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{what} {_show(text)} is not a number") from None


def _show(text: bytes) -> str:
    shown = text.decode("utf-8", "replace")
    return repr(shown if len(shown) <= 40 else shown[:40] + "...")


def _lists_from_qids(path: PathLike, qid_rows: np.ndarray) -> tuple[IntArray, np.ndarray]:
    """Runs of equal qids are lists; a qid that comes back after a run of another is an error."""
    n = qid_rows.size
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    starts = np.ones(n, dtype=bool)
    starts[1:] = qid_rows[1:] != qid_rows[:-1]
    list_index = np.cumsum(starts, dtype=np.int64) - 1
    run_qids = qid_rows[starts]
    again = pd.Index(run_qids).duplicated()
    if again.any():
        run = int(np.argmax(again))
        first_run = int(np.flatnonzero(run_qids == run_qids[run])[0])
        first_row, row = np.flatnonzero(starts)[[first_run, run]]
        first_line, line = _line_numbers(path, [int(first_row), int(row)])
        raise LetorFormatError(
            path,
            line,
            f"qid {run_qids[run]} again, after other qids (its rows began at line {first_line}); "
            "the rows of a list must be contiguous",
        )
    if all(_INTEGER_TEXT.fullmatch(q) for q in run_qids):
        try:
            return list_index, np.array([int(q) for q in run_qids], dtype=np.int64)
        except OverflowError:
            pass
    return list_index, run_qids.astype(object)


def _line_numbers(path: PathLike, rows: list[int]) -> list[int]:
    """The line numbers of the given (0-based) rows: a second pass, only for error messages."""
    wanted: dict[int, int] = {}
    for row, (number, _) in enumerate(_data_lines(path)):
        if row in rows:
            wanted[row] = number
            if len(wanted) == len(set(rows)):
                break
    return [wanted.get(row, 0) for row in rows]


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def letor_write(
    path: PathLike,
    *,
    features: ArrayLike,
    labels: ArrayLike,
    list_index: ArrayLike,
    qids: ArrayLike | None = None,
    query_file: bool = False,
    comment: str | None = None,
) -> None:
    """Write rows as a LETOR file that ``letor_read`` reads back exactly.

    Lists in ``list_index`` order (rows of a list in their order); lists without rows are
    not written. Each row ``label qid:Q j:v ...`` with zeros left out; ``qids`` (one per
    list, distinct, no whitespace, ``:`` or ``#``) default to the list numbers. With
    ``query_file``, LightGBM's form: no qid tokens, and the group sizes in ``FILE.query``.
    ``comment`` goes first, each of its lines behind ``# `` (LightGBM's own file loader does
    not skip comment lines: leave it out for files meant for LightGBM's CLI). A path ending
    in ``.gz`` is gzip-compressed (the .query file is not). Not atomic: a failed write
    leaves a partial file.
    """
    matrix, label_values, index = _checked_rows(features, labels, list_index)
    n_lists = int(index.max()) + 1 if index.size else 0
    qid_text = _qid_texts(qids, n_lists)
    if index.size and np.any(np.diff(index) < 0):
        order = np.argsort(index, kind="stable")
        matrix, label_values, index = matrix[order], label_values[order], index[order]

    prefixes = np.array([f" {j}:" for j in range(1, matrix.shape[1] + 1)], dtype=object)
    heads = np.array([str(label) for label in label_values.tolist()], dtype=object)
    if not query_file:
        heads = heads + " qid:" + qid_text[index]
    name = os.fspath(path)
    opener = gzip.open if name.endswith(".gz") else open
    with opener(name, "wb") as stream:
        if comment is not None:
            stream.write("".join(f"# {line}\n" for line in comment.splitlines()).encode())
        for start in range(0, index.size, _WRITE_ROWS):
            stop = min(start + _WRITE_ROWS, index.size)
            stream.write(_format_rows(matrix[start:stop], heads[start:stop], prefixes).encode())
    if query_file:
        sizes = np.bincount(index, minlength=n_lists)
        Path(name + ".query").write_text("".join(f"{size}\n" for size in sizes[sizes > 0].tolist()))


def _checked_rows(
    features: ArrayLike, labels: ArrayLike, list_index: ArrayLike
) -> tuple[FloatArray, IntArray, IntArray]:
    matrix = np.asarray(features, dtype=np.float64)
    label_values = np.asarray(labels)
    index = np.asarray(list_index)
    if matrix.ndim != 2 or label_values.shape != (matrix.shape[0],) or index.shape != label_values.shape:
        raise ValueError("features must be 2-D with one row per label and per list_index value")
    if not np.all(np.isfinite(matrix)):
        row, column = np.argwhere(~np.isfinite(matrix))[0]
        raise ValueError(f"feature {column + 1} of row {row} is {matrix[row, column]}: values must be finite")
    if label_values.size and not (
        np.all(np.isfinite(label_values.astype(np.float64)))
        and np.all(label_values == np.floor(label_values))
        and label_values.min() >= 0
        and label_values.max() <= _MAX_LABEL
    ):
        raise ValueError(
            f"labels must be whole numbers from 0 to {_MAX_LABEL} (LightGBM's lambdarank needs integer labels)"
        )
    if index.size and not (np.issubdtype(index.dtype, np.integer) and index.min() >= 0):
        raise ValueError("list_index must hold integers >= 0")
    return matrix, label_values.astype(np.int64), index.astype(np.int64)


def _qid_texts(qids: ArrayLike | None, n_lists: int) -> np.ndarray:
    if qids is None:
        return np.array([str(i) for i in range(n_lists)], dtype=object)
    values = np.asarray(qids, dtype=object)
    if values.shape != (n_lists,):
        raise ValueError(f"qids must have one value per list ({n_lists}), got shape {values.shape}")
    texts = np.array([str(q) for q in values.tolist()], dtype=object)
    bad = [text for text in texts if not _QID_TEXT.fullmatch(text)]
    if bad:
        raise ValueError(f"qid {bad[0]!r} is empty or holds whitespace, ':' or '#'")
    if len(set(texts)) != n_lists:
        raise ValueError("qids must be distinct: two lists with one qid would read back as one list")
    return texts


def _format_rows(block: FloatArray, heads: np.ndarray, prefixes: np.ndarray) -> str:
    """The lines of a block of rows: ``head`` then `` j:v`` for each non-zero, then a newline."""
    rows, columns = np.nonzero(block)
    tokens = prefixes[columns] + _format_values(block[rows, columns])
    counts = np.bincount(rows, minlength=heads.size)
    head_at = np.arange(heads.size) + np.cumsum(counts) - counts
    pieces = np.empty(heads.size + tokens.size, dtype=object)
    is_head = np.zeros(pieces.size, dtype=bool)
    is_head[head_at] = True
    pieces[head_at] = heads
    pieces[~is_head] = tokens  # np.nonzero is row-major: each row's tokens in column order
    last = head_at + counts
    pieces[last] = pieces[last] + "\n"
    return "".join(pieces.tolist())


def _format_values(values: FloatArray) -> np.ndarray:
    """Whole numbers as integers ("3", not "3.0"), the rest with ``repr``: both read back exactly.

    Small counts, most of a typical LETOR file, come from a table (30x faster than ``str``).
    """
    text = np.empty(values.size, dtype=object)
    whole = (values == np.trunc(values)) & (np.abs(values) < 2.0**53)
    small = whole & (values >= 0) & (values < _SMALL_INTEGERS.size)
    text[small] = _SMALL_INTEGERS[values[small].astype(np.intp)]
    large = whole & ~small
    text[large] = np.array(list(map(str, values[large].astype(np.int64).tolist())), dtype=object)
    text[~whole] = np.array(list(map(repr, values[~whole].tolist())), dtype=object)
    return text


# --------------------------------------------------------------------------------------------
# Training and evaluation
# --------------------------------------------------------------------------------------------


def letor_train_evaluate(
    *,
    train: LetorData,
    valid: LetorData,
    params: dict,
    num_boost_round: int,
    early_stopping_rounds: int | None = None,
) -> dict:
    """Train LightGBM LambdaMART on ``train`` (grouped by list) and report NDCG on ``valid``.

    ``params`` override ``DEFAULT_TRAIN_PARAMS`` (deterministic: seed, ``deterministic``,
    fixed threads); the objective is lambdarank and the watched metric LightGBM's
    ``ndcg@10`` on ``valid``, which early stopping (when ``early_stopping_rounds``) stops on.
    ``label_gain`` is ``2**i - 1`` for every label (a shorter ``2**i - 1`` prefix given in
    ``params``, such as SearchOp's ``[0, 1, 3, 7]``, is extended; another too-short one is
    an error).

    The figures use the model at ``best_iteration`` and ``training.metrics.ndcg_at_k``
    (gain ``2**label - 1``, discount ``log2(rank + 1)``, ties in file order), averaged over
    the ``lists_with_gain`` lists that have a label > 0: a list without any gain cannot
    tell rankers apart and is left out. LightGBM's own ``ndcg`` and most MSLR papers count
    such a list as 1.0; ``ndcg@10_lightgbm_convention`` does that too, to compare with
    published figures (it is higher by the share of gainless lists times
    ``1 - ndcg@10``). ``num_trees`` is the trees grown (past ``best_iteration`` when early
    stopping waited); ``train_seconds`` covers Dataset construction and boosting.
    Plain floats and ints, ready for JSON.
    """
    if train.num_rows == 0 or valid.num_rows == 0:
        raise ValueError("train and valid both need rows")
    width = max(train.num_features, valid.num_features)
    train, valid = train.with_num_features(width), valid.with_num_features(width)
    max_label = int(max(train.labels.max(), valid.labels.max()))
    merged = _train_params(params, max_label)

    started = time.perf_counter()
    train_set = lgb.Dataset(train.features, label=train.labels, group=train.groups)
    valid_set = lgb.Dataset(valid.features, label=valid.labels, group=valid.groups, reference=train_set)
    callbacks: list = []
    if early_stopping_rounds:
        callbacks.append(lgb.early_stopping(early_stopping_rounds, first_metric_only=True, verbose=False))
    booster = lgb.train(
        merged,
        train_set,
        num_boost_round=num_boost_round,
        valid_sets=[valid_set],
        valid_names=["valid"],
        callbacks=callbacks,
        keep_training_booster=True,  # otherwise the trees past best_iteration are dropped
    )
    seconds = time.perf_counter() - started

    best = booster.best_iteration or booster.current_iteration()
    scores = booster.predict(valid.features, num_iteration=best, num_threads=merged["num_threads"])
    ranks = metrics.ranks_from_scores(valid.list_index, scores)
    per_list = {
        k: metrics.ndcg_at_k(valid.list_index, ranks, valid.labels, k=k, n_lists=valid.num_lists)
        for k in NDCG_CUTOFFS
    }
    with_gain = np.isfinite(per_list[10])
    result: dict[str, float | int] = {
        f"ndcg@{k}": float(per_list[k][with_gain].mean()) if with_gain.any() else math.nan
        for k in NDCG_CUTOFFS
    }
    result["ndcg@10_lightgbm_convention"] = float(np.where(with_gain, per_list[10], 1.0).mean())
    result.update(
        lists=valid.num_lists,
        lists_with_gain=int(with_gain.sum()),
        best_iteration=int(best),
        num_trees=int(booster.num_trees()),
        train_seconds=seconds,
    )
    return result


def _train_params(params: dict, max_label: int) -> dict:
    merged = {**DEFAULT_TRAIN_PARAMS, **params, "objective": "lambdarank", "metric": "ndcg", "eval_at": [10]}
    standard = [2.0**i - 1 for i in range(max(31, max_label + 1))]
    given = merged.get("label_gain")
    if given is None:
        merged["label_gain"] = standard
    elif len(given) <= max_label:
        if [float(g) for g in given] != standard[: len(given)]:
            raise ValueError(
                f"label_gain has {len(given)} entries but the labels go up to {max_label}; "
                "give one gain per label value"
            )
        merged["label_gain"] = standard
    return merged
