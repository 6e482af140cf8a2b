"""The feature snapshot: everything the matrix builder needs, as of one cut-off.

Built once per feature set (per model load for serving, once per window for training) from
the catalog and the feature tables of that cut-off: catalog attributes and text weights,
each product's and each (query, product)'s stored values in arrays indexed by dicts, user
affinities. A request then costs dictionary look-ups, array gathers and the query's text
statistics against each candidate. Pure Python, numpy and pandas (no Django).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from catalog import text
from ranking.features.contract import CONTRACT, Contract, Group
from ranking.features.inputs import CATALOG_INPUTS, Columns, ProductAttributes
from ranking.features.tables import FeatureTables, catalog_stats_compute, product_frame_derive
from ranking.features.text import ProductText, field_stats_build, postings_build, product_text_build

COLD_TEXT_CACHE_SIZE = 20_000


@dataclass
class FeatureSnapshot:
    """Everything the builder needs, as of one cut-off (``until``)."""

    until: str
    feature_set_id: int | None
    contract: Contract
    field_stats: tuple[text.TextStats, ...]  # title, description, brand, category, all
    category_median_price: dict[str, float]
    category_band_edges: dict[str, np.ndarray]
    category_share: dict[str, float]
    product_row: dict[str, int]
    # (n + 1, product and catalog features); the last row holds the defaults
    product_values: np.ndarray
    product_category: list[str]
    product_band: np.ndarray
    product_rel_price: np.ndarray
    product_text: list[ProductText]
    postings: dict[str, tuple[np.ndarray, np.ndarray]]  # term -> (product rows, their weights)
    qp_row: dict[tuple[str, str], int]
    qp_by_query: dict[str, dict[str, int]]  # the same rows by query, then product: no tuple per look-up
    qp_values: np.ndarray  # (m + 1, query x product features); the last row holds the defaults
    user_category: dict[tuple[str, str], float]
    user_band: dict[tuple[str, int], float]
    user_category_other: dict[str, float]  # a known user's lift for a category they never engaged with
    user_band_other: dict[str, float]
    user_price: dict[str, float]
    user_engagement: dict[str, float]
    stats: dict = field(default_factory=dict)
    # Text weights of products the catalog does not know, by their attributes: a shop's new
    # products come back request after request. A pure function of the attributes, so the
    # cache never changes a value; bounded by COLD_TEXT_CACHE_SIZE.
    cold_text_cache: dict = field(default_factory=dict, repr=False)
    # The compiled kernel's tables (``ranking.features.kernel``), prepared at model load.
    kernel: Any = field(default=None, repr=False, compare=False)

    @property
    def num_products(self) -> int:
        return len(self.product_category)

    def cold_text(self, attrs: ProductAttributes) -> ProductText:
        cache = self.cold_text_cache
        found = cache.get(attrs)
        if found is None:
            if len(cache) >= COLD_TEXT_CACHE_SIZE:
                cache.clear()
            found = cache[attrs] = product_text_build(attrs, self.field_stats)
        return found

    def price_band(self, category: str, price: float) -> int:
        edges = self.category_band_edges.get(category)
        if edges is None:
            return -1  # a category the catalog does not know: no band to compare with
        return int(np.searchsorted(edges, price, side="right"))

    def relative_price(self, category: str, price: float) -> float:
        """log(price / the category's median), NaN where there is none to compare with."""
        median = self.category_median_price.get(category)
        return math.log(price / median) if median and price > 0 else math.nan


def catalog_values(
    contract: Contract, price: np.ndarray, rel_price: np.ndarray, rating: np.ndarray
) -> np.ndarray:
    """The catalog group's features of products with these attributes (rating NaN: unrated)."""
    inputs = np.column_stack([price, rel_price, rating]).astype(np.float64)
    return contract.plan(Group.CATALOG).evaluate(Columns(CATALOG_INPUTS, inputs), len(inputs))


def _attributes(catalog: pd.DataFrame) -> list[ProductAttributes]:
    return [
        ProductAttributes(
            title=str(row.title),
            description=str(row.description or ""),
            brand=str(row.brand or ""),
            category=str(row.category or ""),
            price=float(row.price),
            rating=None if pd.isna(row.rating) else float(row.rating),
        )
        for row in catalog.itertuples(index=False)
    ]


def _product_values(
    contract: Contract, catalog: pd.DataFrame, derived: pd.DataFrame, tables: FeatureTables
) -> np.ndarray:
    """Per catalog product, its behaviour (defaults without history) and catalog features,
    in contract order; the defaults row last."""
    plan = contract.plan(Group.PRODUCT, Group.CATALOG)
    column = {f.name: j for j, f in enumerate(plan.features)}
    values = np.tile(plan.defaults, (len(catalog) + 1, 1))
    behaviour = tables.products.set_index("product_id").reindex(catalog["product_id"].astype(str))
    for name in contract.names_of(Group.PRODUCT):
        history = behaviour[name].to_numpy(dtype=np.float64)
        values[:-1, column[name]] = np.where(np.isnan(history), values[-1, column[name]], history)
    computed = catalog_values(
        contract,
        catalog["price"].to_numpy(dtype=np.float64),
        derived["rel_price"].to_numpy(dtype=np.float64),
        catalog["rating"].to_numpy(dtype=np.float64),
    )
    values[:-1, [column[name] for name in contract.names_of(Group.CATALOG)]] = computed
    return values


def _user_maps(tables: FeatureTables) -> dict[str, dict]:
    users, affinities = tables.users, tables.user_affinities
    categories = affinities[affinities["kind"] == "category"]
    bands = affinities[affinities["kind"] == "band"]
    return {
        "user_category": dict(
            zip(zip(categories["user_id"], categories["key"], strict=True), categories["lift"], strict=True)
        ),
        "user_band": dict(
            zip(zip(bands["user_id"], bands["key"].astype(int), strict=True), bands["lift"], strict=True)
        ),
        "user_category_other": dict(zip(users["user_id"], users["category_other"], strict=True)),
        "user_band_other": dict(zip(users["user_id"], users["band_other"], strict=True)),
        "user_price": dict(zip(users["user_id"], users["price_mean"], strict=True)),
        "user_engagement": dict(zip(users["user_id"], users["engagement"], strict=True)),
    }


def snapshot_build(
    *,
    catalog: pd.DataFrame,
    tables: FeatureTables,
    until: str,
    feature_set_id: int | None = None,
    contract: Contract = CONTRACT,
) -> FeatureSnapshot:
    """Everything ``matrix_build`` needs, from the catalog and one cut-off's feature tables.

    ``catalog``: product_id, title, description, brand, category, price, rating (NaN when
    unrated). Text statistics (IDF, average lengths) come from the whole catalog.
    """
    stats = tables.stats or catalog_stats_compute(catalog)
    catalog = catalog.reset_index(drop=True)
    derived = product_frame_derive(catalog, stats)
    attrs = _attributes(catalog)
    field_stats = field_stats_build(attrs)
    product_text = [product_text_build(a, field_stats) for a in attrs]

    qp = tables.query_products
    qp_row = {
        (q, p): i for i, (q, p) in enumerate(zip(qp["query_norm"], qp["product_id"].astype(str), strict=True))
    }
    qp_by_query: dict[str, dict[str, int]] = {}
    for (query, product), row in qp_row.items():
        qp_by_query.setdefault(query, {})[product] = row
    qp_plan = contract.plan(Group.QUERY_PRODUCT)
    qp_values = np.vstack(
        [qp[contract.names_of(Group.QUERY_PRODUCT)].to_numpy(dtype=float), qp_plan.defaults]
    )
    return FeatureSnapshot(
        until=until,
        feature_set_id=feature_set_id,
        contract=contract,
        field_stats=field_stats,
        category_median_price={k: float(v) for k, v in stats["category_median_price"].items()},
        category_band_edges={k: np.asarray(v, dtype=float) for k, v in stats["category_band_edges"].items()},
        category_share=dict(stats.get("category_share", {})),
        product_row={pid: i for i, pid in enumerate(catalog["product_id"].astype(str))},
        product_values=_product_values(contract, catalog, derived, tables),
        product_category=catalog["category"].astype(str).tolist(),
        product_band=derived["band"].to_numpy(dtype=np.int64),
        product_rel_price=derived["rel_price"].to_numpy(dtype=float),
        product_text=product_text,
        postings=postings_build(product_text),
        qp_row=qp_row,
        qp_by_query=qp_by_query,
        qp_values=qp_values,
        **_user_maps(tables),
        stats=stats,
    )


def snapshot_of_catalog(catalog: pd.DataFrame, contract: Contract = CONTRACT) -> FeatureSnapshot:
    """The catalog alone (text, prices, ratings) with every behavioural feature at its
    default: what the fallback scores with before any feature set was built."""
    tables = FeatureTables.empty(contract)
    tables.stats = catalog_stats_compute(catalog)
    return snapshot_build(catalog=catalog, tables=tables, until="", contract=contract)
