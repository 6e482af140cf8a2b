"""The generator: the shop's lists and what shoppers did with them, chunk by chunk.

Each chunk runs the steps of a day in the shop, vectorised over (lists x positions):

1. **Sessions**: a user (by activity), a start time, one to three searches.
2. **Queries**: mostly from the user's preferred categories, Zipf-like within a category.
3. **Logging policy** (the shop's current search): the query's BM25 pool ordered by BM25
   plus Gaussian noise as large as the spread of the pool's scores, cut to 10-20 items. A
   share of lists (5%) is shown in random order, as shops do to measure position bias.
4. **True relevance** of each shown product (``relevance``).
5. **Clicks, carts and purchases** under the position-based model (``clicks``).
6. Whole lists are kept until the event budget is met, and turned into the frames the
   loaders take: events, the impression log and the ground truth.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd

from catalog.synthetic.clicks import Funnel, funnel_simulate
from catalog.synthetic.config import SyntheticConfig
from catalog.synthetic.relevance import intent_match, relevance_grades
from catalog.synthetic.shop import Catalog, Queries, Shop, Users


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

    def add(self, lists: Lists, shown: _Shown, funnel: Funnel, events: pd.DataFrame) -> None:
        """Count a chunk's lists (the events' types are counted as they are made)."""
        self.lists += len(lists)
        self.randomised_lists += int(shown.randomised.sum())
        self.sessions += len(np.unique(lists.session))
        self.events += len(events)
        self.impressions_at += shown.valid.sum(0)
        self.clicks_at += funnel.clicked.sum(0)
        self.relevance_counts += np.bincount(shown.relevance[shown.valid], minlength=4)
        if len(lists):
            first, last = events["timestamp"].min(), events["timestamp"].max()
            self.first_timestamp = min(filter(None, [self.first_timestamp, first]))
            self.last_timestamp = max(filter(None, [self.last_timestamp, last]))


@dataclass
class Lists:
    """Who searched what and when, one entry per list."""

    user: np.ndarray
    time: np.ndarray  # seconds after the start
    query: np.ndarray
    session: np.ndarray  # the list's session, numbered within the chunk

    def __len__(self) -> int:
        return len(self.user)


@dataclass
class _Shown:
    """What each list showed, (lists x positions); ``valid`` masks positions past its end."""

    product: np.ndarray
    valid: np.ndarray
    randomised: np.ndarray  # per list
    relevance: np.ndarray


class Generator:
    """Yields ``Chunk``s of lists until the requested number of events is reached."""

    def __init__(self, config: SyntheticConfig):
        config.validate()
        self.config = config
        self.rng = np.random.default_rng(config.seed)
        self.shop = Shop.generate(config, self.rng)
        self.id_rng = np.random.default_rng([config.seed, 1])
        self.summary = Summary(
            impressions_at=np.zeros(config.list_max, dtype=np.int64),
            clicks_at=np.zeros(config.list_max, dtype=np.int64),
        )
        self._pool_match = _pool_match(self.shop)
        self._category_queries = [
            np.flatnonzero(self.queries.category == cat) for cat in range(config.categories)
        ]

    @property
    def catalog(self) -> Catalog:
        return self.shop.catalog

    @property
    def users(self) -> Users:
        return self.shop.users

    @property
    def queries(self) -> Queries:
        return self.shop.queries

    def chunks(self) -> Iterator[Chunk]:
        remaining = self.config.events
        while remaining > 0:
            chunk = self._chunk(remaining)
            remaining -= len(chunk.events)
            yield chunk

    def _chunk(self, remaining_events: int) -> Chunk:
        lists = self._lists_draw()
        shown = self._lists_show(lists)
        funnel = funnel_simulate(
            shown.relevance, eta=self.config.examination_eta, rng=self.rng, shown=shown.valid
        )
        # 6. Keep whole lists until the event budget is met.
        events_per_list = (
            shown.valid.sum(1) + funnel.clicked.sum(1) + funnel.carted.sum(1) + funnel.purchased.sum(1)
        )
        keep = min(int(np.searchsorted(np.cumsum(events_per_list), remaining_events) + 1), len(lists))
        return self._frames(*_first(keep, lists, shown, funnel))

    def _lists_draw(self) -> Lists:
        """Steps 1 and 2: sessions, their lists' users and times, and the queries typed."""
        return lists_draw(
            users=self.users,
            queries=self.queries,
            category_queries=self._category_queries,
            sessions=max(1, self.config.chunk_lists // 2),
            days=self.config.days,
            rng=self.rng,
        )

    def _lists_show(self, lists: Lists) -> _Shown:
        """Steps 3 and 4: the logging policy's lists, and the true relevance of what they show."""
        config, rng, queries, catalog = self.config, self.rng, self.queries, self.catalog
        policy = logging_policy_lists(lists.query, queries=queries, config=config, rng=rng)
        product = np.take_along_axis(queries.pool[lists.query], policy.slot, axis=1)
        relevance = relevance_grades(
            match=np.take_along_axis(self._pool_match[lists.query], policy.slot, axis=1),
            quality=catalog.quality[product],
            log_relative_price=catalog.log_relative_price[product],
            price_level=(self.users.price_level[lists.user] + queries.price_shift[lists.query])[:, None],
            rng=rng,
        )
        return _Shown(product=product, valid=policy.valid, randomised=policy.randomised, relevance=relevance)

    def _frames(self, lists: Lists, shown: _Shown, funnel: Funnel) -> Chunk:
        """The chunk's events, impression log and ground truth (step 6)."""
        num_lists = len(lists)
        request_ids = hex_ids(self.id_rng, num_lists)
        session_ids = hex_ids(self.id_rng, int(lists.session.max()) + 1 if num_lists else 0)
        list_session = session_ids[lists.session]
        typed = typed_queries(self.queries.text[lists.query], self.rng)
        start_ns = int(pd.Timestamp(self.config.start).value)
        list_ns = start_ns + (lists.time * 1e9).astype(np.int64)

        actions = self._actions(list_ns, shown, funnel)
        rows = actions["list"].to_numpy()
        events = pd.DataFrame(
            {
                "event_id": hex_ids(self.id_rng, len(actions)),
                "event_type": actions["event_type"].to_numpy(),
                "timestamp": pd.to_datetime(actions["timestamp"].to_numpy(), utc=True),
                "user_id": self.users.ids[lists.user[rows]],
                "session_id": list_session[rows],
                "query": typed[rows],
                "query_norm": self.queries.text[lists.query[rows]],
                "product_id": self.catalog.external_ids[actions["product"].to_numpy()],
                "position": actions["position"].to_numpy(),
                "request_id": request_ids[rows],
            }
        )

        rows, cols = np.nonzero(shown.valid)
        shown_ids = self.catalog.external_ids[shown.product[rows, cols]]
        requests = pd.DataFrame(
            {
                "request_id": request_ids,
                "timestamp": pd.to_datetime(list_ns, utc=True),
                "query": typed,
                "query_norm": self.queries.text[lists.query],
                "user_id": self.users.ids[lists.user],
                "session_id": list_session,
                "product_ids": pd.Series(shown_ids)
                .groupby(rows)
                .agg(list)
                .reindex(range(num_lists))
                .to_list(),
                "randomised": shown.randomised,
            }
        )
        truth = pd.DataFrame(
            {
                "request_id": request_ids[rows],
                "product_external_id": shown_ids,
                "relevance": shown.relevance[rows, cols],
            }
        )
        self.summary.add(lists, shown, funnel, events)
        return Chunk(events=events, requests=requests, truth=truth)

    def _actions(self, list_ns: np.ndarray, shown: _Shown, funnel: Funnel) -> pd.DataFrame:
        """Every impression, click, cart and purchase: its list, position, product and time
        (each step of the funnel a random delay after the one before)."""
        rng = self.rng
        frames = []
        delay = np.zeros(shown.valid.shape)
        position_grid = np.broadcast_to(np.arange(1, shown.valid.shape[1] + 1), shown.valid.shape)
        for event_type, mask, extra in (
            ("impression", shown.valid, None),
            ("click", funnel.clicked, lambda n: 5.0 + rng.exponential(20.0, n)),
            ("add_to_cart", funnel.carted, lambda n: rng.exponential(60.0, n)),
            ("purchase", funnel.purchased, lambda n: 30.0 + rng.exponential(240.0, n)),
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
                        "product": shown.product[rows, cols],
                    }
                )
            )
            self.summary.by_type[event_type] += len(rows)
        return pd.concat(frames, ignore_index=True)


def lists_draw(
    *,
    users: Users,
    queries: Queries,
    category_queries: list[np.ndarray],
    sessions: int,
    days: float,
    rng: np.random.Generator,
) -> Lists:
    """Steps 1 and 2 for ``sessions`` sessions: a user each (by activity), a start time in
    the ``days``, one to three lists; each list's query mostly from the user's preferred
    categories (``category_queries``: the query indices of each category), Zipf-like within."""
    num_sessions = sessions
    session_user = rng.choice(len(users.ids), size=num_sessions, p=users.activity)
    session_start = rng.random(num_sessions) * days * 86400.0
    session_lists = 1 + rng.binomial(2, 0.3, num_sessions)
    session_of_list = np.repeat(np.arange(num_sessions), session_lists)
    num_lists = len(session_of_list)
    within = np.arange(num_lists) - np.repeat(np.cumsum(session_lists) - session_lists, session_lists)
    list_user = session_user[session_of_list]
    list_time = session_start[session_of_list] + within * rng.uniform(30.0, 300.0, num_lists)
    list_time = np.minimum(list_time, days * 86400.0 - 3600.0)

    preference = users.category_preference[list_user]
    from_preference = rng.random(num_lists) < 0.85
    list_category = np.where(
        from_preference,
        _sample_rows(preference, rng),
        rng.integers(0, len(category_queries), num_lists),
    )
    list_query = np.empty(num_lists, dtype=np.int64)
    for cat, members in enumerate(category_queries):
        picked = np.flatnonzero(list_category == cat)
        if len(picked):
            list_query[picked] = rng.choice(members, size=len(picked), p=queries.weight[members])
    return Lists(user=list_user, time=list_time, query=list_query, session=session_of_list)


@dataclass(frozen=True)
class PolicyLists:
    """The logging policy's lists, (lists x positions): ``slot`` indexes each query's pool
    in the order shown, ``valid`` masks positions past a list's end."""

    slot: np.ndarray
    valid: np.ndarray
    randomised: np.ndarray  # per list


def logging_policy_lists(
    query: np.ndarray, *, queries: Queries, config: SyntheticConfig, rng: np.random.Generator
) -> PolicyLists:
    """Step 3, the shop's own search for each of the ``query`` indices: the query's pool
    ordered by BM25 plus Gaussian noise as large as the spread of the pool's scores, cut to
    ``list_min``..``list_max`` items; a ``randomised_share`` of lists shuffled."""
    num_lists, pool_size = len(query), queries.pool.shape[1]
    width = min(config.list_max, pool_size)
    list_len = rng.integers(config.list_min, config.list_max + 1, num_lists).clip(max=width)
    noisy = queries.pool_bm25[query] + queries.pool_sigma[query, None] * rng.normal(
        size=(num_lists, pool_size)
    )
    slot = np.argsort(-noisy, axis=1)[:, :width]
    valid = np.arange(1, width + 1)[None, :] <= list_len[:, None]
    randomised = rng.random(num_lists) < config.randomised_share
    shuffle_keys = np.where(valid, rng.random((num_lists, width)), np.inf)
    shuffled = np.take_along_axis(slot, np.argsort(shuffle_keys, axis=1), axis=1)
    slot = np.where(randomised[:, None], shuffled, slot)
    return PolicyLists(slot=slot, valid=valid, randomised=randomised)


def _pool_match(shop: Shop) -> np.ndarray:
    """How well each product of each query's pool meets the query's intent, (queries x pool)."""
    queries = shop.queries
    return np.stack(
        [
            intent_match(products, category=category, attribute=attribute, brand=brand, catalog=shop.catalog)
            for products, category, attribute, brand in zip(
                queries.pool, queries.category, queries.attribute, queries.brand, strict=True
            )
        ]
    )


def _first(keep: int, lists: Lists, shown: _Shown, funnel: Funnel) -> tuple[Lists, _Shown, Funnel]:
    """The first ``keep`` lists of a chunk."""
    cut = slice(0, keep)
    return (
        Lists(user=lists.user[cut], time=lists.time[cut], query=lists.query[cut], session=lists.session[cut]),
        _Shown(
            product=shown.product[cut],
            valid=shown.valid[cut],
            randomised=shown.randomised[cut],
            relevance=shown.relevance[cut],
        ),
        Funnel(
            examined=funnel.examined[cut],
            clicked=funnel.clicked[cut],
            carted=funnel.carted[cut],
            purchased=funnel.purchased[cut],
        ),
    )


def _sample_rows(probabilities: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One draw per row of a matrix of categorical distributions."""
    cumulative = probabilities.cumsum(axis=1)
    draws = rng.random((probabilities.shape[0], 1)) * cumulative[:, -1:]
    return np.minimum((cumulative < draws).sum(axis=1), probabilities.shape[1] - 1)


def hex_ids(rng: np.random.Generator, count: int) -> np.ndarray:
    """Deterministic random UUID4s as 32 hex digits (PostgreSQL and Django both accept them)."""
    raw = np.frombuffer(rng.bytes(16 * count), dtype=np.uint8).reshape(count, 16).copy()
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    return np.frombuffer(binascii.hexlify(raw.tobytes()), dtype="S32").astype(str).astype(object)


def typed_queries(normalised: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What users typed: mostly the normal form, sometimes capitalised or with stray spaces."""
    styles = rng.random(len(normalised))
    typed = normalised.copy()
    capitalised = styles < 0.15
    typed[capitalised] = [value.title() for value in normalised[capitalised]]
    spaced = (styles >= 0.15) & (styles < 0.2)
    typed[spaced] = [f" {value}  " for value in normalised[spaced]]
    return typed
