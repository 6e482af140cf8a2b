"""Hand-made catalogs and events for the pure feature code (``ranking.features``): small enough that every expected value can be worked out by hand.

``tables_compute`` aggregates an events frame the way ``ranking.features.aggregate``
asks the database to (counts per key and event type, strictly before ``until``), so a
test can speak in events rather than in counts.
"""

from __future__ import annotations

import math

import pandas as pd

from ranking.features import snapshot, tables

UNTIL = pd.Timestamp("2026-10-01T00:00:00Z")

CATALOG = pd.DataFrame(
    {
        "product_id": ["P1", "P2", "P3", "P4", "P5"],
        "title": [
            "Acme Trail Running Shoes",
            "Zoom Road Running Shoes",
            "Acme Leather Boots",
            "Comfy Wool Socks",
            "Comfy Cotton Socks",
        ],
        "description": [
            "Light trail shoes with a grippy sole.",
            "Fast road shoes for daily runs.",
            "Waterproof leather boots.",
            "Warm wool socks for hiking.",
            "Soft cotton socks.",
        ],
        "brand": ["Acme", "Zoom", "Acme", "Comfy", "Comfy"],
        "category": ["shoes", "shoes", "shoes", "socks", "socks"],
        "price": [100.0, 50.0, 200.0, 10.0, 20.0],
        "rating": [4.5, math.nan, 3.0, 4.0, 4.2],
    }
)

EVENT_COLUMNS = ["event_type", "product_id", "query_norm", "user_id", "position", "timestamp"]


def events(*rows: tuple) -> pd.DataFrame:
    """Rows of (event_type, product_id, query_norm, user_id, position, days before UNTIL)."""
    frame = pd.DataFrame(list(rows), columns=EVENT_COLUMNS)
    frame["timestamp"] = UNTIL - pd.to_timedelta(frame["timestamp"], unit="D")
    return frame


def shown(product_id: str, times: int, *, clicks: int = 0, query: str = "shoes", user: str = "") -> list:
    """``times`` impressions at position 1 a day before the cut-off, ``clicks`` of them clicked."""
    rows = [("impression", product_id, query, user, 1, 1.0)] * times
    return rows + [("click", product_id, query, user, 1, 1.0)] * clicks


def tables_compute(
    frame: pd.DataFrame, *, catalog: pd.DataFrame = CATALOG, until: pd.Timestamp = UNTIL
) -> tables.FeatureTables:
    before = frame[frame["timestamp"] < until].assign(n=1.0, position=lambda f: f["position"].astype(float))
    product_counts = (
        before.groupby(["product_id", "event_type"])
        .agg(
            n=("n", "sum"),
            position_sum=("position", "sum"),
            first=("timestamp", "min"),
            last=("timestamp", "max"),
        )
        .reset_index()
    )
    query_product_counts = (
        before.groupby(["query_norm", "product_id", "event_type"])
        .agg(n=("n", "sum"), position_sum=("position", "sum"))
        .reset_index()
    )
    engaged = before[
        before["event_type"].isin(["click", "add_to_cart", "purchase"]) & (before["user_id"] != "")
    ]
    user_product_counts = (
        engaged.groupby(["user_id", "product_id", "event_type"]).agg(n=("n", "sum")).reset_index()
    )
    firsts = before[(before["event_type"] == "impression") & (before["position"] == 1)]
    query_lists = firsts.groupby("query_norm").size().rename("lists").reset_index()
    return tables.feature_tables_compute(
        catalog=catalog,
        product_counts=product_counts,
        query_product_counts=query_product_counts,
        user_product_counts=user_product_counts,
        query_lists=query_lists,
        until=until,
    )


def snapshot_build(frame: pd.DataFrame, *, catalog: pd.DataFrame = CATALOG) -> snapshot.FeatureSnapshot:
    return snapshot.snapshot_build(
        catalog=catalog, tables=tables_compute(frame, catalog=catalog), until=UNTIL.isoformat()
    )
