"""Lists and labels: one list is one ranking a user saw, the impressions of one request.

Pure pandas. A row per (request, product) shown: the position it was shown at and a graded
label from the funnel, purchase 3 > add to cart 2 > click 1 > shown and not clicked 0
(integers: LightGBM's lambdarank refuses fractional labels). Only the events handed in
count, so a caller that passes the events of ``[start, end)`` gets labels that know
nothing of later events.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LABELS = {"impression": 0, "click": 1, "add_to_cart": 2, "purchase": 3}
LIST_COLUMNS = ["request_id", "timestamp", "query_norm", "user_id", "product_id", "position", "label"]


def lists_build(events: pd.DataFrame) -> pd.DataFrame:
    """Rows of every list whose impressions are in ``events``, ordered by list time, list and
    position, with ``list_index`` numbering the lists 0..L-1 in that order.

    ``events``: request_id, event_type, product_id, position, timestamp, query_norm, user_id.
    """
    events = events[events["request_id"].astype(bool)]
    impressions = events[events["event_type"] == "impression"]
    if impressions.empty:
        return pd.DataFrame({**{c: [] for c in LIST_COLUMNS}, "list_index": []})
    impressions = impressions.sort_values(["request_id", "position", "timestamp"], kind="stable")
    shown = impressions.drop_duplicates(["request_id", "product_id"], keep="first")

    stage = events["event_type"].map(LABELS).fillna(0).astype(np.int64)
    labels = stage.groupby([events["request_id"], events["product_id"]]).max().rename("label")
    rows = shown.join(labels, on=["request_id", "product_id"])
    rows["label"] = rows["label"].fillna(0).astype(np.int64)

    # A list's query, user and time are those of its first impression.
    heads = shown.groupby("request_id", sort=False).agg(
        list_time=("timestamp", "min"), list_query=("query_norm", "first"), list_user=("user_id", "first")
    )
    rows = rows.join(heads, on="request_id")
    rows = rows.sort_values(["list_time", "request_id", "position"], kind="stable")
    out = pd.DataFrame(
        {
            "request_id": rows["request_id"].to_numpy(),
            "timestamp": rows["list_time"].to_numpy(),
            "query_norm": rows["list_query"].to_numpy(),
            "user_id": rows["user_id"].where(rows["user_id"].astype(bool), rows["list_user"]).to_numpy(),
            "product_id": rows["product_id"].astype(str).to_numpy(),
            "position": rows["position"].fillna(0).astype(np.int64).to_numpy(),
            "label": rows["label"].to_numpy(),
        }
    )
    out["list_index"] = pd.factorize(out["request_id"])[0]
    return out


def group_sizes(lists: pd.DataFrame) -> np.ndarray:
    """Rows per list, in list order (what LightGBM's ``group`` expects)."""
    return (
        np.bincount(lists["list_index"].to_numpy()).astype(np.int64) if len(lists) else np.zeros(0, np.int64)
    )


def lists_with_click(lists: pd.DataFrame) -> np.ndarray:
    """Boolean per list: has at least one row with label > 0."""
    if lists.empty:
        return np.zeros(0, dtype=bool)
    return (lists.groupby("list_index", sort=True)["label"].max() > 0).to_numpy()
