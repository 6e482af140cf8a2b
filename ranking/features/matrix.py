"""The one feature-matrix builder: training, evaluation and ``/api/rank`` all call
``matrix_build`` on a ``FeatureSnapshot``, so there is no train/serve skew.

Every column comes from the snapshot's contract: each group's values land in the group's
columns (``Contract.plan``), so nothing here knows a feature by its position. Pure Python
and numpy (no Django).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ranking.features.contract import Group
from ranking.features.inputs import TEXT_INPUTS, USER_INPUTS, Columns, ProductAttributes
from ranking.features.snapshot import FeatureSnapshot, catalog_values
from ranking.features.text import (
    EMPTY_TEXT,
    ProductText,
    query_text_build,
    text_statistics,
    text_statistics_known,
)

_NO_ROWS: dict[str, int] = {}


def matrix_build(
    snapshot: FeatureSnapshot,
    *,
    queries: Sequence[str],
    users: Sequence[str],
    product_ids: Sequence[str],
    cold_products: Mapping[str, ProductAttributes] | None = None,
) -> np.ndarray:
    """The feature matrix (rows x the contract's features) for candidate rows.

    ``queries`` (normalised) and ``users`` are per row, so one call can hold one list or a
    million. Products the catalog knows use their catalog attributes and features; the
    others use ``cold_products[id]`` (request attributes, behaviour at its defaults) or,
    with no attributes either, every default.
    """
    contract = snapshot.contract
    n = len(product_ids)
    matrix = np.empty((n, len(contract.names)), dtype=np.float64)
    if n == 0:
        return matrix
    get_row = snapshot.product_row.get
    rows = np.array([get_row(pid, -1) for pid in product_ids], dtype=np.int64)

    # 1. Product behaviour and catalog attributes: a gather (row -1 is the defaults row); a
    # product the catalog does not know takes its attributes from the request.
    product_block = snapshot.product_values[rows]
    products = _ProductsKnown(snapshot, rows)
    cold_text = _cold_products(snapshot, product_ids, rows, cold_products or {}, product_block, products)
    matrix[:, contract.plan(Group.PRODUCT, Group.CATALOG).columns] = product_block

    # 2. Query x product behaviour: a dict look-up per row, then a gather.
    qp_by_query = snapshot.qp_by_query
    if len(set(queries)) == 1:
        get_qp = qp_by_query.get(queries[0], _NO_ROWS).get
        qp_rows = np.array([get_qp(pid, -1) for pid in product_ids], dtype=np.int64)
    else:
        qp_rows = np.array(
            [qp_by_query.get(q, _NO_ROWS).get(pid, -1) for q, pid in zip(queries, product_ids, strict=True)],
            dtype=np.int64,
        )
    matrix[:, contract.plan(Group.QUERY_PRODUCT).columns] = snapshot.qp_values[qp_rows]

    # 3. Text: per distinct query, vectorised over its candidates through the postings.
    statistics = _text_statistics(snapshot, queries, product_ids, rows, cold_text)
    text_plan = contract.plan(Group.TEXT)
    matrix[:, text_plan.columns] = text_plan.evaluate(Columns(TEXT_INPUTS, statistics), n)

    # 4. User x product: what is known of the user, against the product's category, price
    # band and relative price (NaN where the product's is unknown: the feature's default).
    user_plan = contract.plan(Group.USER)
    user_inputs = _user_inputs(snapshot, users, products)
    matrix[:, user_plan.columns] = user_plan.evaluate(Columns(USER_INPUTS, user_inputs), n)
    return matrix


class _ProductsKnown:
    """Per row: the product's category, price band and relative price, as far as known (a
    product neither the catalog nor the request describes has none of them)."""

    def __init__(self, snapshot: FeatureSnapshot, rows: np.ndarray):
        n = len(rows)
        known = rows >= 0
        self.categories: list[str] = [snapshot.product_category[r] if r >= 0 else "" for r in rows.tolist()]
        if snapshot.num_products:
            self.bands = np.where(known, snapshot.product_band[rows], -1)
            self.rel_price = np.where(known, snapshot.product_rel_price[rows], np.nan)
        else:  # an empty catalog has no row for the gathers above to index: all are unknown
            self.bands = np.full(n, -1, dtype=np.int64)
            self.rel_price = np.full(n, np.nan)


def _cold_products(
    snapshot: FeatureSnapshot,
    product_ids: Sequence[str],
    rows: np.ndarray,
    cold_products: Mapping[str, ProductAttributes],
    product_block: np.ndarray,
    products: _ProductsKnown,
) -> dict[str, ProductText]:
    """Fill in what the request says of products the catalog does not know; returns their text."""
    cold = [
        (i, cold_products[product_ids[i]])
        for i in np.flatnonzero(rows < 0).tolist()
        if product_ids[i] in cold_products
    ]
    if not cold:
        return {}
    contract = snapshot.contract
    rel_price = np.array([snapshot.relative_price(a.category, a.price) for _, a in cold])
    computed = catalog_values(
        contract,
        np.array([a.price for _, a in cold]),
        rel_price,
        np.array([np.nan if a.rating is None else a.rating for _, a in cold], dtype=np.float64),
    )
    plan = contract.plan(Group.PRODUCT, Group.CATALOG)
    catalog_columns = [j for j, f in enumerate(plan.features) if f.group == Group.CATALOG]
    cold_text: dict[str, ProductText] = {}
    for k, (i, attrs) in enumerate(cold):
        product_block[i, catalog_columns] = computed[k]
        products.bands[i] = snapshot.price_band(attrs.category, attrs.price)
        products.rel_price[i] = 0.0 if np.isnan(rel_price[k]) else rel_price[k]
        products.categories[i] = attrs.category
        cold_text[product_ids[i]] = snapshot.cold_text(attrs)
    return cold_text


def _text_statistics(
    snapshot: FeatureSnapshot,
    queries: Sequence[str],
    product_ids: Sequence[str],
    rows: np.ndarray,
    cold_text: Mapping[str, ProductText],
) -> np.ndarray:
    n = len(rows)
    block = np.zeros((n, len(TEXT_INPUTS)), dtype=np.float64)
    if len(set(queries)) == 1:
        groups: list[tuple[str, np.ndarray]] = [(queries[0], np.arange(n))]
    else:
        codes, uniques = _factorize(queries)
        order = np.argsort(codes, kind="stable")
        bounds = np.flatnonzero(np.diff(codes[order])) + 1
        groups = [(uniques[codes[part[0]]], part) for part in np.split(order, bounds)]
    product_text = snapshot.product_text
    for query, members in groups:
        qtext = query_text_build(query, snapshot.field_stats)
        member_rows = rows[members]
        known = member_rows >= 0
        if known.any():
            known_rows = member_rows[known]
            titles = [product_text[r].title_norm for r in known_rows.tolist()]
            block[members[known]] = text_statistics_known(qtext, snapshot.postings, known_rows, titles)
        for i in members[~known].tolist():
            block[i] = text_statistics(qtext, cold_text.get(product_ids[i], EMPTY_TEXT))
    return block


def _factorize(values: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int64, count=len(values))
    return codes, list(index)


def _user_inputs(snapshot: FeatureSnapshot, users: Sequence[str], products: _ProductsKnown) -> np.ndarray:
    """``USER_INPUTS`` per row; NaN where the user, or the product's side, is unknown."""
    user_category, user_band = snapshot.user_category, snapshot.user_band
    category_other, band_other = snapshot.user_category_other, snapshot.user_band_other
    nan = float("nan")

    # Lifts are always > 0, so ``or`` falls through only for a missing pair.
    def category_lift(user: str, category: str) -> float:
        if not category:
            return nan
        return user_category.get((user, category)) or category_other.get(user, nan)

    def band_lift(user: str, band: int) -> float:
        if band < 0:
            return nan
        return user_band.get((user, band)) or band_other.get(user, nan)

    n = len(users)
    inputs = Columns(USER_INPUTS, np.empty((n, len(USER_INPUTS)), dtype=np.float64))
    values = inputs.values
    categories, bands = products.categories, products.bands.tolist()
    column = {name: j for j, name in enumerate(USER_INPUTS)}
    if len(set(users)) == 1:
        # One user (a request): look each distinct category and band up once.
        first = users[0]
        by_category = {c: category_lift(first, c) for c in set(categories)}
        by_band = {b: band_lift(first, b) for b in set(bands)}
        values[:, column["category_lift"]] = [by_category[c] for c in categories]
        values[:, column["band_lift"]] = [by_band[b] for b in bands]
        values[:, column["price_mean"]] = snapshot.user_price.get(first, 0.0)
        values[:, column["engagement"]] = snapshot.user_engagement.get(first, 0.0)
    else:
        values[:, column["category_lift"]] = [
            category_lift(u, c) for u, c in zip(users, categories, strict=True)
        ]
        values[:, column["band_lift"]] = [band_lift(u, b) for u, b in zip(users, bands, strict=True)]
        values[:, column["price_mean"]] = [snapshot.user_price.get(u, 0.0) for u in users]
        values[:, column["engagement"]] = [snapshot.user_engagement.get(u, 0.0) for u in users]
    values[:, column["rel_price"]] = products.rel_price
    return values
