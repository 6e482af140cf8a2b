"""``letor_write``: rows of ranking lists into a LETOR file that ``letor_read`` reads back exactly.

Whole numbers are written as integers and other values with ``repr`` (the shortest string
that reads back as the same float64), over blocks of rows, each block's lines joined in one
``str.join``; zeros are left out.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from training.letor.data import MAX_LABEL, QID_TEXT, PathLike
from training.long_format import FloatArray, IntArray

__all__ = ["letor_write"]

_SMALL_INTEGERS = np.array([str(i) for i in range(1 << 16)], dtype=object)  # "0" .. "65535"
# Rows formatted per block when writing (~1-3 M tokens for 136 dense features).
_WRITE_ROWS = 20_000


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
        and label_values.max() <= MAX_LABEL
    ):
        raise ValueError(
            f"labels must be whole numbers from 0 to {MAX_LABEL} (LightGBM's lambdarank needs integer labels)"
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
    bad = [text for text in texts if not QID_TEXT.fullmatch(text)]
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
