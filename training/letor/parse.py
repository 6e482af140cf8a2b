"""The read engine: one block of whole lines into labels, qids and a dense feature block.

Each block goes through
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
"""

from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from training.letor.data import MAX_FEATURE_INDEX, MAX_LABEL, QID_TEXT, LetorFormatError, PathLike
from training.long_format import FloatArray, IntArray

# Whitespace other than blanks and newlines (what bytes.split() also splits on) becomes a
# blank; the skeleton of a line is its blanks and colons, everything else deleted.
_OTHER_WHITESPACE = b"\t\r\x0b\x0c"
_TO_BLANK = bytes.maketrans(_OTHER_WHITESPACE, b" " * len(_OTHER_WHITESPACE))
_COLON_TO_BLANK = bytes.maketrans(b":", b" ")
_NOT_SEPARATORS = bytes(set(range(256)) - set(b" :\n"))
_COMMENT = re.compile(rb"#[^\n]*+")
_BLANKS = re.compile(rb"  ++")


@dataclass
class Block:
    """The rows of one block; ``features`` as wide as the block's highest feature index."""

    labels: IntArray
    qids: np.ndarray  # str per row (object), or empty in the .query form
    features: FloatArray


def parse_block(path: PathLike, first_line: int, block: bytes, with_qid: bool) -> Block:
    """The rows of ``block`` (whole lines, the first of them line ``first_line`` of ``path``):
    by the fast path, else line by line, which raises ``LetorFormatError`` at the first bad line."""
    fast = _parse_block_fast(block, with_qid)
    return fast if fast is not None else _parse_block_careful(path, first_line, block.split(b"\n"), with_qid)


def _parse_block_fast(block: bytes, with_qid: bool) -> Block | None:
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
    if not (np.all((labels >= 0) & (labels <= MAX_LABEL)) and np.all(labels == np.floor(labels))):
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
    return Block(labels=labels.astype(np.int64), qids=qids, features=features)


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


def _parse_block_careful(path: PathLike, first_line: int, lines: list[bytes], with_qid: bool) -> Block:
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
    return Block(
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
            f"label {show_token(tokens[0])} is not an integer (LightGBM's lambdarank needs integer labels)"
        )
    if label < 0:
        raise ValueError(f"label {show_token(tokens[0])} is negative")
    if label > MAX_LABEL:
        raise ValueError(f"label {show_token(tokens[0])} is above {MAX_LABEL}")
    qid = None
    features = tokens[1:]
    has_qid = bool(features) and features[0].startswith(b"qid:")
    if with_qid:
        if not has_qid:
            got = f"got {show_token(features[0])}" if features else "the line ends"
            raise ValueError(f"expected qid:<id> after the label, {got} (the first row has a qid)")
        qid = features[0][4:].decode("utf-8", "replace")
        if not QID_TEXT.fullmatch(qid):
            raise ValueError(f"qid {qid!r} is empty or holds a ':'")
        features = features[1:]
    elif has_qid:
        raise ValueError("a qid: token, but the first row has none (its lists come from the .query file)")
    indices: list[int] = []
    values: list[float] = []
    for token in features:
        index_text, colon, value_text = token.partition(b":")
        if not colon or not index_text or not value_text or b":" in value_text:
            raise ValueError(f"token {show_token(token)} is not index:value")
        number = _number(index_text, "feature index")
        if not (math.isfinite(number) and number == math.floor(number)):
            raise ValueError(f"feature index {show_token(index_text)} is not a whole number")
        index = int(number)
        if index < 1:
            raise ValueError(f"feature index {index}: indices start at 1")
        if index > MAX_FEATURE_INDEX:
            raise ValueError(f"feature index {index} is above MAX_FEATURE_INDEX = {MAX_FEATURE_INDEX}")
        if indices and index <= indices[-1]:
            raise ValueError(f"feature index {index} after {indices[-1]}: indices must increase")
        value = _number(value_text, f"the value of feature {index}")
        if not math.isfinite(value):
            raise ValueError(f"the value of feature {index} is {show_token(value_text)}, not a finite number")
        indices.append(index)
        values.append(value)
    return int(label), qid, indices, values


def _number(text: bytes, what: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{what} {show_token(text)} is not a number") from None


def show_token(text: bytes) -> str:
    shown = text.decode("utf-8", "replace")
    return repr(shown if len(shown) <= 40 else shown[:40] + "...")
