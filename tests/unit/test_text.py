import math
from collections import Counter

import pytest

from catalog import text


def test_normalise_lowercases_and_collapses_punctuation_and_spaces():
    assert text.normalise("  Red  NIKE Running-Shoes! ") == "red nike running shoes"


def test_normalise_is_idempotent():
    once = text.normalise("Ünïcode ＦＵＬＬ width, T-Shirt")
    assert text.normalise(once) == once


def test_tokenize_drops_stop_words_and_stems_plurals():
    assert text.tokenize("Shoes for the batteries") == ["shoe", "battery"]


def test_a_documents_bm25_weight_for_a_term_is_the_textbook_formula():
    docs = {"a": "red shoe", "b": "blue shoe shoe", "c": "red hat"}
    index = text.TextIndex(docs)
    tf, length = 1, 2
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))
    expected = (
        idf
        * tf
        * (text.BM25_K1 + 1)
        / (tf + text.BM25_K1 * (1 - text.BM25_B + text.BM25_B * length / index.stats.avg_len))
    )
    assert index.weights["a"].bm25["red"] == pytest.approx(expected)


def test_a_document_without_a_term_has_no_weight_for_it():
    index = text.TextIndex({"a": "red shoe", "b": "blue hat"})
    assert "red" not in index.weights["b"].bm25
    assert index.weights["b"].terms == {"blue", "hat"}


def test_a_querys_tfidf_vector_is_the_unit_vector_of_the_same_text_as_a_document():
    index = text.TextIndex({"a": "red running shoe", "b": "blue hat", "c": "green sofa"})
    query = text.query_tfidf_counts(Counter(text.tokenize("red running shoe")), index.stats)
    assert query == pytest.approx(index.weights["a"].tfidf)
    assert sum(value * value for value in query.values()) == pytest.approx(1.0)


def test_weights_of_new_text_use_the_collection_statistics():
    index = text.TextIndex({"a": "red shoe", "b": "blue hat"})
    fresh = text.doc_weights(text.tokenize("red shoe"), index.stats)
    assert fresh.bm25 == index.weights["a"].bm25
