"""Live traffic from the synthetic shop: its shoppers (``catalog.synthetic.shoppers``) search
through ``/api/rank`` and send what they did to ``/api/events``, as a shop's front end does.

The API is reached over HTTP (``HttpShopApi``: any server, API key and throttling as for any
client) or in this process through Django's test ``Client`` (``InProcessShopApi``: the real
URL, middleware and view path, no server). In-process, the caller already holds the
database, so the API key guards nothing: without a key the key check is off for the run
(and with it the per-key throttle, which counts only keyed clients); with ``api_key`` the
key is sent and checked, and throttled, exactly as over HTTP. In-process the impression log
is written in the request (``SEARCHOP_IMPRESSION_LOG=sync``): a command's process has no
background writer to wait for, and each search's row is stored before its events arrive.

``traffic_simulate`` plays the searches, at most ``rate`` a second, sends the events in
batches (of 500, or what is pending every 5 s), and counts what happened: searches, clicks, CTR (searches with a click), carts,
purchases, and the searches per experiment arm (the ``experiment`` field of the answer).
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
from django.conf import settings

from catalog.progress import Reporter
from catalog.synthetic.shoppers import RankAnswer, ShopperSimulator, SimulatedSearch

RANK_PATH = "/api/rank"
EVENTS_PATH = "/api/events"
EVENTS_PER_BATCH = 500  # /api/events takes at most 1,000 a request
# ... and pending events go at least this often, so that a slow run (the demo's few searches
# a second) feeds an experiment's report as it goes.
EVENTS_MAX_WAIT_SECONDS = 5.0
# A 503 (a worker loading its model, a database restarting) or a 429 is retried after its
# Retry-After, this many times at most.
MAX_RETRIES = 10
MAX_WAIT_SECONDS = 30.0
LOG_BAR_SECONDS = 30.0


class TrafficError(Exception):
    """The API refused the traffic (a 4xx other than 429, or 503s that did not pass)."""


@dataclass(frozen=True)
class ApiReply:
    status: int
    body: Any
    retry_after: float | None = None


class ShopApi(Protocol):
    def post(self, path: str, body: dict[str, Any]) -> ApiReply: ...

    def close(self) -> None: ...


class HttpShopApi:
    """The API of a server at ``url``, over HTTP with ``requests`` (one kept-alive session)."""

    def __init__(self, url: str, *, api_key: str = "", timeout: float = 30.0):
        import requests

        self.url = url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.headers["Content-Type"] = "application/json"
        if api_key:
            self.session.headers["Authorization"] = f"Api-Key {api_key}"
        self._errors: tuple[type[Exception], ...] = (requests.RequestException,)

    def post(self, path: str, body: dict[str, Any]) -> ApiReply:
        try:
            response = self.session.post(self.url + path, json=body, timeout=self.timeout)
        except self._errors as error:
            raise TrafficError(f"{self.url}{path}: {error}") from error
        return ApiReply(response.status_code, _json(response), _seconds(response.headers.get("Retry-After")))

    def close(self) -> None:
        self.session.close()


class InProcessShopApi:
    """The API served in this process by Django's test ``Client``: the real view path."""

    def __init__(self, *, api_key: str = ""):
        from django.test import Client, override_settings

        headers = {"Authorization": f"Api-Key {api_key}"} if api_key else {}
        self.client = Client(headers=headers, HTTP_HOST=_allowed_host())
        overrides: dict[str, Any] = {"SEARCHOP_IMPRESSION_LOG": "sync"}
        if not api_key:
            overrides["SEARCHOP_REQUIRE_API_KEY"] = False
        self._settings: Any = override_settings(**overrides)
        self._settings.enable()

    def post(self, path: str, body: dict[str, Any]) -> ApiReply:
        import orjson

        response = self.client.post(
            path, data=orjson.dumps(body), content_type="application/json", secure=True
        )
        return ApiReply(response.status_code, _json(response), _seconds(response.headers.get("Retry-After")))

    def close(self) -> None:
        if self._settings is not None:
            self._settings.disable()
            self._settings = None


@dataclass
class TrafficSummary:
    searches: int = 0
    searches_with_click: int = 0
    clicks: int = 0
    add_to_carts: int = 0
    purchases: int = 0
    unseen_queries: int = 0
    events_sent: int = 0
    events_stored: int = 0
    seconds: float = 0.0
    arms: Counter[str] = field(default_factory=Counter)
    rank_seconds: list[float] = field(default_factory=list)

    @property
    def ctr(self) -> float:
        """Searches with a click over searches."""
        return self.searches_with_click / self.searches if self.searches else 0.0

    def rank_ms(self, quantile: float) -> float:
        return float(np.quantile(self.rank_seconds, quantile) * 1000) if self.rank_seconds else float("nan")

    def add(self, search: SimulatedSearch, seconds: float) -> None:
        self.searches += 1
        clicks = search.count("click")
        self.clicks += clicks
        self.searches_with_click += clicks > 0
        self.add_to_carts += search.count("add_to_cart")
        self.purchases += search.count("purchase")
        self.unseen_queries += search.unseen_query
        self.arms[arm_label(search.experiment)] += 1
        self.rank_seconds.append(seconds)

    def progress_text(self) -> str:
        return f"clicks {self.clicks:,} CTR {self.ctr:.1%} rank p50 {self.rank_ms(0.5):.1f} ms"


def arm_label(experiment: dict[str, Any] | None) -> str:
    """``experiment 3 (interleaving): interleaved``, or ``no experiment``."""
    if not experiment:
        return "no experiment"
    return f"experiment {experiment.get('id')} ({experiment.get('kind')}): {experiment.get('arm')}"


def traffic_simulate(
    *,
    simulator: ShopperSimulator,
    api: ShopApi,
    searches: int,
    rate: float | None = None,
    reporter: Reporter | None = None,
) -> TrafficSummary:
    """Play ``searches`` searches of the simulator's shoppers against the API, at most ``rate``
    a second, and send their events in batches (every event is sent before it returns).
    Raises ``TrafficError`` when the API refuses a request; the events of the searches played
    until then are sent first."""
    reporter = reporter or Reporter.silent()
    summary = TrafficSummary()
    ranker = _ApiRanker(api)
    pending: list[dict[str, Any]] = []
    started = sent_at = time.perf_counter()
    bar = reporter.bar(total=searches, unit="search", desc="searches")
    stream = reporter.stream
    if stream is not None and not stream.isatty():
        bar.mininterval = LOG_BAR_SECONDS  # a log file (the demo's) gets a line now and then
    try:
        with bar:
            for number, search in enumerate(simulator.run(searches, ranker), start=1):
                summary.add(search, ranker.last_seconds)
                pending.extend(search.events)
                if len(pending) >= EVENTS_PER_BATCH or (
                    pending and time.perf_counter() - sent_at >= EVENTS_MAX_WAIT_SECONDS
                ):
                    _events_send(api, pending, summary)
                    sent_at = time.perf_counter()
                bar.update(1)
                if number % 25 == 0 or number == searches:
                    bar.set_postfix_str(summary.progress_text(), refresh=False)
                if rate:
                    _pace(started, number, rate)
    finally:
        with contextlib.suppress(TrafficError):
            _events_send(api, pending, summary)
        summary.seconds = time.perf_counter() - started
    return summary


class _ApiRanker:
    """The simulator's ranker: ``POST /api/rank``; remembers how long each answer took."""

    def __init__(self, api: ShopApi):
        self.api = api
        self.last_seconds = 0.0

    def __call__(
        self, query: str, user_id: str, session_id: str, candidates: list[dict[str, Any]]
    ) -> RankAnswer:
        body = {"query": query, "user_id": user_id, "session_id": session_id, "products": candidates}
        started = time.perf_counter()
        reply = _post(self.api, RANK_PATH, body)
        self.last_seconds = time.perf_counter() - started
        data = reply.body
        return RankAnswer(
            request_id=data["request_id"],
            ids=[str(product["id"]) for product in data["ranked_products"]],
            experiment=data.get("experiment"),
        )


def _events_send(api: ShopApi, pending: list[dict[str, Any]], summary: TrafficSummary) -> None:
    """Send and empty ``pending``."""
    for batch in _chunks(pending, EVENTS_PER_BATCH):
        wire = [{**event, "timestamp": event["timestamp"].isoformat()} for event in batch]
        reply = _post(api, EVENTS_PATH, {"events": wire})
        summary.events_sent += len(batch)
        summary.events_stored += int(reply.body.get("stored", 0))
    pending.clear()


def _post(api: ShopApi, path: str, body: dict[str, Any]) -> ApiReply:
    """POST, waiting out 503s and 429s (``Retry-After``); any other refusal is an error."""
    for _ in range(MAX_RETRIES + 1):
        reply = api.post(path, body)
        if reply.status == 200:
            return reply
        if reply.status not in (429, 503):
            break
        time.sleep(min(reply.retry_after or 1.0, MAX_WAIT_SECONDS))
    detail = reply.body.get("detail") if isinstance(reply.body, dict) else None
    raise TrafficError(f"{path} answered {reply.status}: {detail or str(reply.body)[:300]}")


def _pace(started: float, number: int, rate: float) -> None:
    """Sleep until search ``number + 1`` is due at ``rate`` a second."""
    wait = started + number / rate - time.perf_counter()
    if wait > 0:
        time.sleep(wait)


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"detail": response.content[:300].decode(errors="replace")}


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def _allowed_host() -> str:
    """A host name ``ALLOWED_HOSTS`` accepts, for the in-process requests."""
    for host in settings.ALLOWED_HOSTS:
        if host != "*":
            return host.lstrip(".")
    return "localhost"
