"""The rows of a LETOR file as dense arrays, its errors, and the limits reader and writer share."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import numpy as np

from training.long_format import FloatArray, IntArray

__all__ = ["MAX_FEATURE_INDEX", "MAX_LABEL", "QID_TEXT", "LetorData", "LetorFormatError", "PathLike"]

PathLike = str | os.PathLike[str]

MAX_FEATURE_INDEX = 100_000
"""Feature indices above this are refused: the matrix is dense (ranking sets have tens to
hundreds of features; a larger index is almost surely a typo such as ``1e300:1``)."""

MAX_LABEL = 2**31 - 1
"""LightGBM's lambdarank indexes ``label_gain`` with a 32-bit label."""

QID_TEXT = re.compile(r"[^\s:#]+")
"""A qid: any token without whitespace, ``:`` or ``#``."""


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
