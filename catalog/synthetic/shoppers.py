"""The shop's shoppers, live: they search, any ranker orders what they see, and they act on
that order as the generator's shoppers act on the logging policy's lists.

For each search, in the order the generator applies them:

1. **Who and what**: sessions of one to three searches by users drawn by activity, queries
   from their preferred categories (``generator.lists_draw``). With ``new_queries`` a share
   of searches types an intent of the same category that the shop has never logged
   (``shop.queries_unseen``: a price word with an attribute or a brand), for drift tests.
2. **Candidates**: the query's pool under the logging policy (``generator.logging_policy_lists``:
   BM25 plus noise, 10-20 products), sent in that order to the ranker.
3. **The ranker** (any callable: ``/api/rank`` over HTTP, in-process, or a plain function)
   answers a request id and the ids in the order it shows them.
4. **The shopper** judges what is shown with the ground truth (``relevance.true_relevance``)
   and clicks, adds to the cart and buys under the same position-based model and funnel
   (``clicks.funnel_simulate``).
5. **Events**: one per click, add-to-cart and purchase, with the request id, the position
   shown and the time of the clock (now, by default): what a shop's front end would send.
   Their ids come from the request id, so a second run of one seed stores new events.

Pure numpy, no Django (the caller brings the ranker): deterministic for a seed, given a
deterministic ranker and clock.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from catalog.synthetic.clicks import funnel_simulate
from catalog.synthetic.config import SyntheticConfig
from catalog.synthetic.generator import hex_ids, lists_draw, logging_policy_lists, typed_queries
from catalog.synthetic.relevance import true_relevance
from catalog.synthetic.shop import Shop, queries_join, queries_unseen

# Sessions drawn at a time (each of one to three searches).
SESSIONS_PER_DRAW = 256
# What each step of the funnel sends, in order.
FUNNEL_EVENTS = ("click", "add_to_cart", "purchase")


@dataclass(frozen=True)
class RankAnswer:
    """What a ranker answered: its request id, the ids in the order shown and, when an online
    experiment served the search, which (``{"id", "kind", "arm"}``; None otherwise)."""

    request_id: str
    ids: list[str]
    experiment: dict[str, Any] | None = None


# ``rank(query, user_id, session_id, candidates)``; candidates as ``/api/rank`` takes them.
Ranker = Callable[[str, str, str, list[dict[str, Any]]], RankAnswer]


@dataclass(frozen=True)
class SearchDraw:
    """A search before it is ranked: who typed what, and the candidates (``/api/rank``'s)."""

    query_index: int  # into the simulator's shop.queries (unseen ones after the shop's own)
    user_index: int
    query: str  # as typed
    query_norm: str
    unseen_query: bool
    user_id: str
    session_id: str
    candidates: list[dict[str, Any]]  # in the logging policy's order


@dataclass(frozen=True)
class SimulatedSearch:
    """One search and what the shopper did with the list it was shown."""

    request_id: str
    query: str  # as typed
    query_norm: str  # the intent's normal form
    unseen_query: bool
    user_id: str
    session_id: str
    candidates: list[str]  # in the logging policy's order, as sent
    shown: list[str]  # in the ranker's order
    relevance: np.ndarray  # true grade of each shown product
    events: list[dict[str, Any]] = field(default_factory=list)
    experiment: dict[str, Any] | None = None

    def count(self, event_type: str) -> int:
        return sum(1 for event in self.events if event["event_type"] == event_type)

    def positions(self, event_type: str) -> list[int]:
        return [event["position"] for event in self.events if event["event_type"] == event_type]


class ShopperSimulator:
    """The shoppers of one synthetic shop. ``Shop`` must be the one whose catalog is loaded
    (``ShopperSimulator.for_config`` rebuilds it as the generator does); ``seed`` drives the
    shoppers alone, so two runs with one seed make the same searches and the same choices."""

    def __init__(
        self,
        shop: Shop,
        config: SyntheticConfig,
        *,
        seed: int,
        new_queries: float = 0.0,
        clock: Callable[[], datetime] | None = None,
    ):
        if not 0.0 <= new_queries <= 1.0:
            raise ValueError("new_queries must be between 0 and 1")
        self.config = config
        self.rng = np.random.default_rng([seed, 7])
        self.new_queries = new_queries
        self.clock = clock or (lambda: datetime.now(UTC))
        self.seen = len(shop.queries.text)
        self._seen_texts = frozenset(shop.queries.text.tolist())
        unseen = queries_unseen(config, shop, np.random.default_rng([config.seed, 2]))
        self.shop = Shop(catalog=shop.catalog, users=shop.users, queries=queries_join(shop.queries, unseen))
        queries = shop.queries
        self._category_queries = [np.flatnonzero(queries.category == cat) for cat in range(config.categories)]
        self._unseen_by_category = [
            self.seen + np.flatnonzero(unseen.category == cat) for cat in range(config.categories)
        ]
        self._external_index = {pid: i for i, pid in enumerate(shop.catalog.external_ids)}
        self._payloads = [_payload(shop, i) for i in range(len(shop.catalog))]

    @classmethod
    def for_config(cls, config: SyntheticConfig, **options: Any) -> ShopperSimulator:
        """The shoppers of the shop ``generate_synthetic_data`` made with ``config``."""
        return cls(Shop.generate(config, np.random.default_rng(config.seed)), config, **options)

    def is_unseen(self, query_norm: str) -> bool:
        """Whether the shop's users never typed this (normalised) query before."""
        return query_norm not in self._seen_texts

    def run(self, searches: int, rank: Ranker) -> Iterator[SimulatedSearch]:
        """``searches`` searches, one at a time, each ranked by ``rank`` and played (steps 1-5)."""
        for search in self.searches_draw(searches):
            answer = rank(search.query, search.user_id, search.session_id, search.candidates)
            yield self.search_play(search, answer)

    def searches_draw(self, searches: int) -> Iterator[SearchDraw]:
        """Steps 1 and 2: who searches what, and the candidates, for ``searches`` searches
        (drawn lazily: ``run`` interleaves them with the shoppers' choices)."""
        done = 0
        while done < searches:
            for query, user, session_id in self._sessions_draw():
                if done == searches:
                    return
                yield self._search_draw(query, user, session_id)
                done += 1

    def _sessions_draw(self) -> Iterator[tuple[int, int, str]]:
        """Step 1 for a batch of sessions: (query index, user index, session id) per search."""
        shop, rng = self.shop, self.rng
        lists = lists_draw(
            users=shop.users,
            queries=shop.queries,
            category_queries=self._category_queries,
            sessions=SESSIONS_PER_DRAW,
            days=1,
            rng=rng,
        )
        query = lists.query.copy()
        for index in np.flatnonzero(rng.random(len(query)) < self.new_queries):
            choices = self._unseen_by_category[shop.queries.category[query[index]]]
            if len(choices):
                query[index] = rng.choice(choices)
        session_ids = hex_ids(rng, SESSIONS_PER_DRAW)
        yield from zip(query.tolist(), lists.user.tolist(), session_ids[lists.session].tolist(), strict=True)

    def _search_draw(self, query: int, user: int, session_id: str) -> SearchDraw:
        """Step 2 and the query as typed."""
        shop, rng = self.shop, self.rng
        policy = logging_policy_lists(np.array([query]), queries=shop.queries, config=self.config, rng=rng)
        candidates = shop.queries.pool[query][policy.slot[0][policy.valid[0]]]
        query_norm = str(shop.queries.text[query])
        return SearchDraw(
            query_index=query,
            user_index=user,
            query=str(typed_queries(np.array([query_norm], dtype=object), rng)[0]),
            query_norm=query_norm,
            unseen_query=query >= self.seen,
            user_id=str(shop.users.ids[user]),
            session_id=session_id,
            candidates=[self._payloads[i] for i in candidates],
        )

    def search_play(self, search: SearchDraw, answer: RankAnswer) -> SimulatedSearch:
        """Steps 4 and 5: the shopper of ``search`` acts on the order of ``answer``. One search
        may be played on several orders (each play judges and clicks afresh)."""
        shop, rng, catalog = self.shop, self.rng, self.shop.catalog
        shown = np.array([self._external_index[pid] for pid in answer.ids], dtype=np.int64)
        relevance = true_relevance(
            shown, query=search.query_index, user=search.user_index, shop=shop, rng=rng
        )
        funnel = funnel_simulate(relevance, eta=self.config.examination_eta, rng=rng)
        now = self.clock()
        events = [
            {
                "event_type": event_type,
                "product_id": str(catalog.external_ids[shown[position]]),
                "position": position + 1,
                "request_id": answer.request_id,
                "timestamp": now,
                "query": search.query,
                "user_id": search.user_id,
                "session_id": search.session_id,
            }
            for event_type, mask in zip(
                FUNNEL_EVENTS, (funnel.clicked, funnel.carted, funnel.purchased), strict=True
            )
            for position in np.flatnonzero(mask).tolist()
        ]
        for event in events:
            event["event_id"] = event_id_of(answer.request_id, event["event_type"], event["position"])
        return SimulatedSearch(
            request_id=answer.request_id,
            query=search.query,
            query_norm=search.query_norm,
            unseen_query=search.unseen_query,
            user_id=search.user_id,
            session_id=search.session_id,
            candidates=[product["id"] for product in search.candidates],
            shown=list(answer.ids),
            relevance=relevance,
            events=events,
            experiment=answer.experiment,
        )


def event_id_of(request_id: str, event_type: str, position: int) -> str:
    """The event's id, a UUID4 in 32 hex digits made from what it is: a re-sent event keeps
    its id (and is stored once), while another search (a new request id) never reuses one,
    whatever the seed."""
    raw = bytearray(
        hashlib.blake2b(f"{request_id}:{event_type}:{position}".encode(), digest_size=16).digest()
    )
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()


def _payload(shop: Shop, index: int) -> dict[str, Any]:
    """A product as the shop's search backend sends it to ``/api/rank``."""
    catalog = shop.catalog
    rating = float(catalog.ratings[index])
    return {
        "id": str(catalog.external_ids[index]),
        "title": str(catalog.titles[index]),
        "price": float(catalog.prices[index]),
        "category": str(catalog.category_names[index]),
        "brand": str(catalog.brands[index]),
        "description": str(catalog.descriptions[index]),
        "rating": None if math.isnan(rating) else rating,
    }
