"""Searches served by an experiment and what users did with them, written straight into the
impression log and the events table, as serving and ``/api/events`` would leave them."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid

from django.utils import timezone

from catalog.models import Event, SearchRequest
from ranking.experiments.services import experiment_launch
from ranking.models import Experiment

_requests = itertools.count(1)


def launch(**fields) -> Experiment:
    """An experiment started as the command starts one (verification included)."""
    return experiment_launch(actor="test", **fields)


def logged_search(
    experiment: Experiment | None,
    *,
    products: list[str],
    arm: str = "interleaved",
    teams: str = "",
    user: str = "U1",
    session: str = "",
    query: str = "shoes",
    shadow: list[str] | None = None,
    seconds: float | None = None,
    error: str = "",
    at: dt.datetime | None = None,
) -> SearchRequest:
    return SearchRequest.objects.create(
        request_id=f"req-{next(_requests)}",
        timestamp=at or timezone.now(),
        query=query,
        query_norm=query,
        user_id=user,
        session_id=session,
        product_ids=products,
        experiment_id=experiment.pk if experiment else None,
        arm=arm,
        teams=teams,
        shadow_ids=shadow,
        challenger_seconds=seconds,
        challenger_error=error,
    )


def user_did(search: SearchRequest | str, product: str, kind: str = "click") -> Event:
    """One event of ``kind`` on ``product``, carrying the search's request id."""
    request_id = search if isinstance(search, str) else search.request_id
    now = timezone.now()
    return Event.objects.create(
        event_id=uuid.uuid4(),
        event_type=kind,
        timestamp=now,
        product_id=product,
        request_id=request_id,
        ingested_at=now,
    )


def interleaved_searches(
    experiment: Experiment, *, wins: int, losses: int, ties: int = 0, users: int = 50
) -> None:
    """Interleaved searches of two products, ``a`` (control's team) and ``b`` (challenger's):
    a click on ``b`` is a win for the challenger, on ``a`` a loss; a tie clicks both. Spread
    over ``users`` users. Bulk-written: hundreds of searches in one statement each."""
    plan = ["b"] * wins + ["a"] * losses + ["ab"] * ties
    searches = [
        SearchRequest(
            request_id=f"req-{next(_requests)}",
            timestamp=timezone.now(),
            query="shoes",
            query_norm="shoes",
            user_id=f"U{i % users}",
            product_ids=["a", "b"],
            experiment_id=experiment.pk,
            arm="interleaved",
            teams="AB",
            challenger_seconds=0.0002,
        )
        for i in range(len(plan))
    ]
    SearchRequest.objects.bulk_create(searches)
    clicks([(search, product) for search, clicked in zip(searches, plan, strict=True) for product in clicked])


def ab_searches(
    experiment: Experiment, *, arm: str, users: int, searches_each: int, click_every: int
) -> None:
    """``users`` users of one A/B arm, each with ``searches_each`` searches of which every
    ``click_every``-th gets a click on the first product."""
    rows = [
        SearchRequest(
            request_id=f"req-{next(_requests)}",
            timestamp=timezone.now(),
            query="shoes",
            query_norm="shoes",
            user_id=f"{arm}-U{u}",
            product_ids=["a", "b", "c"],
            experiment_id=experiment.pk,
            arm=arm,
            challenger_seconds=0.0002 if arm == "challenger" else None,
        )
        for u in range(users)
        for _ in range(searches_each)
    ]
    SearchRequest.objects.bulk_create(rows)
    clicks([(row, "a") for i, row in enumerate(rows) if i % click_every == 0])


def clicks(pairs: list[tuple[SearchRequest, str]]) -> None:
    """A click on each (search, product), in one statement."""
    now = timezone.now()
    Event.objects.bulk_create(
        Event(
            event_id=uuid.uuid4(),
            event_type="click",
            timestamp=now,
            product_id=product,
            request_id=search.request_id,
            ingested_at=now,
        )
        for search, product in pairs
    )
