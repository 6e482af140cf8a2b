"""Many ranking lists in one set of arrays (the "long" format), and its input checks.

The rows of all lists concatenated. ``list_index[i]`` is the list row ``i`` belongs to,
``0 .. L-1``; the rows of a list need not be contiguous. Every other per-row input (ranks,
labels, logged positions) is an array of the same length. ``n_lists`` fixes ``L`` when the
last lists have no rows here (otherwise ``L = max(list_index) + 1``).

Pure numpy, shared by the ranking metrics (``training.metrics``) and the propensity model
(``training.propensity``), so that both refuse the same malformed input with the same words.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


def list_index_checked(list_index: ArrayLike, n_lists: int | None) -> tuple[NDArray[np.intp], int]:
    """``list_index`` as an index array, and the number of lists ``L``.

    Raises ``ValueError`` (``TypeError`` for non-integers) unless it is 1-D, of integers
    ``>= 0``, and below ``n_lists`` when that is given.
    """
    idx = np.asarray(list_index)
    if idx.ndim != 1:
        raise ValueError("list_index must be 1-D")
    if idx.size == 0:
        return idx.astype(np.intp), int(n_lists or 0)
    if not np.issubdtype(idx.dtype, np.integer):
        raise TypeError("list_index must hold integers")
    idx = idx.astype(np.intp, copy=False)
    if idx.min() < 0:
        raise ValueError("list_index must be >= 0")
    needed = int(idx.max()) + 1
    if n_lists is None:
        return idx, needed
    if n_lists < needed:
        raise ValueError(f"n_lists={n_lists} but list_index goes up to {needed - 1}")
    return idx, n_lists


def rows_checked(name: str, values: ArrayLike, n: int) -> FloatArray:
    """``values`` as float64, one per row; ``ValueError`` naming ``name`` otherwise."""
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n,):
        raise ValueError(f"{name} must have one value per row ({n}), got shape {array.shape}")
    return array
