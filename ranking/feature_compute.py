"""Feature tables from aggregated events, and the snapshot the matrix builder reads.

Pure pandas and numpy (no Django): frames in, frames out, so the same code could run on
a Dask worker. ``ranking.services.features_build`` feeds it counts that the database
aggregated from events strictly before the cut-off; nothing here sees an event.

Smoothing: a rate is ``(events + alpha * global_rate) / (impressions + alpha)``, stored as
a lift over the global rate, so a product with no history sits at 1.0 (average).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from catalog import text
from ranking import matrix
from ranking.contract import UNRATED

PRODUCT_PRIOR_IMPRESSIONS = 20.0
QUERY_PRODUCT_PRIOR_IMPRESSIONS = 20.0
USER_PRIOR_ENGAGEMENT = 5.0
ENGAGEMENT_WEIGHTS = {"click": 1.0, "add_to_cart": 2.0, "purchase": 3.0}
EVENT_TYPES = ("impression", "click", "add_to_cart", "purchase")
DEFAULT_RECENCY_DAYS = 365.0
SHARE_SCALE = 1e5


# Columns of the stored tables (``ranking.models.features``), product ids as external ids.
PRODUCT_TABLE_COLUMNS = [
    "product_external_id",
    "impressions",
    "clicks",
    "carts",
    "purchases",
    "p_impression_share",
    "p_ctr_lift",
    "p_atc_lift",
    "p_purchase_lift",
    "p_popularity",
    "p_recency_days",
    "p_age_days",
]
QP_TABLE_COLUMNS = [
    "query_norm",
    "product_external_id",
    "impressions",
    "clicks",
    "carts",
    "purchases",
    "qp_impressions",
    "qp_ctr_lift",
    "qp_atc_lift",
    "qp_purchase_lift",
    "qp_avg_position",
]
USER_TABLE_COLUMNS = ["user_id", "engagement", "price_mean", "category_other", "band_other"]
AFFINITY_TABLE_COLUMNS = ["user_id", "kind", "key", "lift"]


@dataclass
class FeatureTables:
    products: pd.DataFrame
    query_products: pd.DataFrame
    users: pd.DataFrame
    user_affinities: pd.DataFrame
    queries: pd.DataFrame
    stats: dict


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
        edges = np.quantile(values, np.linspace(0, 1, matrix.PRICE_BANDS + 1)[1:-1])
        stats["category_band_edges"][category] = [float(e) for e in edges]
    return stats


def product_frame_derive(catalog: pd.DataFrame, stats: dict) -> pd.DataFrame:
    """Catalog rows with their price relative to the category median and their price band."""
    medians = catalog["category"].map(stats["category_median_price"]).astype(float)
    price = catalog["price"].astype(float)
    rel = np.where((medians > 0) & (price > 0), np.log(price / medians), 0.0)
    bands = np.full(len(catalog), matrix.PRICE_BANDS // 2, dtype=np.int64)
    for category, edges in stats["category_band_edges"].items():
        mask = (catalog["category"] == category).to_numpy()
        bands[mask] = np.searchsorted(np.asarray(edges), price[mask].to_numpy(), side="right")
    return catalog.assign(rel_price=np.nan_to_num(rel), band=bands)


def feature_tables_compute(
    *,
    catalog: pd.DataFrame,
    product_counts: pd.DataFrame,
    query_product_counts: pd.DataFrame,
    user_product_counts: pd.DataFrame,
    query_lists: pd.DataFrame,
    until: pd.Timestamp,
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
    totals = {etype: float(products[etype].sum()) for etype in EVENT_TYPES}
    impressions_total = max(totals["impression"], 1.0)
    rates = {
        "ctr": totals["click"] / impressions_total if totals["impression"] else 0.0,
        "atc": totals["add_to_cart"] / impressions_total if totals["impression"] else 0.0,
        "purchase": totals["purchase"] / impressions_total if totals["impression"] else 0.0,
    }
    stats.update({"totals": totals, "global_rates": rates})

    # Product behaviour.
    times = product_counts.groupby("product_id").agg(first=("first", "min"), last=("last", "max"))
    first_impression = (
        product_counts[product_counts.event_type == "impression"].groupby("product_id")["first"].min()
    )
    products = products.set_index("product_id")
    engagement = sum(products[etype] * weight for etype, weight in ENGAGEMENT_WEIGHTS.items())
    engagement_total = max(float(engagement.sum()), 1.0)
    day = pd.Timedelta(days=1)
    last = pd.to_datetime(times["last"].reindex(products.index), utc=True)
    first = pd.to_datetime(first_impression.reindex(products.index), utc=True)
    products_out = pd.DataFrame(
        {
            "impressions": products["impression"],
            "clicks": products["click"],
            "carts": products["add_to_cart"],
            "purchases": products["purchase"],
            "p_impression_share": np.log1p(SHARE_SCALE * products["impression"] / impressions_total),
            "p_ctr_lift": _lift(
                products["click"], products["impression"], rates["ctr"], PRODUCT_PRIOR_IMPRESSIONS
            ),
            "p_atc_lift": _lift(
                products["add_to_cart"], products["impression"], rates["atc"], PRODUCT_PRIOR_IMPRESSIONS
            ),
            "p_purchase_lift": _lift(
                products["purchase"], products["impression"], rates["purchase"], PRODUCT_PRIOR_IMPRESSIONS
            ),
            "p_popularity": np.log1p(SHARE_SCALE * engagement / engagement_total),
            "p_recency_days": ((until - last) / day).fillna(DEFAULT_RECENCY_DAYS).clip(lower=0.0),
            "p_age_days": ((until - first) / day).fillna(0.0).clip(lower=0.0),
        },
        index=products.index,
    ).reset_index()

    # Query x product behaviour.
    qp = _pivot_counts(query_product_counts, ["query_norm", "product_id"])
    qp_out = pd.DataFrame(
        {
            "query_norm": qp["query_norm"],
            "product_id": qp["product_id"],
            "impressions": qp["impression"],
            "clicks": qp["click"],
            "carts": qp["add_to_cart"],
            "purchases": qp["purchase"],
            "qp_impressions": np.log1p(qp["impression"]),
            "qp_ctr_lift": _lift(
                qp["click"], qp["impression"], rates["ctr"], QUERY_PRODUCT_PRIOR_IMPRESSIONS
            ),
            "qp_atc_lift": _lift(
                qp["add_to_cart"], qp["impression"], rates["atc"], QUERY_PRODUCT_PRIOR_IMPRESSIONS
            ),
            "qp_purchase_lift": _lift(
                qp["purchase"], qp["impression"], rates["purchase"], QUERY_PRODUCT_PRIOR_IMPRESSIONS
            ),
            "qp_avg_position": np.where(
                qp["impression"] > 0, qp["position_sum"] / qp["impression"].clip(lower=1), 0.0
            ),
        }
    )

    users, affinities, category_share = _user_tables(user_product_counts, catalog, stats)
    stats["category_share"] = category_share

    queries = query_lists[["query_norm", "lists"]].copy()
    queries["lists"] = queries["lists"].astype("int64")
    return FeatureTables(
        products=products_out,
        query_products=qp_out,
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


def _lift(events: pd.Series, impressions: pd.Series, rate: float, prior: float) -> pd.Series:
    if rate <= 0:
        return pd.Series(1.0, index=events.index)
    return ((events + prior * rate) / (impressions + prior)) / rate


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
    users = pd.DataFrame(
        {
            "user_id": per_user.index,
            "engagement": per_user["engagement"].to_numpy(),
            "price_mean": (per_user["price_weighted"] / (per_user["engagement"] + beta)).to_numpy(),
            # A known user's lift for a category or band they never engaged with.
            "category_other": (beta / (per_user["engagement"] + beta)).to_numpy(),
            "band_other": (beta / (per_user["engagement"] + beta)).to_numpy(),
        }
    )
    engagement = per_user["engagement"]

    uc = counts.groupby(["user_id", "category"])["weight"].sum().reset_index()
    share = uc["category"].map(category_share).astype(float)
    uc_total = uc["user_id"].map(engagement).astype(float)
    uc_lift = ((uc["weight"] + beta * share) / (uc_total + beta)) / share
    ub = counts.groupby(["user_id", "band"])["weight"].sum().reset_index()
    band_share = 1.0 / matrix.PRICE_BANDS
    ub_total = ub["user_id"].map(engagement).astype(float)
    ub_lift = ((ub["weight"] + beta * band_share) / (ub_total + beta)) / band_share
    affinities = pd.concat(
        [
            pd.DataFrame(
                {
                    "user_id": uc["user_id"],
                    "kind": "category",
                    "key": uc["category"].astype(str),
                    "lift": uc_lift,
                }
            ),
            pd.DataFrame(
                {"user_id": ub["user_id"], "kind": "band", "key": ub["band"].astype(str), "lift": ub_lift}
            ),
        ],
        ignore_index=True,
    )
    return users, affinities, category_share


# ---------------------------------------------------------------------------------------
# Snapshot
# ---------------------------------------------------------------------------------------


def _by_query(qp_row: dict[tuple[str, str], int]) -> dict[str, dict[str, int]]:
    nested: dict[str, dict[str, int]] = {}
    for (query, product), row in qp_row.items():
        nested.setdefault(query, {})[product] = row
    return nested


def snapshot_build(
    *,
    catalog: pd.DataFrame,
    tables: FeatureTables,
    until: str,
    feature_set_id: int | None = None,
) -> matrix.FeatureSnapshot:
    """Everything ``matrix_build`` needs, from the catalog and one cut-off's feature tables.

    ``catalog``: product_id, title, description, brand, category, price, rating (NaN when
    unrated). Text statistics (IDF, average lengths) come from the whole catalog.
    """
    stats = tables.stats
    catalog = catalog.reset_index(drop=True)
    derived = product_frame_derive(catalog, stats)
    product_ids = catalog["product_id"].astype(str).tolist()
    product_row = {pid: i for i, pid in enumerate(product_ids)}

    # Field statistics: title, description, brand, category, then the combined document.
    attrs = [
        matrix.ProductAttributes(
            title=str(row.title),
            description=str(row.description or ""),
            brand=str(row.brand or ""),
            category=str(row.category or ""),
            price=float(row.price),
            rating=None if pd.isna(row.rating) else float(row.rating),
        )
        for row in catalog.itertuples(index=False)
    ]
    documents = [[text.tokenize(getattr(a, name)) for a in attrs] for name in matrix.FIELDS]
    documents.append(
        [
            text.tokenize(
                text.product_document(
                    title=a.title, brand=a.brand, category=a.category, description=a.description
                )
            )
            for a in attrs
        ]
    )
    field_stats = tuple(text.TextStats.from_documents(docs) for docs in documents)
    product_text = [matrix.product_text_build(a, field_stats) for a in attrs]

    # Product values: defaults, then behaviour where the product has history, then attributes.
    defaults = np.array(
        [matrix.contract.FEATURES[matrix.contract.INDEX[name]].default for name in matrix.PRODUCT_COLUMNS]
    )
    values = np.tile(defaults, (len(product_ids) + 1, 1))
    behaviour = tables.products.set_index("product_id")
    behaviour_columns = [c for c in matrix.PRODUCT_COLUMNS if c in behaviour.columns]
    known = behaviour.reindex(product_ids)
    has_history = known["impressions"].notna().to_numpy() if len(known) else np.zeros(0, dtype=bool)
    for column in behaviour_columns:
        j = matrix.PRODUCT_COLUMNS.index(column)
        values[:-1, j] = np.where(has_history, known[column].to_numpy(dtype=float), defaults[j])
    prices = catalog["price"].astype(float).to_numpy()
    ratings = catalog["rating"].astype(float).to_numpy()
    values[:-1, matrix.PRODUCT_COLUMNS.index("p_log_price")] = np.log1p(np.clip(prices, 0, None))
    values[:-1, matrix.PRODUCT_COLUMNS.index("p_price_rel_category")] = derived["rel_price"].to_numpy()
    values[:-1, matrix.PRODUCT_COLUMNS.index("p_rating")] = np.where(np.isnan(ratings), UNRATED, ratings)

    qp = tables.query_products
    qp_row = {
        (q, p): i for i, (q, p) in enumerate(zip(qp["query_norm"], qp["product_id"].astype(str), strict=True))
    }
    qp_defaults = np.array(
        [matrix.contract.FEATURES[matrix.contract.INDEX[name]].default for name in matrix.QP_COLUMNS]
    )
    qp_values = np.vstack(
        [qp[matrix.QP_COLUMNS].to_numpy(dtype=float).reshape(-1, len(matrix.QP_COLUMNS)), qp_defaults]
    )

    users = tables.users
    affinities = tables.user_affinities
    categories_aff = affinities[affinities["kind"] == "category"]
    bands_aff = affinities[affinities["kind"] == "band"]
    return matrix.FeatureSnapshot(
        until=until,
        feature_set_id=feature_set_id,
        field_stats=field_stats,
        category_median_price={k: float(v) for k, v in stats["category_median_price"].items()},
        category_band_edges={k: np.asarray(v, dtype=float) for k, v in stats["category_band_edges"].items()},
        category_share=dict(stats.get("category_share", {})),
        product_row=product_row,
        product_values=values,
        product_category=catalog["category"].astype(str).tolist(),
        product_band=derived["band"].to_numpy(dtype=np.int64),
        product_rel_price=derived["rel_price"].to_numpy(dtype=float),
        product_text=product_text,
        postings=matrix.postings_build(product_text),
        qp_row=qp_row,
        qp_by_query=_by_query(qp_row),
        qp_values=qp_values,
        user_category=dict(
            zip(
                zip(categories_aff["user_id"], categories_aff["key"], strict=True),
                categories_aff["lift"],
                strict=True,
            )
        ),
        user_band=dict(
            zip(
                zip(bands_aff["user_id"], bands_aff["key"].astype(int), strict=True),
                bands_aff["lift"],
                strict=True,
            )
        ),
        user_category_other=dict(zip(users["user_id"], users["category_other"], strict=True)),
        user_band_other=dict(zip(users["user_id"], users["band_other"], strict=True)),
        user_price=dict(zip(users["user_id"], users["price_mean"], strict=True)),
        user_engagement=dict(zip(users["user_id"], np.log1p(users["engagement"]), strict=True)),
        stats=stats,
    )
