"""The feature matrix of one rank request, built by one compiled kernel.

``request_matrix_build`` gives the values of the reference builder
(``ranking.features.matrix.matrix_build``) for one query, one user and a list of candidates
(``tests/unit/features/test_kernel.py`` compares the two on random requests), at a fraction of
its cost: instead of some forty NumPy calls and a dictionary look-up per candidate and
input, one C function (``_kernel_request.c``) looks the candidates up, gathers their stored
features, computes the query's text statistics against each and the user inputs, and
places every input where the contract says.

The contract stays the one declaration: ``KernelTables`` takes each group's columns, the
inputs its features copy and their defaults from ``Contract.plan``, and the features whose
value is an expression over the inputs are evaluated here, over the inputs the kernel
computed, as ``GroupPlan.evaluate`` does. Prepared once per snapshot (``kernel_prepare``,
at model load): the postings in one CSR array, category codes, the users' affinities in
CSR arrays. Per request and cached: the query's text (a bounded LRU by normalised query)
and what a cold product's attributes give (by the attributes).
"""

from __future__ import annotations

import logging
import math
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ranking.compiled import FEATURE_KERNEL, extension_load
from ranking.features.contract import Group
from ranking.features.inputs import TEXT_INPUTS, TEXT_WEIGHTS, USER_INPUTS, Columns, ProductAttributes
from ranking.features.matrix import matrix_build
from ranking.features.snapshot import FeatureSnapshot, catalog_values
from ranking.features.text import ProductText, QueryText, query_text_build, text_statistics

logger = logging.getLogger(__name__)

QUERY_CACHE_SIZE = 4096
COLD_CACHE_SIZE = 20_000
_TEXT_LAYOUT = (
    *(TEXT_INPUTS.index(name) for name in ("exact_title", "coverage", "title_coverage", "num_terms")),
    TEXT_WEIGHTS.index("bm25_title"),
)
_USER_LAYOUT = tuple(
    USER_INPUTS.index(name)
    for name in ("category_lift", "band_lift", "rel_price", "price_mean", "engagement")
)
# The kernel sums the text weights into the first inputs, in TEXT_WEIGHTS order.
assert TEXT_INPUTS[: len(TEXT_WEIGHTS)] == TEXT_WEIGHTS

_KERNEL = extension_load(FEATURE_KERNEL)
Cold = Mapping[str, ProductAttributes]  # products the catalog does not know: their request attributes


@dataclass(frozen=True)
class CompiledQuery:
    text: QueryText
    terms: np.ndarray  # per distinct query term, its posting's id (-1: in no product)
    multipliers: np.ndarray  # (terms, text weights): what each weight is multiplied by


@dataclass(frozen=True)
class ColdProduct:
    """What a product the catalog does not know gives, from its request attributes alone."""

    catalog: np.ndarray  # its catalog features, in the catalog group's order
    side: tuple[float, float, float]  # category code, price band, relative price (for the user inputs)
    text: ProductText


@dataclass(frozen=True)
class Computed:
    """A feature whose value is an expression over its group's inputs."""

    column: int
    expression: Callable[[Any], Any]
    default: float
    block: str  # "text" or "user": over which of the kernel's input blocks


class KernelTables:
    """One snapshot's arrays as the kernel reads them, and the per-request caches."""

    def __init__(self, snapshot: FeatureSnapshot, kernel: Any):
        contract = snapshot.contract
        self.snapshot = snapshot
        self.width = len(contract.names)
        positions = np.arange(self.width)
        product_plan = contract.plan(Group.PRODUCT, Group.CATALOG)
        self.term_index = {term: i for i, term in enumerate(snapshot.postings)}
        categories = {c for c in snapshot.product_category if c} | {c for _, c in snapshot.user_category if c}
        self.category_code = {c: i for i, c in enumerate(sorted(categories))}
        self.user_index, users = _user_arrays(snapshot, self.category_code)
        self.computed: list[Computed] = []
        placement: dict[str, np.ndarray] = {}
        for group, block in ((Group.TEXT, "text"), (Group.USER, "user")):
            plan = contract.plan(group)
            columns = positions[plan.columns]
            placement[f"{block}_place"] = (
                np.column_stack([columns[plan.direct], plan.direct_inputs]).astype(np.int64).reshape(-1, 2)
            )
            placement[f"{block}_defaults"] = plan.defaults[plan.direct].astype(np.float64)
            self.computed += [
                Computed(int(columns[j]), expression, float(plan.defaults[j]), block)
                for j, expression in plan.computed
            ]
        self.tables = kernel.Tables(
            product_values=np.ascontiguousarray(snapshot.product_values, dtype=np.float64),
            product_columns=positions[product_plan.columns].astype(np.int64),
            catalog_positions=np.array(
                [j for j, f in enumerate(product_plan.features) if f.group == Group.CATALOG], dtype=np.int64
            ),
            qp_values=np.ascontiguousarray(snapshot.qp_values, dtype=np.float64),
            qp_columns=positions[contract.plan(Group.QUERY_PRODUCT).columns].astype(np.int64),
            **_postings_csr(snapshot),
            titles=[product.title_norm for product in snapshot.product_text],
            product_category=np.array(
                [self.category_code[c] if c else -1 for c in snapshot.product_category], dtype=np.int64
            ),
            product_band=np.ascontiguousarray(snapshot.product_band, dtype=np.int64),
            product_rel_price=np.ascontiguousarray(snapshot.product_rel_price, dtype=np.float64),
            **users,
            **placement,
            text_layout=np.array(_TEXT_LAYOUT, dtype=np.int64),
            user_layout=np.array(_USER_LAYOUT, dtype=np.int64),
            categories=len(self.category_code),
            bands=max((len(edges) + 1 for edges in snapshot.category_band_edges.values()), default=0),
            width=self.width,
            text_width=len(TEXT_INPUTS),
            user_width=len(USER_INPUTS),
        )
        self._queries: OrderedDict[str, CompiledQuery] = OrderedDict()
        self._cold: dict[ProductAttributes, ColdProduct] = {}
        self._cold_text: dict[tuple[str, ProductAttributes], tuple[float, ...]] = {}
        catalog_width = len(contract.plan(Group.CATALOG).features)
        self._no_cold = (
            np.empty((0, catalog_width)),
            np.empty((0, 3)),
            np.empty((0, len(TEXT_INPUTS))),
        )

    def query(self, query_norm: str) -> CompiledQuery:
        """The query's text and its postings, from a bounded LRU by normalised query."""
        cache = self._queries
        found = cache.get(query_norm)
        if found is not None:
            cache.move_to_end(query_norm)
            return found
        text = query_text_build(query_norm, self.snapshot.field_stats)
        multipliers = text.multipliers
        found = CompiledQuery(
            text=text,
            terms=np.array([self.term_index.get(term, -1) for term in multipliers], dtype=np.int64),
            multipliers=np.array(list(multipliers.values()), dtype=np.float64).reshape(-1, len(TEXT_WEIGHTS)),
        )
        cache[query_norm] = found
        if len(cache) > QUERY_CACHE_SIZE:
            cache.popitem(last=False)
        return found

    def cold(self, attrs: ProductAttributes) -> ColdProduct:
        """What the attributes give; a pure function of them, so caching never changes a value."""
        found = self._cold.get(attrs)
        if found is None:
            snapshot = self.snapshot
            rel_price = snapshot.relative_price(attrs.category, attrs.price)
            catalog = catalog_values(
                snapshot.contract,
                np.array([attrs.price]),
                np.array([rel_price]),
                np.array([math.nan if attrs.rating is None else attrs.rating], dtype=np.float64),
            )[0]
            code = self.category_code.get(attrs.category, len(self.category_code)) if attrs.category else -1
            side = (float(code), float(snapshot.price_band(attrs.category, attrs.price)),
                    0.0 if math.isnan(rel_price) else rel_price)  # fmt: skip
            if len(self._cold) >= COLD_CACHE_SIZE:
                self._cold.clear()
            found = self._cold[attrs] = ColdProduct(catalog, side, snapshot.cold_text(attrs))
        return found

    def cold_text(self, query: CompiledQuery, attrs: ProductAttributes) -> tuple[float, ...]:
        """The text statistics of the query against a cold product, from a bounded cache by both:
        a shop's new products come back request after request, often for the same queries."""
        key = (query.text.norm, attrs)
        found = self._cold_text.get(key)
        if found is None:
            if len(self._cold_text) >= COLD_CACHE_SIZE:
                self._cold_text.clear()
            found = self._cold_text[key] = text_statistics(query.text, self.cold(attrs).text)
        return found

    def build(self, query_norm: str, user: str, product_ids: list[str], cold_products: Cold) -> np.ndarray:
        """The request's matrix: see ``request_matrix_build``."""
        n = len(product_ids)
        snapshot = self.snapshot
        query = self.query(query_norm)
        matrix = np.empty((n, self.width), dtype=np.float64)
        text = np.empty((n, len(TEXT_INPUTS)), dtype=np.float64)
        users = np.empty((n, len(USER_INPUTS)), dtype=np.float64)
        cold = [(pid, self.cold(attrs)) for pid, attrs in cold_products.items()]
        cold_arrays = self._no_cold
        if cold:
            cold_arrays = (
                np.array([c.catalog for _, c in cold], dtype=np.float64),
                np.array([c.side for _, c in cold], dtype=np.float64),
                np.array(
                    [self.cold_text(query, attrs) for attrs in cold_products.values()], dtype=np.float64
                ),
            )
        self.tables.fill(
            product_ids,
            snapshot.product_row,
            snapshot.qp_by_query.get(query_norm, _NO_ROWS),
            {pid: k for k, (pid, _) in enumerate(cold)},
            *cold_arrays,
            query.terms,
            query.multipliers,
            query.text.num_terms,
            query.text.norm,
            self.user_index.get(user, -1),
            matrix,
            text,
            users,
        )
        if self.computed:
            inputs = {"text": Columns(TEXT_INPUTS, text), "user": Columns(USER_INPUTS, users)}
            for computed in self.computed:
                column = matrix[:, computed.column]
                column[:] = computed.expression(inputs[computed.block])
                np.copyto(column, computed.default, where=np.isnan(column))
        return matrix


_NO_ROWS: dict[str, int] = {}


def _postings_csr(snapshot: FeatureSnapshot) -> dict[str, np.ndarray]:
    """The postings (per term, catalog rows and their weights) as three CSR arrays."""
    postings = list(snapshot.postings.values())
    lengths = np.array([len(rows) for rows, _ in postings], dtype=np.int64)
    return {
        "post_start": np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        "post_rows": np.concatenate([rows for rows, _ in postings]).astype(np.int64)
        if postings
        else np.empty(0, dtype=np.int64),
        "post_weights": np.ascontiguousarray(
            np.vstack([weights for _, weights in postings]), dtype=np.float64
        )
        if postings
        else np.empty((0, len(TEXT_WEIGHTS)), dtype=np.float64),
    }


def _user_arrays(snapshot: FeatureSnapshot, category_code: dict[str, int]) -> tuple[dict[str, int], dict]:
    """Per user: their category and band lifts as CSR arrays, and what is known of them (NaN,
    or 0 for price and engagement, where the users table does not hold them: the
    reference's defaults)."""
    names = sorted(
        {*snapshot.user_price, *snapshot.user_category_other, *(u for u, _ in snapshot.user_category),
         *(u for u, _ in snapshot.user_band)}
    )  # fmt: skip
    index = {user: i for i, user in enumerate(names)}

    def csr(pairs: Sequence[tuple[int, int, float]], prefix: str, key: str) -> dict[str, np.ndarray]:
        ordered = sorted(pairs)
        counts = np.bincount(np.array([u for u, _, _ in ordered], dtype=np.int64), minlength=len(names))
        return {
            f"{prefix}_start": np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
            f"{prefix}_{key}": np.array([k for _, k, _ in ordered], dtype=np.int64),
            f"{prefix}_lifts": np.array([lift for _, _, lift in ordered], dtype=np.float64),
        }

    def per_user(values: Mapping[str, float], missing: float) -> np.ndarray:
        return np.array([values.get(user, missing) for user in names], dtype=np.float64)

    return index, {
        **csr([(index[u], category_code[c], v) for (u, c), v in snapshot.user_category.items() if c],
              "user_category", "codes"),
        **csr([(index[u], int(b), v) for (u, b), v in snapshot.user_band.items() if b >= 0], "user_band", "keys"),
        "user_category_other": per_user(snapshot.user_category_other, math.nan),
        "user_band_other": per_user(snapshot.user_band_other, math.nan),
        "user_price": per_user(snapshot.user_price, 0.0),
        "user_engagement": per_user(snapshot.user_engagement, 0.0),
    }  # fmt: skip


def kernel_prepare(snapshot: FeatureSnapshot) -> KernelTables | None:
    """The kernel's tables of ``snapshot``, built once (at model load) and kept on it; None
    where the kernel could not be built (the reference builder then serves)."""
    if snapshot.kernel is None and _KERNEL is not None:
        snapshot.kernel = KernelTables(snapshot, _KERNEL)
    return snapshot.kernel


def request_matrix_build(
    snapshot: FeatureSnapshot,
    *,
    query_norm: str,
    user: str,
    product_ids: list[str],
    cold_products: Mapping[str, ProductAttributes],
) -> np.ndarray:
    """``matrix_build`` for one query and one user: the same values, from the kernel."""
    tables = kernel_prepare(snapshot)
    if tables is None:
        n = len(product_ids)
        return matrix_build(
            snapshot,
            queries=[query_norm] * n,
            users=[user] * n,
            product_ids=product_ids,
            cold_products=cold_products,
        )
    return tables.build(query_norm, user, product_ids, cold_products)
