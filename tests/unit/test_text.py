import math

import pytest

from catalog import text


def test_normalise_lowercases_and_collapses_punctuation_and_spaces():
    assert text.normalise("  Red  NIKE Running-Shoes! ") == "red nike running shoes"


def test_normalise_is_idempotent():
    once = text.normalise("Ünïcode ＦＵＬＬ width, T-Shirt")
    assert text.normalise(once) == once


def test_tokenize_drops_stop_words_and_stems_plurals():
    assert text.tokenize("Shoes for the batteries") == ["shoe", "battery"]


def test_bm25_matches_the_textbook_formula_for_one_term():
    docs = {"a": "red shoe", "b": "blue shoe shoe", "c": "red hat"}
    index = text.TextIndex(docs)
    stats = index.stats
    tf, length = 1, 2
    idf = math.log(1 + (3 - 2 + 0.5) / (2 + 0.5))
    expected = (
        idf
        * tf
        * (text.BM25_K1 + 1)
        / (tf + text.BM25_K1 * (1 - text.BM25_B + text.BM25_B * length / stats.avg_len))
    )
    assert index.bm25_scores("red", ["a"])[0] == pytest.approx(expected)


def test_bm25_scores_a_document_without_the_term_as_zero():
    index = text.TextIndex({"a": "red shoe", "b": "blue hat"})
    assert index.bm25_scores("red", ["b"]) == [0.0]


def test_cosine_of_a_document_with_itself_is_one():
    index = text.TextIndex({"a": "red running shoe", "b": "blue hat", "c": "green sofa"})
    weights = index.weights["a"]
    query = text.query_tfidf(text.tokenize("red running shoe"), index.stats)
    assert text.cosine(query, weights) == pytest.approx(1.0)


def test_weights_for_new_text_use_the_collection_statistics():
    index = text.TextIndex({"a": "red shoe", "b": "blue hat"})
    fresh = index.weights_for("new", "red shoe")
    assert fresh.bm25 == index.weights["a"].bm25
