"""``letor_read``: a LETOR / SVMlight file (plain or gzip) into dense arrays.

``sklearn.datasets.load_svmlight_file`` is not used: its loop makes Python objects of every
token (it read 100k-row x 136-feature files 2.5-3x slower than this engine, under 1 M
tokens/s), and with ``query_id=True`` it grows the qid array with ``np.append`` per line,
which is quadratic (minutes more for MSLR-WEB10K Fold1's 723k rows). Instead the file is
read in blocks of ~32 MB of whole lines, each parsed by ``training.letor.parse``; the lists
then come from the runs of equal qids or from the group sizes of the .query side file.
"""

from __future__ import annotations

import gzip
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, cast

import numpy as np
import pandas as pd

from training.letor.data import LetorData, LetorFormatError, PathLike
from training.letor.parse import parse_block, show_token
from training.long_format import IntArray

__all__ = ["letor_read"]

# Blocks of about this many bytes of whole lines are parsed at a time.
_BLOCK_BYTES = 32 << 20
_INTEGER_TEXT = re.compile(r"[-+]?[0-9]+")


def letor_read(path: PathLike, *, query_file: PathLike | None = None) -> LetorData:
    """Read a LETOR / SVMlight ranking file (plain or gzip) into dense arrays.

    Lists come from the ``qid:`` tokens or, in a file without them, from the group sizes
    in ``query_file`` (default: ``FILE.query`` next to the file; for ``x.txt.gz`` also
    ``x.txt.query``). ``num_features`` is the highest feature index in the file. Raises
    ``LetorFormatError`` (a ``ValueError``) naming the file and line of the first problem;
    ``OSError`` when a file is missing. The engine: ``training.letor.parse``.
    """
    with_qid = _first_data_line_has_qid(path)
    if with_qid and query_file is not None:
        raise LetorFormatError(
            path, None, "the rows have qid: tokens; query_file is only for files without them"
        )
    sizes_path = None if with_qid else _query_file_for(path, query_file)

    blocks = [parse_block(path, first_line, block, with_qid) for first_line, block in _blocks(path)]
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
                raise LetorFormatError(
                    path, number, f"group size {show_token(text)} is not a positive integer"
                )
            sizes.append(size)
    return np.asarray(sizes, dtype=np.int64)


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
