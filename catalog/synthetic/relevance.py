"""The true relevance (0-3) of a product for a shopper's query: the ground truth.

``2 * match + QUALITY_WEIGHT * quality + PRICE_FIT_WEIGHT * price_fit + noise``, rounded to a
grade, where ``match`` is how well the product meets the query's intent (0 for the wrong
category), ``quality`` its hidden quality and ``price_fit`` how close its price is to the
level the user wants. Quality and price fit (each about N(0, 1)) together have a spread of
about 0.6: roughly one grade either way, so relevance is not text alone.

Pure numpy. The generator grades the lists of the shop's logging policy with it, and a
simulator of shoppers can grade any list a ranker returns with ``true_relevance``.
"""

from __future__ import annotations

import numpy as np

from catalog.synthetic.shop import Catalog, Shop

QUALITY_WEIGHT = 0.5
PRICE_FIT_WEIGHT = 0.3
RELEVANCE_NOISE = 0.25
# A query for an attribute or a brand the product lacks takes this much off its match.
MISSED_INTENT = 0.45
MIN_MATCH = 0.1  # a product of the right category still half-answers the query


def true_relevance(
    products: np.ndarray, *, query: int, user: int, shop: Shop, rng: np.random.Generator
) -> np.ndarray:
    """The grades (0-3) of ``products`` (catalog indices, in any order) for the intent of
    ``query`` typed by ``user`` (indices into ``shop.queries`` and ``shop.users``)."""
    queries, catalog = shop.queries, shop.catalog
    match = intent_match(
        products,
        category=int(queries.category[query]),
        attribute=queries.attribute[query],
        brand=queries.brand[query],
        catalog=catalog,
    )
    return relevance_grades(
        match=match,
        quality=catalog.quality[products],
        log_relative_price=catalog.log_relative_price[products],
        price_level=shop.users.price_level[user] + queries.price_shift[query],
        rng=rng,
    )


def intent_match(
    products: np.ndarray, *, category: int, attribute: str | None, brand: str | None, catalog: Catalog
) -> np.ndarray:
    """How well each product meets a query's intent: 0 for another category, else 1 less
    ``MISSED_INTENT`` for a wanted attribute it lacks and again for another brand, at least
    ``MIN_MATCH``."""
    value = np.ones(len(products))
    if attribute is not None:
        lacks = np.array([attribute not in catalog.attributes[product] for product in products], dtype=bool)
        value -= MISSED_INTENT * lacks
    if brand is not None:
        value -= MISSED_INTENT * (catalog.brands[products] != brand)
    return np.where(catalog.category_index[products] == category, np.maximum(value, MIN_MATCH), 0.0)


def relevance_grades(
    *,
    match: np.ndarray,
    quality: np.ndarray,
    log_relative_price: np.ndarray,
    price_level: np.ndarray | float,
    rng: np.random.Generator,
) -> np.ndarray:
    """The grade of each product from its intent ``match``, hidden ``quality`` and log price
    relative to its category's median, for a user who wants ``price_level`` (broadcast against
    the products: one per list as a column for a matrix of lists). Draws the noise from ``rng``."""
    price_gap = np.abs(log_relative_price - price_level)
    price_fit = np.clip((0.53 - price_gap) / 0.4, -2.5, 2.5)
    latent = (
        2.0 * match
        + QUALITY_WEIGHT * np.clip(quality, -2.5, 2.5)
        + PRICE_FIT_WEIGHT * price_fit
        + rng.normal(0.0, RELEVANCE_NOISE, match.shape)
    )
    return np.where(match > 0, np.clip(np.rint(latent), 0, 3), 0).astype(np.int64)
