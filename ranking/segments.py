"""Head, torso and tail: queries grouped by how often they are searched.

One rule for the offline evaluation (``training.evaluation``) and the online experiments'
reports, so a "tail query" means the same thing in both.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

SEGMENTS = ("head", "torso", "tail")


def query_segments(
    query_lists: Mapping[str, int], *, head_share: float = 0.5, torso_share: float = 0.3
) -> dict:
    """Head / torso / tail by query frequency before the cut-off: the most frequent queries
    that together make up ``head_share`` of the lists are the head, the next ``torso_share``
    the torso, the rest the tail. A query never seen before is tail."""
    if not query_lists:
        return {}
    # Most frequent first, ties by the query text: the same segments whatever the row order.
    frame = pd.Series(query_lists, dtype="float64")
    frame = frame.iloc[np.lexsort((frame.index.to_numpy(dtype=str), -frame.to_numpy()))]
    cumulative = frame.cumsum() / frame.sum()
    before = cumulative - frame / frame.sum()
    segment = np.where(
        before < head_share, "head", np.where(before < head_share + torso_share, "torso", "tail")
    )
    return dict(zip(frame.index, segment, strict=True))
