"""The one feature-matrix builder: training, evaluation and ``/api/rank`` all call
``matrix_build`` on a ``FeatureSnapshot``, so there is no train/serve skew.

Pure Python and numpy (no Django). A snapshot holds everything known at a cut-off:
catalog attributes and text weights, behavioural feature rows in arrays indexed by
dicts, user affinities. It is built once (per feature set, per model load); a request
then costs dictionary look-ups, array gathers and the query's text features against
each candidate.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from catalog import text
from ranking import contract

FIELDS = ("title", "description", "brand", "category")
NUM_FIELDS = len(FIELDS)
PRICE_BANDS = 5

PRODUCT_COLUMNS = [
    name for name in contract.NAMES if contract.FEATURES[contract.INDEX[name]].group == "product"
]
QP_COLUMNS = [
    name for name in contract.NAMES if contract.FEATURES[contract.INDEX[name]].group == "query_product"
]
STATIC_COLUMNS = ["p_log_price", "p_price_rel_category", "p_rating"]
TEXT_COLUMNS = [
    "t_bm25_title",
    "t_bm25_description",
    "t_bm25_brand",
    "t_bm25_category",
    "t_bm25_all",
    "t_cos_title",
    "t_cos_description",
    "t_cos_brand",
    "t_cos_category",
    "t_exact_title",
    "t_coverage",
    "t_title_coverage",
    "q_num_terms",
]
USER_COLUMNS = ["u_category_lift", "u_price_band_lift", "u_price_gap", "u_engagement"]


def _block(names: list[str]) -> slice | list[int]:
    """A group's columns as a slice when they are contiguous in the contract (a cheap copy)."""
    indices = [contract.INDEX[name] for name in names]
    if indices == list(range(indices[0], indices[-1] + 1)):
        return slice(indices[0], indices[-1] + 1)
    return indices


_P = _block(PRODUCT_COLUMNS)
_QP = _block(QP_COLUMNS)
_STATIC = [contract.INDEX[name] for name in STATIC_COLUMNS]
_TEXT = _block(TEXT_COLUMNS)
_USER = _block(USER_COLUMNS)
_STATIC_IN_P = [PRODUCT_COLUMNS.index(name) for name in STATIC_COLUMNS]


@dataclass(frozen=True)
class ProductAttributes:
    """A product's catalog attributes: from the catalog, or from a request (cold start)."""

    title: str
    price: float
    category: str = ""
    description: str = ""
    brand: str = ""
    rating: float | None = None


@dataclass(frozen=True)
class ProductText:
    """Per term: (bm25 title, description, brand, category, all, tfidf title, description,
    brand, category), merged into one dict so a query term costs one look-up."""

    terms: dict[str, tuple[float, ...]]
    title_terms: frozenset[str]
    title_norm: str


@dataclass(frozen=True)
class QueryText:
    tokens: tuple[str, ...]
    counts: tuple[tuple[str, int, tuple[float, ...]], ...]  # term, multiplicity, tfidf per field
    norm: str

    @property
    def num_terms(self) -> int:
        return len(self.counts)


@dataclass
class FeatureSnapshot:
    """Everything the builder needs, as of one cut-off (``until``)."""

    until: str
    feature_set_id: int | None
    field_stats: tuple[text.TextStats, ...]  # title, description, brand, category, all
    category_median_price: dict[str, float]
    category_band_edges: dict[str, np.ndarray]
    category_share: dict[str, float]
    product_row: dict[str, int]
    product_values: np.ndarray  # (n + 1, len(PRODUCT_COLUMNS)); the last row holds the defaults
    product_category: list[str]
    product_band: np.ndarray
    product_rel_price: np.ndarray
    product_text: list[ProductText]
    postings: dict[str, tuple[np.ndarray, np.ndarray]]  # term -> (product rows, their 9 weights)
    qp_row: dict[tuple[str, str], int]
    qp_by_query: dict[str, dict[str, int]]  # the same rows by query, then product: no tuple per look-up
    qp_values: np.ndarray  # (m + 1, len(QP_COLUMNS)); the last row holds the defaults
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

    @property
    def num_products(self) -> int:
        return len(self.product_category)


# ---------------------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------------------


def product_text_build(attrs: ProductAttributes, field_stats: Sequence[text.TextStats]) -> ProductText:
    fields = (attrs.title, attrs.description, attrs.brand, attrs.category)
    tokens = [text.tokenize(value) for value in fields]
    combined = text.tokenize(
        text.product_document(
            title=attrs.title, brand=attrs.brand, category=attrs.category, description=attrs.description
        )
    )
    weights = [
        text.doc_weights(toks, stats) for toks, stats in zip(tokens, field_stats[:NUM_FIELDS], strict=True)
    ]
    all_weights = text.doc_weights(combined, field_stats[NUM_FIELDS])
    merged: dict[str, tuple[float, ...]] = {}
    for term in all_weights.terms:
        merged[term] = (
            *(w.bm25.get(term, 0.0) for w in weights),
            all_weights.bm25.get(term, 0.0),
            *(w.tfidf.get(term, 0.0) for w in weights),
        )
    return ProductText(
        terms=merged, title_terms=frozenset(tokens[0]), title_norm=f" {text.normalise(attrs.title)} "
    )


def query_text_build(query_norm: str, field_stats: Sequence[text.TextStats]) -> QueryText:
    tokens = tuple(text.tokenize(query_norm))
    multiplicity: dict[str, int] = {}
    for token in tokens:
        multiplicity[token] = multiplicity.get(token, 0) + 1
    vectors = [text.query_tfidf_counts(multiplicity, stats) for stats in field_stats[:NUM_FIELDS]]
    counts = tuple(
        (term, mult, tuple(vec.get(term, 0.0) for vec in vectors)) for term, mult in multiplicity.items()
    )
    return QueryText(tokens=tokens, counts=counts, norm=f" {query_norm} " if query_norm else "")


def text_features(query: QueryText, product: ProductText) -> tuple[float, ...]:
    """The 13 text features of one (query, product) pair, in ``TEXT_COLUMNS`` order."""
    b0 = b1 = b2 = b3 = b4 = c0 = c1 = c2 = c3 = 0.0
    found = in_title = 0
    terms = product.terms
    title_terms = product.title_terms
    for term, mult, (q0, q1, q2, q3) in query.counts:
        w = terms.get(term)
        if w is None:
            continue
        found += 1
        if term in title_terms:
            in_title += 1
        b0 += mult * w[0]
        b1 += mult * w[1]
        b2 += mult * w[2]
        b3 += mult * w[3]
        b4 += mult * w[4]
        c0 += q0 * w[5]
        c1 += q1 * w[6]
        c2 += q2 * w[7]
        c3 += q3 * w[8]
    num_terms = len(query.counts)
    exact = 1.0 if num_terms and query.norm in product.title_norm else 0.0
    coverage = found / num_terms if num_terms else 0.0
    title_coverage = in_title / num_terms if num_terms else 0.0
    return (b0, b1, b2, b3, b4, c0, c1, c2, c3, exact, coverage, title_coverage, float(num_terms))


def postings_build(product_text: Sequence[ProductText]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per term, the catalog rows that contain it (ascending) and their 9 weights: a query
    term then costs one ``searchsorted`` over the candidates instead of a loop."""
    rows: dict[str, list[int]] = {}
    weights: dict[str, list[tuple[float, ...]]] = {}
    for row, product in enumerate(product_text):
        for term, values in product.terms.items():
            rows.setdefault(term, []).append(row)
            weights.setdefault(term, []).append(values)
    return {
        term: (
            np.asarray(rows[term], dtype=np.int64),
            np.asarray(weights[term], dtype=np.float64).reshape(-1, 9),
        )
        for term in rows
    }


def _text_known(query: QueryText, postings: Mapping, rows: np.ndarray, titles: list[str]) -> np.ndarray:
    """``text_features`` for catalog products, vectorised: the same sums in the same order."""
    n = len(rows)
    out = np.zeros((n, len(TEXT_COLUMNS)), dtype=np.float64)
    found = np.zeros(n, dtype=np.float64)
    in_title = np.zeros(n, dtype=np.float64)
    sums = out[:, 0:9]
    for term, mult, q_vector in query.counts:
        posting = postings.get(term)
        if posting is None:
            continue
        term_rows, term_weights = posting
        at = np.searchsorted(term_rows, rows)
        np.minimum(at, len(term_rows) - 1, out=at)
        hit = term_rows[at] == rows
        # Rows without the term get weight 0; BM25 weights times the term's multiplicity,
        # cosine weights times the query's TF-IDF weight, as in ``text_features``.
        weights = term_weights[at] * hit[:, None]
        sums += weights * np.array((mult, mult, mult, mult, mult, *q_vector))
        found += hit
        in_title += weights[:, 0] > 0
    num_terms = len(query.counts)
    if num_terms:
        out[:, 9] = [1.0 if query.norm in title else 0.0 for title in titles]
        out[:, 10] = found / num_terms
        out[:, 11] = in_title / num_terms
    out[:, 12] = float(num_terms)
    return out


def _text_block(
    snapshot: FeatureSnapshot,
    queries: Sequence[str],
    product_ids: Sequence[str],
    rows: np.ndarray,
    cold_text: Mapping[str, ProductText],
) -> np.ndarray:
    n = len(rows)
    block = np.zeros((n, len(TEXT_COLUMNS)), dtype=np.float64)
    first = queries[0]
    if len(set(queries)) == 1:
        groups: list[tuple[str, np.ndarray]] = [(first, np.arange(n))]
    else:
        codes, uniques = _factorize(queries)
        order = np.argsort(codes, kind="stable")
        bounds = np.flatnonzero(np.diff(codes[order])) + 1
        groups = [(uniques[codes[part[0]]], part) for part in np.split(order, bounds)]
    empty = ProductText(terms={}, title_terms=frozenset(), title_norm="")
    product_text = snapshot.product_text
    for query, members in groups:
        qtext = query_text_build(query, snapshot.field_stats)
        member_rows = rows[members]
        known = member_rows >= 0
        if known.any():
            known_rows = member_rows[known]
            titles = [product_text[r].title_norm for r in known_rows.tolist()]
            block[members[known]] = _text_known(qtext, snapshot.postings, known_rows, titles)
        for i in members[~known].tolist():
            block[i] = text_features(qtext, cold_text.get(product_ids[i], empty))
    return block


def _factorize(values: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(v, len(index)) for v in values), dtype=np.int64, count=len(values))
    return codes, list(index)


# ---------------------------------------------------------------------------------------
# The builder
# ---------------------------------------------------------------------------------------


COLD_TEXT_CACHE_SIZE = 20_000
_NO_ROWS: dict[str, int] = {}


def _cold_text(snapshot: FeatureSnapshot, attrs: ProductAttributes) -> ProductText:
    cache = snapshot.cold_text_cache
    found = cache.get(attrs)
    if found is None:
        if len(cache) >= COLD_TEXT_CACHE_SIZE:
            cache.clear()
        found = cache[attrs] = product_text_build(attrs, snapshot.field_stats)
    return found


def price_band(snapshot: FeatureSnapshot, category: str, price: float) -> int:
    edges = snapshot.category_band_edges.get(category)
    if edges is None:
        return -1  # a category the catalog does not know: no band to compare with
    return int(np.searchsorted(edges, price, side="right"))


def cold_product_values(snapshot: FeatureSnapshot, attrs: ProductAttributes) -> tuple[np.ndarray, int, float]:
    """Product-group values of a product the catalog does not know: behaviour at its defaults
    (it has no history), attributes from the request. Returns (values, band, rel_price)."""
    values = snapshot.product_values[-1].copy()
    median = snapshot.category_median_price.get(attrs.category)
    rel_price = math.log(attrs.price / median) if median and attrs.price > 0 else 0.0
    values[_STATIC_IN_P] = (
        math.log1p(max(attrs.price, 0.0)),
        rel_price,
        contract.UNRATED if attrs.rating is None else float(attrs.rating),
    )
    return values, price_band(snapshot, attrs.category, attrs.price), rel_price


def matrix_build(
    snapshot: FeatureSnapshot,
    *,
    queries: Sequence[str],
    users: Sequence[str],
    product_ids: Sequence[str],
    cold_products: Mapping[str, ProductAttributes] | None = None,
) -> np.ndarray:
    """The feature matrix (rows x ``contract.NAMES``) for candidate rows.

    ``queries`` (normalised) and ``users`` are per row, so one call can hold one list or a
    million. Products the catalog knows use their catalog attributes and features; the
    others use ``cold_products[id]`` (request attributes, behaviour at its defaults) or,
    with no attributes either, every default.
    """
    n = len(product_ids)
    matrix = np.empty((n, len(contract.NAMES)), dtype=np.float64)
    if n == 0:
        return matrix
    get_row = snapshot.product_row.get
    rows = np.array([get_row(pid, -1) for pid in product_ids], dtype=np.int64)

    # 1. Product behaviour and attributes: a gather (row -1 is the defaults row).
    product_block = snapshot.product_values[rows]
    categories: list[str] = [snapshot.product_category[r] if r >= 0 else "" for r in rows.tolist()]
    # A product neither the catalog nor the request describes has no category, band (-1) or
    # price: its user features keep their defaults.
    priced = rows >= 0
    if snapshot.num_products:
        bands = np.where(priced, snapshot.product_band[rows], -1)
        rel_price = np.where(priced, snapshot.product_rel_price[rows], 0.0)
    else:  # an empty catalog has no row for the gather above to index: all are unknown
        bands = np.full(n, -1, dtype=np.int64)
        rel_price = np.zeros(n)
    cold_text: dict[str, ProductText] = {}
    if cold_products:
        for i in np.flatnonzero(rows < 0).tolist():
            attrs = cold_products.get(product_ids[i])
            if attrs is None:
                continue
            product_block[i], bands[i], rel_price[i] = cold_product_values(snapshot, attrs)
            priced[i] = True
            categories[i] = attrs.category
            if product_ids[i] not in cold_text:
                cold_text[product_ids[i]] = _cold_text(snapshot, attrs)
    matrix[:, _P] = product_block

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
    matrix[:, _QP] = snapshot.qp_values[qp_rows]

    # 3. Text: per distinct query, vectorised over its candidates through the postings.
    matrix[:, _TEXT] = _text_block(snapshot, queries, product_ids, rows, cold_text)

    # 4. User x product: the user's category and price-band affinity, and price gap. Where
    # the product's category, band or price is unknown the feature keeps its default.
    matrix[:, _USER] = _user_block(snapshot, users, categories, bands, rel_price, priced)
    return matrix


def _user_block(
    snapshot: FeatureSnapshot,
    users: Sequence[str],
    categories: list[str],
    bands: np.ndarray,
    rel_price: np.ndarray,
    priced: np.ndarray,
) -> np.ndarray:
    user_category, user_band = snapshot.user_category, snapshot.user_band
    category_other, band_other = snapshot.user_category_other, snapshot.user_band_other

    # Lifts are always > 0, so ``or`` falls through only for a missing pair.
    def category_lift(user: str, category: str) -> float:
        if not category:
            return 1.0
        return user_category.get((user, category)) or category_other.get(user, 1.0)

    def band_lift(user: str, band: int) -> float:
        if band < 0:
            return 1.0
        return user_band.get((user, band)) or band_other.get(user, 1.0)

    n = len(users)
    block = np.empty((n, len(USER_COLUMNS)), dtype=np.float64)
    first = users[0]
    if len(set(users)) == 1:
        # One user (a request): look each distinct category and band up once.
        by_category = {c: category_lift(first, c) for c in set(categories)}
        by_band = {b: band_lift(first, b) for b in set(bands.tolist())}
        block[:, 0] = [by_category[c] for c in categories]
        block[:, 1] = [by_band[b] for b in bands.tolist()]
        mean_price = np.full(n, snapshot.user_price.get(first, 0.0))
        block[:, 3] = snapshot.user_engagement.get(first, 0.0)
    else:
        block[:, 0] = [category_lift(u, c) for u, c in zip(users, categories, strict=True)]
        block[:, 1] = [band_lift(u, b) for u, b in zip(users, bands.tolist(), strict=True)]
        mean_price = np.array([snapshot.user_price.get(u, 0.0) for u in users], dtype=np.float64)
        block[:, 3] = [snapshot.user_engagement.get(u, 0.0) for u in users]
    block[:, 2] = np.where(priced, np.abs(rel_price - mean_price), 0.0)
    return block
