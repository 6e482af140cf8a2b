"""Feature tables of one cut-off, from counts of the events before it.

Pure pandas and numpy (no Django): frames in, frames out, so the same code could run on a
Dask worker. ``ranking.services.features_build`` feeds it counts that the database
aggregated from events strictly before the cut-off; nothing here sees an event.

The behaviour tables (per product, per query x product) hold the counts and every feature
the contract declares for their group, each computed by its own declared expression; the
user tables hold what the user features are computed from at request time (engagement,
mean relative price, lifts per category and price band).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ranking.features.contract import CONTRACT, Contract, Group
from ranking.features.inputs import COUNTS, ENGAGEMENT_WEIGHTS, Behaviour, Window

USER_PRIOR_ENGAGEMENT = 5.0
PRICE_BANDS = 5
EVENT_TYPES = tuple(COUNTS)
COUNT_COLUMNS = tuple(COUNTS.values())
KEYS = {Group.PRODUCT: ["product_id"], Group.QUERY_PRODUCT: ["query_norm", "product_id"]}
USER_COLUMNS = ["user_id", "engagement", "price_mean", "category_other", "band_other"]
AFFINITY_COLUMNS = ["user_id", "kind", "key", "lift"]
QUERY_COLUMNS = ["query_norm", "lists"]


def behaviour_columns(group: Group, contract: Contract = CONTRACT) -> list[str]:
    """The columns of a behaviour table: its keys, the counts and the group's features."""
    return [*KEYS[group], *COUNT_COLUMNS, *contract.names_of(group)]


@dataclass
class FeatureTables:
    products: pd.DataFrame  # behaviour_columns(Group.PRODUCT)
    query_products: pd.DataFrame  # behaviour_columns(Group.QUERY_PRODUCT)
    users: pd.DataFrame  # USER_COLUMNS
    user_affinities: pd.DataFrame  # AFFINITY_COLUMNS
    queries: pd.DataFrame  # QUERY_COLUMNS: lists shown per query (head / torso / tail)
    stats: dict

    @classmethod
    def empty(cls, contract: Contract = CONTRACT) -> FeatureTables:
        """No history at all: what the catalog alone gives."""
        return cls(
            products=pd.DataFrame(columns=behaviour_columns(Group.PRODUCT, contract)),
            query_products=pd.DataFrame(columns=behaviour_columns(Group.QUERY_PRODUCT, contract)),
            users=pd.DataFrame(columns=USER_COLUMNS),
            user_affinities=pd.DataFrame(columns=AFFINITY_COLUMNS),
            queries=pd.DataFrame(columns=QUERY_COLUMNS),
            stats={},
        )


def _pivot_counts(counts: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Long (keys, event_type, n, position_sum) -> wide per key with a column per type."""
    if counts.empty:
        columns = [*keys, *EVENT_TYPES, "position_sum"]
        return pd.DataFrame({c: pd.Series(dtype="object" if c in keys else "float64") for c in columns})
    wide = counts.pivot_table(index=keys, columns="event_type", values="n", aggfunc="sum", fill_value=0)
    wide = wide.reindex(columns=list(EVENT_TYPES), fill_value=0).astype("float64")
    positions = counts[counts.event_type == "impression"].groupby(keys)["position_sum"].sum()
    wide["position_sum"] = positions.reindex(wide.index).fillna(0.0).astype("float64")
    return wide.reset_index()


def catalog_stats_compute(catalog: pd.DataFrame) -> dict:
    """Per category: median price and price-band edges (quintiles), from the catalog."""
    stats: dict = {"category_median_price": {}, "category_band_edges": {}}
    priced = catalog[catalog["price"] > 0]
    for category, prices in priced.groupby("category")["price"]:
        values = prices.to_numpy(dtype=float)
        stats["category_median_price"][category] = float(np.median(values))
        edges = np.quantile(values, np.linspace(0, 1, PRICE_BANDS + 1)[1:-1])
        stats["category_band_edges"][category] = [float(e) for e in edges]
    return stats


def product_frame_derive(catalog: pd.DataFrame, stats: dict) -> pd.DataFrame:
    """Catalog rows with their price relative to the category median and their price band."""
    medians = catalog["category"].map(stats["category_median_price"]).astype(float)
    price = catalog["price"].astype(float)
    rel = np.where((medians > 0) & (price > 0), np.log(price / medians), 0.0)
    bands = np.full(len(catalog), PRICE_BANDS // 2, dtype=np.int64)
    for category, edges in stats["category_band_edges"].items():
        mask = (catalog["category"] == category).to_numpy()
        bands[mask] = np.searchsorted(np.asarray(edges), price[mask].to_numpy(), side="right")
    return catalog.assign(rel_price=np.nan_to_num(rel), band=bands)


def _window(products: pd.DataFrame, until: pd.Timestamp) -> tuple[Window, dict]:
    """The window's totals and global rates (also kept in the feature set's stats)."""
    totals = {etype: float(products[etype].sum()) for etype in EVENT_TYPES}
    impressions_total = max(totals["impression"], 1.0)
    shown = totals["impression"] > 0
    rates = {
        "ctr": totals["click"] / impressions_total if shown else 0.0,
        "atc": totals["add_to_cart"] / impressions_total if shown else 0.0,
        "purchase": totals["purchase"] / impressions_total if shown else 0.0,
    }
    engagement = sum(products[etype].sum() * weight for etype, weight in ENGAGEMENT_WEIGHTS.items())
    window = Window(
        until=until, impressions=impressions_total, engagement=max(float(engagement), 1.0), **rates
    )
    return window, {"totals": totals, "global_rates": rates}


def _behaviour_table(
    wide: pd.DataFrame, *, group: Group, window: Window, contract: Contract, times: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Keys, counts and the group's features, each by its declared expression."""
    behaviour = Behaviour(
        **{name: wide[etype] for etype, name in COUNTS.items()},
        position_sum=wide["position_sum"],
        window=window,
        first_impression=None if times is None else times["first_impression"],
        last_event=None if times is None else times["last_event"],
    )
    values = contract.plan(group).evaluate(behaviour, len(wide))
    columns = {key: wide[key].to_numpy() for key in KEYS[group]}
    columns.update({name: wide[etype].to_numpy() for etype, name in COUNTS.items()})
    columns.update({name: values[:, j] for j, name in enumerate(contract.names_of(group))})
    return pd.DataFrame(columns)


def feature_tables_compute(
    *,
    catalog: pd.DataFrame,
    product_counts: pd.DataFrame,
    query_product_counts: pd.DataFrame,
    user_product_counts: pd.DataFrame,
    query_lists: pd.DataFrame,
    until: pd.Timestamp,
    contract: Contract = CONTRACT,
) -> FeatureTables:
    """All feature tables of one cut-off.

    Inputs (all from events strictly before ``until``):
    ``product_counts``: product_id, event_type, n, position_sum, first, last;
    ``query_product_counts``: query_norm, product_id, event_type, n, position_sum;
    ``user_product_counts``: user_id, product_id, event_type, n (engagement types only);
    ``query_lists``: query_norm, lists (number of lists shown for the query).
    """
    stats = catalog_stats_compute(catalog)
    products = _pivot_counts(
        product_counts[["product_id", "event_type", "n", "position_sum"]], ["product_id"]
    )
    window, totals = _window(products, until)
    stats.update(totals)
    times = pd.DataFrame(
        {
            "first_impression": product_counts[product_counts.event_type == "impression"]
            .groupby("product_id")["first"]
            .min(),
            "last_event": product_counts.groupby("product_id")["last"].max(),
        }
    ).reindex(products["product_id"])
    times.index = products.index
    product_table = _behaviour_table(
        products, group=Group.PRODUCT, window=window, contract=contract, times=times
    )
    qp = _pivot_counts(query_product_counts, ["query_norm", "product_id"])
    qp_table = _behaviour_table(qp, group=Group.QUERY_PRODUCT, window=window, contract=contract)

    users, affinities, category_share = _user_tables(user_product_counts, catalog, stats)
    stats["category_share"] = category_share
    queries = query_lists[QUERY_COLUMNS].copy()
    queries["lists"] = queries["lists"].astype("int64")
    return FeatureTables(
        products=product_table,
        query_products=qp_table,
        users=users,
        user_affinities=affinities,
        queries=queries,
        stats=stats,
    )


def counts_rollup(query_product_counts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-product counts and lists per query from the per (query, product, type) counts, so
    that one scan of the events serves all three (sums of integers, minima and maxima: the
    same numbers as aggregating the events directly).

    ``query_product_counts``: query_norm, product_id, event_type, n, position_sum, first,
    last, lists (events at position 1). Returns ``product_counts`` (product_id, event_type,
    n, position_sum, first, last) and ``query_lists`` (query_norm, lists: the impressions at
    position 1, one per list, for every query that has any), both in key order.
    """
    counts = query_product_counts
    products = (
        counts.groupby(["product_id", "event_type"], sort=True)
        .agg(
            n=("n", "sum"),
            position_sum=("position_sum", "sum"),
            first=("first", "min"),
            last=("last", "max"),
        )
        .reset_index()
    )
    impressions = counts[counts["event_type"] == "impression"]
    lists = impressions.groupby("query_norm", sort=True)["lists"].sum()
    query_lists = lists[lists > 0].astype("int64").reset_index()
    return products, query_lists


def _key_order(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Row positions that put ``frame`` in the order of ``keys`` (unique keys: a total order),
    by integer codes, much cheaper than sorting the strings."""
    if frame.empty:
        return np.arange(0)
    codes = [pd.factorize(frame[key], sort=True)[0] for key in reversed(keys)]
    return np.lexsort(codes)


def _user_tables(
    user_product_counts: pd.DataFrame, catalog: pd.DataFrame, stats: dict
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, float]]:
    """Per user: engagement, smoothed mean relative price, and lifts per category and band."""
    categories = sorted(stats["category_median_price"])
    derived = product_frame_derive(catalog, stats).set_index("product_id")
    # The database returns groups in no particular order, and a float sum depends on its
    # order (``price_weighted`` moved by an ulp between two builds of the same events):
    # sum in key order so the same events always give the same features.
    counts = user_product_counts.iloc[
        _key_order(user_product_counts, ["user_id", "product_id", "event_type"])
    ]
    counts["weight"] = counts["event_type"].map(ENGAGEMENT_WEIGHTS).fillna(0.0) * counts["n"]
    counts = counts[counts["weight"] > 0].join(
        derived[["category", "band", "rel_price"]], on="product_id", how="inner"
    )

    by_category = counts.groupby("category")["weight"].sum()
    total = float(by_category.sum())
    category_share = {
        c: max(float(by_category.get(c, 0.0)) / total, 1e-3) if total else 1.0 / max(len(categories), 1)
        for c in categories
    }
    beta = USER_PRIOR_ENGAGEMENT
    per_user = counts.groupby("user_id")["weight"].sum().to_frame("engagement")
    per_user["price_weighted"] = (counts["rel_price"] * counts["weight"]).groupby(counts["user_id"]).sum()
    # A known user's lift for a category or band they never engaged with.
    other = (beta / (per_user["engagement"] + beta)).to_numpy()
    users = pd.DataFrame(
        {
            "user_id": per_user.index,
            "engagement": per_user["engagement"].to_numpy(),
            "price_mean": (per_user["price_weighted"] / (per_user["engagement"] + beta)).to_numpy(),
            "category_other": other,
            "band_other": other,
        }
    )
    affinities = _affinities(counts, category_share, per_user["engagement"])
    return users, affinities, category_share


def _affinities(
    counts: pd.DataFrame, category_share: dict[str, float], engagement: pd.Series
) -> pd.DataFrame:
    """Per (user, category) and (user, price band): the user's engagement share, smoothed
    toward the global share (the category's; 1 / bands for a band), over it."""
    beta = USER_PRIOR_ENGAGEMENT
    frames = []
    for key in ("category", "band"):
        grouped = counts.groupby(["user_id", key])["weight"].sum().reset_index()
        if key == "category":
            share = grouped[key].map(category_share).astype(float)
        else:
            share = pd.Series(1.0 / PRICE_BANDS, index=grouped.index)
        totals = grouped["user_id"].map(engagement).astype(float)
        lifts = ((grouped["weight"] + beta * share) / (totals + beta)) / share
        frames.append(
            pd.DataFrame(
                {"user_id": grouped["user_id"], "kind": key, "key": grouped[key].astype(str), "lift": lifts}
            )
        )
    return pd.concat(frames, ignore_index=True)
