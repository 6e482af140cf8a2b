"""Text analysis in one place: normalisation, tokens, BM25 and TF-IDF cosine.

Pure Python, no Django. The synthetic generator's logging policy, the ranking features
and the BM25 baseline all use this module, so "BM25" means the same thing everywhere.

Both scores are sums over the query's terms of a per-document weight, so a document's
weights are computed once (``TextIndex.weights``) and a query is scored against it with a
few dictionary look-ups: that is what keeps per-request text features cheap.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

BM25_K1 = 1.2
BM25_B = 0.75

STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "the",
        "to",
        "with",
        "your",
        "our",
        "this",
        "that",
    ]
)
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)


def normalise(text: str) -> str:
    """Lower-case, Unicode-compatible, punctuation to spaces, single spaces: the stored form of a query."""
    text = unicodedata.normalize("NFKC", text or "").casefold()
    return " ".join(_NON_WORD.sub(" ", text).replace("_", " ").split())


def stem(token: str) -> str:
    """A deliberately light English stemmer: plural to singular ("shoes" -> "shoe")."""
    if len(token) > 4 and token.endswith("ies"):
        return token[:-3] + "y"
    if len(token) > 3 and token.endswith("s") and not token.endswith(("ss", "us", "is")):
        return token[:-1]
    return token


def tokenize(text: str) -> list[str]:
    """Normalised, stop words dropped, stemmed tokens, in order (duplicates kept)."""
    return [stem(token) for token in normalise(text).split() if token not in STOPWORDS]


@dataclass(frozen=True)
class TextStats:
    """Collection statistics for one field: document frequencies and average length."""

    num_docs: int
    doc_freq: Mapping[str, int]
    avg_len: float
    _idf: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_documents(cls, documents: Iterable[Sequence[str]]) -> TextStats:
        doc_freq: Counter[str] = Counter()
        num_docs = 0
        total_len = 0
        for tokens in documents:
            num_docs += 1
            total_len += len(tokens)
            doc_freq.update(set(tokens))
        return cls(
            num_docs=num_docs, doc_freq=dict(doc_freq), avg_len=(total_len / num_docs) if num_docs else 0.0
        )

    def idf(self, term: str) -> float:
        """BM25's IDF with the +1 that keeps it positive (Lucene's form); memoised, since a
        request's cold products and queries look the same terms up again and again."""
        value = self._idf.get(term)
        if value is None:
            df = self.doc_freq.get(term, 0)
            value = self._idf[term] = math.log(1.0 + (self.num_docs - df + 0.5) / (df + 0.5))
        return value


@dataclass(frozen=True)
class DocWeights:
    """A document's per-term weights: ``bm25[t]`` sums to BM25, ``tfidf[t]`` to the cosine."""

    bm25: dict[str, float]
    tfidf: dict[str, float]
    terms: frozenset[str]


def doc_weights(tokens: Sequence[str], stats: TextStats) -> DocWeights:
    counts = Counter(tokens)
    length = len(tokens)
    norm = BM25_K1 * (1.0 - BM25_B + BM25_B * (length / stats.avg_len if stats.avg_len else 1.0))
    bm25 = {term: stats.idf(term) * tf * (BM25_K1 + 1.0) / (tf + norm) for term, tf in counts.items()}
    return DocWeights(bm25=bm25, tfidf=query_tfidf_counts(counts, stats), terms=frozenset(counts))


def query_tfidf_counts(counts: Mapping[str, int], stats: TextStats) -> dict[str, float]:
    """The unit TF-IDF vector of a query's (or a document's) term counts, in first-occurrence
    order; terms unknown to the collection get the highest IDF."""
    raw = {term: (1.0 + math.log(tf)) * stats.idf(term) for term, tf in counts.items()}
    length_l2 = math.sqrt(sum(v * v for v in raw.values())) or 1.0
    return {term: v / length_l2 for term, v in raw.items()}


class TextIndex:
    """BM25 / TF-IDF over one field of a set of documents, keyed by document id."""

    def __init__(self, documents: Mapping[str, str]):
        tokenized = {doc_id: tokenize(text) for doc_id, text in documents.items()}
        self.stats = TextStats.from_documents(tokenized.values())
        self.weights: dict[str, DocWeights] = {
            doc_id: doc_weights(tokens, self.stats) for doc_id, tokens in tokenized.items()
        }


def product_document(*, title: str, brand: str, category: str, description: str) -> str:
    """The combined text of a product that the logging policy and the BM25 baseline score."""
    return f"{title} {brand} {category} {description}"
