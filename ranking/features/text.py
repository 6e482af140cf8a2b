"""Text statistics of a query against a product (``inputs.TEXT_INPUTS``), per request.

Prepared once per catalog (per model load): each product's per-term weights, merged into
one dict so that a query term costs one look-up, and the postings (per term, the catalog
rows that hold it and their weights), so that the statistics of one query against many
catalog products are a few array operations per query term. ``text_statistics`` is the
reference for one (query, product) pair and the path for a product the catalog does not
know; ``text_statistics_known`` the vectorised path for catalog products, with the same sums
in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from catalog import text
from ranking.features.inputs import TEXT_FIELDS, TEXT_INPUTS, TEXT_WEIGHTS, ProductAttributes

NUM_FIELDS = len(TEXT_FIELDS)
NUM_WEIGHTS = len(TEXT_WEIGHTS)
NUM_BM25 = NUM_FIELDS + 1  # each field and the whole document; the rest are cosines
_EXACT, _COVERAGE, _TITLE_COVERAGE, _NUM_TERMS = (
    TEXT_INPUTS.index(name) for name in ("exact_title", "coverage", "title_coverage", "num_terms")
)
_TITLE_BM25 = TEXT_WEIGHTS.index("bm25_title")


@dataclass(frozen=True)
class ProductText:
    """Per term: its weights in ``TEXT_WEIGHTS`` order (BM25 per field and for the whole
    document, TF-IDF per field), the title's terms and the normalised title."""

    terms: dict[str, tuple[float, ...]]
    title_terms: frozenset[str]
    title_norm: str


EMPTY_TEXT = ProductText(terms={}, title_terms=frozenset(), title_norm="")


@dataclass(frozen=True)
class QueryText:
    tokens: tuple[str, ...]
    counts: tuple[tuple[str, int, tuple[float, ...]], ...]  # term, multiplicity, tfidf per field
    norm: str

    @property
    def num_terms(self) -> int:
        return len(self.counts)

    @property
    def multipliers(self) -> dict[str, np.ndarray]:
        """Per term, what its weights are multiplied by: the multiplicity for BM25, the
        query's TF-IDF weight of the field for the cosines."""
        return {
            term: np.array((*(mult,) * NUM_BM25, *q_vector), dtype=np.float64)
            for term, mult, q_vector in self.counts
        }


def field_stats_build(attrs: Sequence[ProductAttributes]) -> tuple[text.TextStats, ...]:
    """Collection statistics of each field and of the whole product document."""
    documents = [[text.tokenize(getattr(a, name)) for a in attrs] for name in TEXT_FIELDS]
    documents.append([text.tokenize(_document(a)) for a in attrs])
    return tuple(text.TextStats.from_documents(docs) for docs in documents)


def _document(attrs: ProductAttributes) -> str:
    return text.product_document(
        title=attrs.title, brand=attrs.brand, category=attrs.category, description=attrs.description
    )


def product_text_build(attrs: ProductAttributes, field_stats: Sequence[text.TextStats]) -> ProductText:
    tokens = [text.tokenize(getattr(attrs, name)) for name in TEXT_FIELDS]
    weights = [
        text.doc_weights(toks, stats) for toks, stats in zip(tokens, field_stats[:NUM_FIELDS], strict=True)
    ]
    all_weights = text.doc_weights(text.tokenize(_document(attrs)), field_stats[NUM_FIELDS])
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


def text_statistics(query: QueryText, product: ProductText) -> tuple[float, ...]:
    """The text statistics of one (query, product) pair, in ``TEXT_INPUTS`` order."""
    sums = [0.0] * NUM_WEIGHTS
    found = in_title = 0
    for term, mult, q_vector in query.counts:
        weights = product.terms.get(term)
        if weights is None:
            continue
        found += 1
        in_title += term in product.title_terms
        for i in range(NUM_BM25):
            sums[i] += mult * weights[i]
        for i, q in enumerate(q_vector, start=NUM_BM25):
            sums[i] += q * weights[i]
    num_terms = len(query.counts)
    exact = 1.0 if num_terms and query.norm in product.title_norm else 0.0
    coverage = found / num_terms if num_terms else 0.0
    title_coverage = in_title / num_terms if num_terms else 0.0
    return (*sums, exact, coverage, title_coverage, float(num_terms))


def postings_build(product_text: Sequence[ProductText]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per term, the catalog rows that contain it (ascending) and their weights: a query term
    then costs one ``searchsorted`` over the candidates instead of a loop."""
    rows: dict[str, list[int]] = {}
    weights: dict[str, list[tuple[float, ...]]] = {}
    for row, product in enumerate(product_text):
        for term, values in product.terms.items():
            rows.setdefault(term, []).append(row)
            weights.setdefault(term, []).append(values)
    return {
        term: (
            np.asarray(rows[term], dtype=np.int64),
            np.asarray(weights[term], dtype=np.float64).reshape(-1, NUM_WEIGHTS),
        )
        for term in rows
    }


def text_statistics_known(
    query: QueryText,
    postings: Mapping[str, tuple[np.ndarray, np.ndarray]],
    rows: np.ndarray,
    titles: list[str],
) -> np.ndarray:
    """``text_statistics`` of one query against catalog ``rows``, vectorised: the same sums in
    the same order."""
    n = len(rows)
    out = np.zeros((n, len(TEXT_INPUTS)), dtype=np.float64)
    found = np.zeros(n, dtype=np.float64)
    in_title = np.zeros(n, dtype=np.float64)
    sums = out[:, :NUM_WEIGHTS]
    for term, multipliers in query.multipliers.items():
        posting = postings.get(term)
        if posting is None:
            continue
        term_rows, term_weights = posting
        at = np.searchsorted(term_rows, rows)
        np.minimum(at, len(term_rows) - 1, out=at)
        hit = term_rows[at] == rows
        # Rows without the term get weight 0.
        weights = term_weights[at] * hit[:, None]
        sums += weights * multipliers
        found += hit
        in_title += weights[:, _TITLE_BM25] > 0
    num_terms = query.num_terms
    if num_terms:
        out[:, _EXACT] = [1.0 if query.norm in title else 0.0 for title in titles]
        out[:, _COVERAGE] = found / num_terms
        out[:, _TITLE_COVERAGE] = in_title / num_terms
    out[:, _NUM_TERMS] = float(num_terms)
    return out
