"""The true relevance of the synthetic shop (catalog.synthetic.relevance)."""

import numpy as np
import pytest

from catalog.synthetic import Generator, SyntheticConfig, true_relevance
from catalog.synthetic.relevance import (
    PRICE_FIT_WEIGHT,
    QUALITY_WEIGHT,
    RELEVANCE_NOISE,
    intent_match,
    relevance_grades,
)


@pytest.fixture(scope="module")
def shop():
    return Generator(SyntheticConfig(products=300, categories=5, users=50, events=1, seed=3)).shop


def products_of(shop, category, *, brand=None, lacking=None, other_brand=None):
    """Catalog indices of the category's products with (or without) a brand and an attribute."""
    catalog = shop.catalog
    found = np.flatnonzero(catalog.category_index == category)
    if brand is not None:
        found = [p for p in found if catalog.brands[p] == brand]
    if other_brand is not None:
        found = [p for p in found if catalog.brands[p] != other_brand]
    if lacking is not None:
        found = [p for p in found if lacking not in catalog.attributes[p]]
    return np.asarray(found)


def test_a_product_of_the_right_category_matches_fully_and_loses_045_per_missed_wish(shop):
    catalog = shop.catalog
    product = products_of(shop, 0)[0]
    brand, attribute = catalog.brands[product], catalog.attributes[product][0]
    plain = intent_match(np.array([product]), category=0, attribute=None, brand=None, catalog=catalog)
    wished = intent_match(np.array([product]), category=0, attribute=attribute, brand=brand, catalog=catalog)
    assert plain.tolist() == wished.tolist() == [1.0]
    lacking = products_of(shop, 0, brand=brand, lacking=attribute)[:1]
    other = products_of(shop, 0, other_brand=brand, lacking=attribute)[:1]
    assert intent_match(lacking, category=0, attribute=attribute, brand=brand, catalog=catalog)[0] == 1 - 0.45
    # Both wishes missed: 1 - 0.45 - 0.45, the floor of 0.1 (a product of the right category).
    assert intent_match(other, category=0, attribute=attribute, brand=brand, catalog=catalog)[
        0
    ] == pytest.approx(0.1)


def test_a_product_of_another_category_does_not_match_and_is_irrelevant(shop):
    elsewhere = products_of(shop, 1)
    assert not intent_match(elsewhere, category=0, attribute=None, brand=None, catalog=shop.catalog).any()
    grades = relevance_grades(
        match=np.zeros(len(elsewhere)),
        quality=np.full(len(elsewhere), 3.0),
        log_relative_price=np.zeros(len(elsewhere)),
        price_level=0.0,
        rng=np.random.default_rng(0),
    )
    assert not grades.any()


def test_a_grade_is_the_rounded_sum_of_match_quality_price_fit_and_noise():
    match = np.array([1.0, 1.0, 0.55, 1.0])
    quality = np.array([0.0, 2.0, -1.0, 9.0])  # quality counts up to 2.5 only
    log_relative_price = np.array([0.0, 0.0, 0.3, 0.0])
    grades = relevance_grades(
        match=match,
        quality=quality,
        log_relative_price=log_relative_price,
        price_level=0.3,
        rng=np.random.default_rng(7),
    )
    noise = np.random.default_rng(7).normal(0.0, RELEVANCE_NOISE, 4)
    # price_fit = clip((0.53 - |price - level|) / 0.4, -2.5, 2.5): 0.575, 0.575, 1.325, 0.575
    price_fit = np.array([0.575, 0.575, 1.325, 0.575])
    latent = (
        2 * match + QUALITY_WEIGHT * np.array([0.0, 2.0, -1.0, 2.5]) + PRICE_FIT_WEIGHT * price_fit + noise
    )
    assert grades.tolist() == np.clip(np.rint(latent), 0, 3).astype(int).tolist()


def test_true_relevance_grades_a_list_in_any_order_by_each_products_intent_match(shop):
    queries, user = shop.queries, 4
    for query in (0, len(queries.text) // 2, len(queries.text) - 1):
        pool = queries.pool[query]
        match = intent_match(
            pool,
            category=int(queries.category[query]),
            attribute=queries.attribute[query],
            brand=queries.brand[query],
            catalog=shop.catalog,
        )
        shown = pool[::-1]
        graded = true_relevance(shown, query=query, user=user, shop=shop, rng=np.random.default_rng(11))
        expected = relevance_grades(
            match=match[::-1],
            quality=shop.catalog.quality[shown],
            log_relative_price=shop.catalog.log_relative_price[shown],
            price_level=shop.users.price_level[user] + queries.price_shift[query],
            rng=np.random.default_rng(11),
        )
        assert graded.tolist() == expected.tolist()


def test_the_generators_truth_grades_a_product_of_another_category_zero():
    generator = Generator(SyntheticConfig(products=300, categories=5, users=50, events=5_000, seed=3))
    chunk = next(generator.chunks())
    catalog, queries = generator.catalog, generator.queries
    index = {product_id: i for i, product_id in enumerate(catalog.external_ids)}
    query_of = dict(zip(chunk.requests["request_id"], chunk.requests["query_norm"], strict=True))
    category_of_query = dict(zip(queries.text, queries.category, strict=True))
    products = chunk.truth["product_external_id"].map(index).to_numpy()
    wished = chunk.truth["request_id"].map(query_of).map(category_of_query).to_numpy()
    elsewhere = catalog.category_index[products] != wished
    assert elsewhere.any()
    assert (chunk.truth["relevance"].to_numpy()[elsewhere] == 0).all()


def test_better_products_of_the_wished_category_grade_higher_on_average(shop):
    query = 0
    candidates = products_of(shop, int(shop.queries.category[query]))
    grades = true_relevance(candidates, query=query, user=0, shop=shop, rng=np.random.default_rng(1))
    quality = shop.catalog.quality[candidates]
    assert grades[quality > 0.5].mean() > grades[quality < -0.5].mean() + 0.3
