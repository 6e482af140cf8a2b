"""The synthetic shop itself: its catalog, its users and the queries they type.

1. **Catalog.** Each product has a category, a brand, one to three attributes, a price
   (log-normal around its category's median) and a hidden quality ``q ~ N(0, 1)``. The
   rating shows quality only with noise (and is missing for some products).
2. **Users** have category preferences (Dirichlet) and a preferred price level ``z`` (in
   log-price relative to the category median), and differ in how often they search.
3. **Queries** are intents (category noun, optionally an attribute, a brand or a price
   word) with a Zipf-like popularity: plain nouns are the head, noun + attribute or brand
   the torso, the combinations the tail. Each has its candidate pool under the logging
   policy: the top products by BM25 over the product text.

Pure numpy, deterministic for the random generator it is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from catalog import text
from catalog.synthetic.config import SyntheticConfig
from catalog.synthetic.vocabulary import (
    CATEGORIES,
    DESCRIPTION_FILLERS,
    DESCRIPTION_OPENERS,
    MODEL_NAMES,
    PRICE_WORDS_HIGH,
    PRICE_WORDS_LOW,
    CategorySpec,
)

# The rating is ``3.9 + 0.5 * quality`` plus this much noise.
RATING_NOISE = 0.4


@dataclass
class Catalog:
    external_ids: np.ndarray
    titles: np.ndarray
    descriptions: np.ndarray
    brands: np.ndarray
    category_names: np.ndarray
    category_index: np.ndarray
    attributes: list[tuple[str, ...]]
    models: np.ndarray
    prices: np.ndarray
    ratings: np.ndarray  # NaN where unrated
    quality: np.ndarray
    log_relative_price: np.ndarray

    def __len__(self) -> int:
        return len(self.external_ids)

    def frame(self) -> pd.DataFrame:
        """The products as the importer's columns."""
        return pd.DataFrame(
            {
                "external_id": self.external_ids,
                "title": self.titles,
                "description": self.descriptions,
                "brand": self.brands,
                "category": self.category_names,
                "price": self.prices,
                "rating": self.ratings,
                "attributes": [
                    {"tags": list(attrs), "model": model}
                    for attrs, model in zip(self.attributes, self.models, strict=True)
                ],
            }
        )


@dataclass
class Queries:
    text: np.ndarray
    category: np.ndarray
    attribute: list[str | None]
    brand: list[str | None]
    price_shift: np.ndarray
    weight: np.ndarray  # popularity within the category (Zipf-like)
    pool: np.ndarray  # (Q, pool_size) product indices, BM25 order
    pool_bm25: np.ndarray
    pool_sigma: np.ndarray


@dataclass
class Users:
    ids: np.ndarray
    category_preference: np.ndarray  # (U, C), rows sum to 1
    price_level: np.ndarray
    activity: np.ndarray  # sums to 1


@dataclass
class Shop:
    """Everything a shopper meets: the catalog, the users and the queries with their pools."""

    catalog: Catalog
    users: Users
    queries: Queries

    @classmethod
    def generate(cls, config: SyntheticConfig, rng: np.random.Generator) -> Shop:
        catalog = catalog_generate(config, rng)
        users = users_generate(config, rng)
        return cls(catalog=catalog, users=users, queries=queries_generate(config, catalog, rng))


def catalog_generate(config: SyntheticConfig, rng: np.random.Generator) -> Catalog:
    specs = CATEGORIES[: config.categories]
    # Categories differ in size, but each gets at least one product.
    shares = rng.dirichlet(np.full(len(specs), 8.0))
    sizes = np.maximum(1, np.floor(shares * config.products).astype(int))
    sizes[np.argmax(sizes)] += config.products - sizes.sum()

    fields: dict[str, list] = {
        key: [] for key in ("title", "description", "brand", "category", "cat", "attrs", "model", "price")
    }
    for cat, (spec, size) in enumerate(zip(specs, sizes, strict=True)):
        brand_weights = rng.dirichlet(np.full(len(spec["brands"]), 2.0))
        for _ in range(size):
            brand = spec["brands"][rng.choice(len(spec["brands"]), p=brand_weights)]
            num_attrs = int(rng.choice([1, 2, 3], p=[0.35, 0.45, 0.20]))
            attrs = tuple(rng.choice(spec["attributes"], size=num_attrs, replace=False).tolist())
            noun = spec["nouns"][0] if rng.random() < 0.8 else spec["nouns"][1]
            model = f"{MODEL_NAMES[rng.integers(len(MODEL_NAMES))]} {rng.integers(1, 10) * 100 + rng.integers(0, 99)}"
            title = f"{brand} {model} {' '.join(a.title() for a in attrs)} {noun.title()}"
            description = _description(spec, attrs, brand, noun, rng)
            price = spec["median_price"] * float(np.exp(rng.normal(0.0, 0.5)))
            price = max(0.99, round(price) - 0.01) if price >= 5 else round(price, 2)
            fields["title"].append(title)
            fields["description"].append(description)
            fields["brand"].append(brand)
            fields["category"].append(spec["name"])
            fields["cat"].append(cat)
            fields["attrs"].append(attrs)
            fields["model"].append(model)
            fields["price"].append(price)

    n = len(fields["title"])
    quality = rng.normal(0.0, 1.0, n)
    ratings = np.clip(np.round(3.9 + 0.5 * quality + rng.normal(0.0, RATING_NOISE, n), 1), 1.0, 5.0)
    ratings[rng.random(n) < 0.08] = np.nan
    cat_index = np.array(fields["cat"], dtype=np.int64)
    prices = np.array(fields["price"], dtype=float)
    medians = np.array([spec["median_price"] for spec in specs])[cat_index]
    order = rng.permutation(n)  # so external ids do not reveal the category
    width = max(5, len(str(n)))
    return Catalog(
        external_ids=np.array([f"P{i + 1:0{width}d}" for i in range(n)], dtype=object),
        titles=np.array(fields["title"], dtype=object)[order],
        descriptions=np.array(fields["description"], dtype=object)[order],
        brands=np.array(fields["brand"], dtype=object)[order],
        category_names=np.array(fields["category"], dtype=object)[order],
        category_index=cat_index[order],
        attributes=[fields["attrs"][i] for i in order],
        models=np.array(fields["model"], dtype=object)[order],
        prices=prices[order],
        ratings=ratings[order],
        quality=quality[order],
        log_relative_price=np.log(prices / medians)[order],
    )


def _description(
    spec: CategorySpec, attrs: tuple[str, ...], brand: str, noun: str, rng: np.random.Generator
) -> str:
    opener = DESCRIPTION_OPENERS[rng.integers(len(DESCRIPTION_OPENERS))]
    parts = [f"{opener}: {', '.join(attrs)} {noun} by {brand}."]
    if rng.random() < 0.5:
        other_noun = spec["nouns"][rng.integers(len(spec["nouns"]))]
        parts.append(f"Shoppers looking for {other_noun} love it.")
    if rng.random() < 0.3:
        # Descriptions mention attributes the product does not have: text is an imperfect proxy.
        stray = spec["attributes"][rng.integers(len(spec["attributes"]))]
        parts.append(f"Pairs well with {stray} accessories.")
    parts.append(DESCRIPTION_FILLERS[rng.integers(len(DESCRIPTION_FILLERS))])
    return " ".join(parts)


def users_generate(config: SyntheticConfig, rng: np.random.Generator) -> Users:
    width = max(4, len(str(config.users)))
    return Users(
        ids=np.array([f"U{i + 1:0{width}d}" for i in range(config.users)], dtype=object),
        category_preference=rng.dirichlet(np.full(config.categories, 0.4), size=config.users),
        price_level=rng.normal(0.0, 0.45, config.users),
        activity=_normalised(rng.lognormal(0.0, 0.8, config.users)),
    )


def queries_generate(config: SyntheticConfig, catalog: Catalog, rng: np.random.Generator) -> Queries:
    """Every intent the shop's users type, with its candidate pool under the logging policy."""
    rows: list[
        tuple[str, int, str | None, str | None, float, int]
    ] = []  # text, cat, attr, brand, shift, tier
    for cat, spec in enumerate(CATEGORIES[: config.categories]):
        for noun_rank, noun in enumerate(spec["nouns"][:2]):
            tier_offset = noun_rank  # the second noun is rarer
            rows.append((noun, cat, None, None, 0.0, 0 + tier_offset))
            for word in PRICE_WORDS_LOW:
                rows.append((f"{word} {noun}", cat, None, None, -0.5, 1 + tier_offset))
            for word in PRICE_WORDS_HIGH:
                rows.append((f"{word} {noun}", cat, None, None, 0.5, 2 + tier_offset))
            for attr in spec["attributes"]:
                rows.append((f"{attr} {noun}", cat, attr, None, 0.0, 1 + tier_offset))
            for brand in spec["brands"]:
                rows.append((f"{brand.lower()} {noun}", cat, None, brand, 0.0, 1 + tier_offset))
                for attr in spec["attributes"]:
                    rows.append((f"{attr} {brand.lower()} {noun}", cat, attr, brand, 0.0, 3 + tier_offset))

    categories = np.array([row[1] for row in rows], dtype=np.int64)
    tiers = np.array([row[5] for row in rows], dtype=float)
    # Zipf-like popularity within each category: rank by tier, shuffled within a tier.
    weight = np.zeros(len(rows))
    for cat in range(config.categories):
        members = np.flatnonzero(categories == cat)
        order = members[np.lexsort((rng.random(len(members)), tiers[members]))]
        weight[order] = 1.0 / np.arange(1, len(order) + 1) ** 1.1
        weight[members] /= weight[members].sum()

    queries_text = np.array([row[0] for row in rows], dtype=object)
    pool, pool_bm25 = _candidate_pools(queries_text, catalog, config.pool_size, rng)
    attributes: list[str | None] = [row[2] for row in rows]
    brands: list[str | None] = [row[3] for row in rows]
    spread = pool_bm25.std(axis=1)
    return Queries(
        text=queries_text,
        category=categories,
        attribute=attributes,
        brand=brands,
        price_shift=np.array([row[4] for row in rows]),
        weight=weight,
        pool=pool,
        pool_bm25=pool_bm25,
        pool_sigma=np.where(spread > 0, spread, 1.0),
    )


def queries_unseen(config: SyntheticConfig, shop: Shop, rng: np.random.Generator) -> Queries:
    """Intents the shop's users never typed (for drift): a price word with an attribute or a
    brand, "cheap waterproof running shoes", which ``queries_generate`` never combines, each
    with its BM25 pool like the others. Equal weights within a category."""
    seen = set(shop.queries.text.tolist())
    rows: list[tuple[str, int, str | None, str | None, float]] = []
    for cat, spec in enumerate(CATEGORIES[: config.categories]):
        for noun in spec["nouns"][:2]:
            for words, shift in ((PRICE_WORDS_LOW, -0.5), (PRICE_WORDS_HIGH, 0.5)):
                for word in words:
                    rows.extend(
                        (f"{word} {attr} {noun}", cat, attr, None, shift) for attr in spec["attributes"]
                    )
                    rows.extend(
                        (f"{word} {brand.lower()} {noun}", cat, None, brand, shift)
                        for brand in spec["brands"]
                    )
    rows = [row for row in rows if row[0] not in seen]
    categories = np.array([row[1] for row in rows], dtype=np.int64)
    weight = np.zeros(len(rows))
    for cat in np.unique(categories):
        members = categories == cat
        weight[members] = 1.0 / members.sum()
    queries_text = np.array([row[0] for row in rows], dtype=object)
    pool, pool_bm25 = _candidate_pools(queries_text, shop.catalog, config.pool_size, rng)
    spread = pool_bm25.std(axis=1)
    return Queries(
        text=queries_text,
        category=categories,
        attribute=[row[2] for row in rows],
        brand=[row[3] for row in rows],
        price_shift=np.array([row[4] for row in rows]),
        weight=weight,
        pool=pool,
        pool_bm25=pool_bm25,
        pool_sigma=np.where(spread > 0, spread, 1.0),
    )


def queries_join(first: Queries, second: Queries) -> Queries:
    """One table of both: ``second``'s query ``i`` is ``len(first.text) + i``."""
    return Queries(
        text=np.concatenate([first.text, second.text]),
        category=np.concatenate([first.category, second.category]),
        attribute=[*first.attribute, *second.attribute],
        brand=[*first.brand, *second.brand],
        price_shift=np.concatenate([first.price_shift, second.price_shift]),
        weight=np.concatenate([first.weight, second.weight]),
        pool=np.concatenate([first.pool, second.pool]),
        pool_bm25=np.concatenate([first.pool_bm25, second.pool_bm25]),
        pool_sigma=np.concatenate([first.pool_sigma, second.pool_sigma]),
    )


def _candidate_pools(
    queries_text: np.ndarray, catalog: Catalog, pool_size: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The logging policy's retrieval: the top ``pool_size`` products by BM25, padded at random."""
    documents = {
        str(i): text.product_document(
            title=catalog.titles[i],
            brand=catalog.brands[i],
            category=catalog.category_names[i],
            description=catalog.descriptions[i],
        )
        for i in range(len(catalog))
    }
    index = text.TextIndex(documents)
    vocabulary: dict[str, int] = {}
    rows, cols, vals = [], [], []
    for doc, weights in index.weights.items():
        for term, value in weights.bm25.items():
            rows.append(vocabulary.setdefault(term, len(vocabulary)))
            cols.append(int(doc))
            vals.append(value)
    term_doc = sparse.csr_matrix((vals, (rows, cols)), shape=(len(vocabulary) + 1, len(catalog)))
    q_rows, q_cols = [], []
    for qi, query in enumerate(queries_text):
        for token in text.tokenize(query):
            q_rows.append(qi)
            q_cols.append(vocabulary.get(token, len(vocabulary)))
    query_terms = sparse.csr_matrix(
        (np.ones(len(q_rows)), (q_rows, q_cols)), shape=(len(queries_text), len(vocabulary) + 1)
    )
    scores = np.asarray((query_terms @ term_doc).todense())
    size = min(pool_size, len(catalog))
    # Random tie-breaking, then the best ``size`` by score.
    jitter = rng.random(scores.shape) * 1e-9
    pool = np.argsort(-(scores + jitter), axis=1)[:, :size]
    pool_bm25 = np.take_along_axis(scores, pool, axis=1)
    return pool, pool_bm25


def _normalised(values: np.ndarray) -> np.ndarray:
    return values / values.sum()
