"""A synthetic shop with a known ground truth: catalog, users, queries, lists and clicks.

Pure numpy (no Django), deterministic for a seed, vectorised over chunks of lists so that
ten million events stream through in bounded memory. ``catalog.services`` writes what
this module yields into the database.

The model of the shop, in the order the generator applies it:

1. **Catalog.** Each product has a category, a brand, one to three attributes, a price
   (log-normal around its category's median) and a hidden quality ``q ~ N(0, 1)``. The
   rating shows quality only with noise (and is missing for some products).
2. **Users** have category preferences (Dirichlet) and a preferred price level ``z`` (in
   log-price relative to the category median), and differ in how often they search.
3. **Queries** are intents (category noun, optionally an attribute, a brand or a price
   word) with a Zipf-like popularity: plain nouns are the head, noun + attribute or brand
   the torso, the combinations the tail.
4. **Logging policy** (the shop's current search): BM25 over the product text picks a
   candidate pool; the list shown is the pool ordered by BM25 plus Gaussian noise as large
   as the spread of the pool's scores, cut to 10-20 items. A share of lists (5%) is shown
   in random order, as shops do to measure position bias.
5. **True relevance** (0-3) of a shown product: ``2 * match + 0.5 * quality + 0.3 *
   price_fit + noise``, rounded, where ``match`` is how well the product meets the query's
   intent (0 for the wrong category) and ``price_fit`` how close its price is to the
   user's level. Quality and price fit together span about one grade: relevance is not
   text alone.
6. **Clicks** follow a position-based model: the user examines position ``k`` with
   probability ``(1/k)^eta`` and clicks an examined product with a probability that grows
   with its relevance (an irrelevant one about 5% of the time); a click goes on to the
   cart and the cart to a purchase with relevance-dependent rates.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import pandas as pd
from scipy import sparse

from catalog import text
from catalog.synthetic_vocabulary import (
    CATEGORIES,
    DESCRIPTION_FILLERS,
    DESCRIPTION_OPENERS,
    MODEL_NAMES,
    PRICE_WORDS_HIGH,
    PRICE_WORDS_LOW,
)

MAX_CATEGORIES = len(CATEGORIES)

# True relevance: ``2 * match + QUALITY_WEIGHT * quality + PRICE_FIT_WEIGHT * price_fit``
# plus noise. Quality and price fit (each about N(0, 1)) together have a spread of about
# 0.6: roughly one grade either way. The rating is ``3.9 + 0.5 * quality`` plus noise.
QUALITY_WEIGHT = 0.5
PRICE_FIT_WEIGHT = 0.3
RELEVANCE_NOISE = 0.25
RATING_NOISE = 0.4

# Click model by true relevance grade 0..3.
ATTRACTION = np.array([0.05, 0.14, 0.28, 0.50])
CART_GIVEN_CLICK = np.array([0.03, 0.12, 0.25, 0.40])
PURCHASE_GIVEN_CART = np.array([0.15, 0.30, 0.45, 0.60])


@dataclass(frozen=True)
class SyntheticConfig:
    products: int = 1000
    categories: int = 10
    users: int = 500
    events: int = 50_000
    seed: int = 42
    days: int = 56
    start: datetime = datetime(2026, 9, 7, tzinfo=UTC)
    randomised_share: float = 0.05
    examination_eta: float = 1.0
    list_min: int = 10
    list_max: int = 20
    pool_size: int = 40
    chunk_lists: int = 20_000

    def validate(self) -> None:
        if not 1 <= self.categories <= MAX_CATEGORIES:
            raise ValueError(f"categories must be between 1 and {MAX_CATEGORIES}")
        if self.products < self.categories:
            raise ValueError("need at least one product per category")
        if self.users < 1 or self.events < 1 or self.days < 1:
            raise ValueError("users, events and days must be positive")
        if not 1 <= self.list_min <= self.list_max:
            raise ValueError("list_min must be between 1 and list_max")
        if not 0.0 <= self.randomised_share <= 1.0:
            raise ValueError("randomised_share must be between 0 and 1")


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
    pool_match: np.ndarray
    pool_sigma: np.ndarray

    def __len__(self) -> int:
        return len(self.text)


@dataclass
class Users:
    ids: np.ndarray
    category_preference: np.ndarray  # (U, C), rows sum to 1
    price_level: np.ndarray
    activity: np.ndarray  # sums to 1


@dataclass
class Chunk:
    """One chunk of generated lists, as frames ready for loading."""

    events: pd.DataFrame
    requests: pd.DataFrame
    truth: pd.DataFrame


@dataclass
class Summary:
    lists: int = 0
    randomised_lists: int = 0
    sessions: int = 0
    events: int = 0
    by_type: dict[str, int] = field(
        default_factory=lambda: {"impression": 0, "click": 0, "add_to_cart": 0, "purchase": 0}
    )
    impressions_at: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    clicks_at: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    relevance_counts: np.ndarray = field(default_factory=lambda: np.zeros(4, dtype=np.int64))
    first_timestamp: datetime | None = None
    last_timestamp: datetime | None = None

    @property
    def ctr(self) -> float:
        return self.by_type["click"] / max(self.by_type["impression"], 1)

    @property
    def conversion(self) -> float:
        """Purchases per click."""
        return self.by_type["purchase"] / max(self.by_type["click"], 1)

    def ctr_at(self, position: int) -> float:
        index = position - 1
        if index >= len(self.impressions_at) or self.impressions_at[index] == 0:
            return float("nan")
        return float(self.clicks_at[index] / self.impressions_at[index])


# ------------------------------------------------------------------------------------
# Catalog, users, queries
# ------------------------------------------------------------------------------------


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


def _description(spec, attrs, brand, noun, rng: np.random.Generator) -> str:
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
    pool_match = _intent_match(pool, categories, attributes, brands, catalog)
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
        pool_match=pool_match,
        pool_sigma=np.where(spread > 0, spread, 1.0),
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


def _intent_match(
    pool: np.ndarray, categories: np.ndarray, attribute: list, brand: list, catalog: Catalog
) -> np.ndarray:
    """How well each pooled product meets the query's intent: 0 (wrong category) to 1."""
    match = np.zeros(pool.shape)
    for qi in range(pool.shape[0]):
        for slot, product in enumerate(pool[qi]):
            if catalog.category_index[product] != categories[qi]:
                continue
            value = 1.0
            if attribute[qi] is not None and attribute[qi] not in catalog.attributes[product]:
                value -= 0.45
            if brand[qi] is not None and brand[qi] != catalog.brands[product]:
                value -= 0.45
            match[qi, slot] = max(value, 0.1)
    return match


def _normalised(values: np.ndarray) -> np.ndarray:
    return values / values.sum()


# ------------------------------------------------------------------------------------
# Lists and clicks
# ------------------------------------------------------------------------------------


class Generator:
    """Yields ``Chunk``s of lists until the requested number of events is reached."""

    def __init__(self, config: SyntheticConfig):
        config.validate()
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.catalog = catalog_generate(config, self.rng)
        self.users = users_generate(config, self.rng)
        self.queries = queries_generate(config, self.catalog, self.rng)
        self.id_rng = np.random.default_rng([config.seed, 1])
        self.summary = Summary(
            impressions_at=np.zeros(config.list_max, dtype=np.int64),
            clicks_at=np.zeros(config.list_max, dtype=np.int64),
        )
        self._category_queries = [
            np.flatnonzero(self.queries.category == cat) for cat in range(config.categories)
        ]

    def chunks(self) -> Iterator[Chunk]:
        remaining = self.config.events
        while remaining > 0:
            chunk = self._chunk(remaining)
            remaining -= len(chunk.events)
            yield chunk

    # One chunk: every step vectorised over (lists x positions).
    def _chunk(self, remaining_events: int) -> Chunk:
        config, rng, users, queries, catalog = self.config, self.rng, self.users, self.queries, self.catalog
        num_sessions = max(1, config.chunk_lists // 2)
        # 1. Sessions: a user, a start time, one to three searches.
        session_user = rng.choice(len(users.ids), size=num_sessions, p=users.activity)
        session_start = rng.random(num_sessions) * config.days * 86400.0
        session_lists = 1 + rng.binomial(2, 0.3, num_sessions)
        session_of_list = np.repeat(np.arange(num_sessions), session_lists)
        num_lists = len(session_of_list)
        within = np.arange(num_lists) - np.repeat(np.cumsum(session_lists) - session_lists, session_lists)
        list_user = session_user[session_of_list]
        list_time = session_start[session_of_list] + within * rng.uniform(30.0, 300.0, num_lists)
        list_time = np.minimum(list_time, config.days * 86400.0 - 3600.0)

        # 2. Queries: mostly from the user's preferred categories, Zipf within a category.
        preference = users.category_preference[list_user]
        from_preference = rng.random(num_lists) < 0.85
        list_category = np.where(
            from_preference,
            _sample_rows(preference, rng),
            rng.integers(0, config.categories, num_lists),
        )
        list_query = np.empty(num_lists, dtype=np.int64)
        for cat, members in enumerate(self._category_queries):
            picked = np.flatnonzero(list_category == cat)
            if len(picked):
                list_query[picked] = rng.choice(members, size=len(picked), p=queries.weight[members])

        # 3. Logging policy: BM25 plus noise as large as the pool's spread, cut to n items.
        pool_size = queries.pool.shape[1]
        width = min(config.list_max, pool_size)
        list_len = rng.integers(config.list_min, config.list_max + 1, num_lists).clip(max=width)
        noisy = queries.pool_bm25[list_query] + queries.pool_sigma[list_query, None] * rng.normal(
            size=(num_lists, pool_size)
        )
        slot = np.argsort(-noisy, axis=1)[:, :width]
        positions = np.arange(1, width + 1)
        valid = positions[None, :] <= list_len[:, None]
        randomised = rng.random(num_lists) < config.randomised_share
        shuffle_keys = np.where(valid, rng.random((num_lists, width)), np.inf)
        shuffled = np.take_along_axis(slot, np.argsort(shuffle_keys, axis=1), axis=1)
        slot = np.where(randomised[:, None], shuffled, slot)
        product = np.take_along_axis(queries.pool[list_query], slot, axis=1)

        # 4. True relevance: intent match, quality and the user's price fit.
        match = np.take_along_axis(queries.pool_match[list_query], slot, axis=1)
        price_gap = np.abs(
            catalog.log_relative_price[product]
            - (users.price_level[list_user] + queries.price_shift[list_query])[:, None]
        )
        price_fit = np.clip((0.53 - price_gap) / 0.4, -2.5, 2.5)
        quality = np.clip(catalog.quality[product], -2.5, 2.5)
        latent = (
            2.0 * match
            + QUALITY_WEIGHT * quality
            + PRICE_FIT_WEIGHT * price_fit
            + rng.normal(0.0, RELEVANCE_NOISE, match.shape)
        )
        relevance = np.where(match > 0, np.clip(np.rint(latent), 0, 3), 0).astype(np.int64)

        # 5. Clicks and the funnel under a position-based examination model.
        examined = rng.random(valid.shape) < (1.0 / positions[None, :]) ** config.examination_eta
        clicked = valid & examined & (rng.random(valid.shape) < ATTRACTION[relevance])
        carted = clicked & (rng.random(valid.shape) < CART_GIVEN_CLICK[relevance])
        purchased = carted & (rng.random(valid.shape) < PURCHASE_GIVEN_CART[relevance])

        # 6. Keep whole lists until the event budget is met.
        events_per_list = valid.sum(1) + clicked.sum(1) + carted.sum(1) + purchased.sum(1)
        keep = int(np.searchsorted(np.cumsum(events_per_list), remaining_events) + 1)
        keep = min(keep, num_lists)
        sel = slice(0, keep)
        return self._frames(
            list_user=list_user[sel],
            list_time=list_time[sel],
            list_query=list_query[sel],
            session_of_list=session_of_list[sel],
            product=product[sel],
            valid=valid[sel],
            clicked=clicked[sel],
            carted=carted[sel],
            purchased=purchased[sel],
            relevance=relevance[sel],
            randomised=randomised[sel],
        )

    def _frames(
        self,
        *,
        list_user,
        list_time,
        list_query,
        session_of_list,
        product,
        valid,
        clicked,
        carted,
        purchased,
        relevance,
        randomised,
    ) -> Chunk:
        config, rng = self.config, self.rng
        num_lists, width = valid.shape
        request_ids = _hex_ids(self.id_rng, num_lists)
        session_ids = _hex_ids(self.id_rng, int(session_of_list.max()) + 1 if num_lists else 0)
        list_session = session_ids[session_of_list]
        typed = _typed_queries(self.queries.text[list_query], rng)
        start_ns = int(pd.Timestamp(config.start).value)
        list_ns = start_ns + (list_time * 1e9).astype(np.int64)

        frames = []
        delay = np.zeros(valid.shape)
        position_grid = np.broadcast_to(np.arange(1, width + 1), valid.shape)
        for event_type, mask, extra in (
            ("impression", valid, None),
            ("click", clicked, lambda n: 5.0 + rng.exponential(20.0, n)),
            ("add_to_cart", carted, lambda n: rng.exponential(60.0, n)),
            ("purchase", purchased, lambda n: 30.0 + rng.exponential(240.0, n)),
        ):
            rows, cols = np.nonzero(mask)
            if extra is not None:
                delay[rows, cols] += extra(len(rows)) + (2.0 * cols if event_type == "click" else 0.0)
            timestamps = list_ns[rows] + (delay[rows, cols] * 1e9).astype(np.int64)
            frames.append(
                pd.DataFrame(
                    {
                        "event_type": event_type,
                        "timestamp": timestamps,
                        "list": rows,
                        "position": position_grid[rows, cols],
                        "product": product[rows, cols],
                    }
                )
            )
            self.summary.by_type[event_type] += len(rows)
        events = pd.concat(frames, ignore_index=True)
        lists = events["list"].to_numpy()
        events = pd.DataFrame(
            {
                "event_id": _hex_ids(self.id_rng, len(events)),
                "event_type": events["event_type"].to_numpy(),
                "timestamp": pd.to_datetime(events["timestamp"].to_numpy(), utc=True),
                "user_id": self.users.ids[list_user[lists]],
                "session_id": list_session[lists],
                "query": typed[lists],
                "query_norm": self.queries.text[list_query[lists]],
                "product_id": self.catalog.external_ids[events["product"].to_numpy()],
                "position": events["position"].to_numpy(),
                "request_id": request_ids[lists],
            }
        )

        rows, cols = np.nonzero(valid)
        shown = pd.Series(self.catalog.external_ids[product[rows, cols]]).groupby(rows).agg(list)
        requests = pd.DataFrame(
            {
                "request_id": request_ids,
                "timestamp": pd.to_datetime(list_ns, utc=True),
                "query": typed,
                "query_norm": self.queries.text[list_query],
                "user_id": self.users.ids[list_user],
                "session_id": list_session,
                "product_ids": shown.reindex(range(num_lists)).to_list(),
                "randomised": randomised,
            }
        )
        truth = pd.DataFrame(
            {
                "request_id": request_ids[rows],
                "product_external_id": self.catalog.external_ids[product[rows, cols]],
                "relevance": relevance[rows, cols],
            }
        )

        summary = self.summary
        summary.lists += num_lists
        summary.randomised_lists += int(randomised.sum())
        summary.sessions += len(np.unique(session_of_list))
        summary.events += len(events)
        summary.impressions_at += valid.sum(0)
        summary.clicks_at += clicked.sum(0)
        summary.relevance_counts += np.bincount(relevance[valid], minlength=4)
        if num_lists:
            first, last = events["timestamp"].min(), events["timestamp"].max()
            summary.first_timestamp = min(filter(None, [summary.first_timestamp, first]))
            summary.last_timestamp = max(filter(None, [summary.last_timestamp, last]))
        return Chunk(events=events, requests=requests, truth=truth)


def _sample_rows(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of a matrix of categorical distributions."""
    cumulative = probabilities.cumsum(axis=1)
    draws = rng.random((probabilities.shape[0], 1)) * cumulative[:, -1:]
    return np.minimum((cumulative < draws).sum(axis=1), probabilities.shape[1] - 1)


def _hex_ids(rng: np.random.Generator, count: int) -> np.ndarray:
    """Deterministic random UUID4s as 32 hex digits (PostgreSQL and Django both accept them)."""
    raw = np.frombuffer(rng.bytes(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    return np.frombuffer(binascii.hexlify(raw.tobytes()), dtype="S32").astype(str).astype(object)


def _typed_queries(normalised: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What users typed: mostly the normal form, sometimes capitalised or with stray spaces."""
    styles = rng.random(len(normalised))
    typed = normalised.copy()
    capitalised = styles < 0.15
    typed[capitalised] = [value.title() for value in normalised[capitalised]]
    spaced = (styles >= 0.15) & (styles < 0.2)
    typed[spaced] = [f" {value}  " for value in normalised[spaced]]
    return typed
