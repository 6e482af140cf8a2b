"""Reads of experiments: the running one, the list, and the exposures of one experiment joined
with what users did, aggregated in the database.

An experiment's searches are the impression-log rows (``catalog.SearchRequest``) that carry
its id; what users did with them are the ``catalog.Event`` rows with the same ``request_id``,
credited to the product they name and through it to its position in the list served. Only
clicks, add-to-carts and purchases of products that were in the list count, each distinct
product once per search and kind. The joins and the per-search and per-user sums run in the
database (PostgreSQL, or SQLite for the embedded demo: the one difference, turning a list of
ids into rows, is written for each); only one row per search (interleaving, shadow) or per
user and arm (A/B) travels to Python.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from django.db import connection
from django.db.models import Avg, Count, Max, Min, Q, QuerySet

from catalog.models import Event, EventType, SearchRequest
from ranking.errors import ExperimentNotFound
from ranking.experiments.arms import Arm, RankerRef
from ranking.experiments.interleaving import CHALLENGER_TEAM, CONTROL_TEAM
from ranking.experiments.routing import LiveExperiment
from ranking.models import (
    Experiment,
    ExperimentPurpose,
    ExperimentStatus,
    FeatureSet,
    ModelStatus,
    ModelVersion,
    ModelVersionTransition,
    QueryFrequency,
    TransitionKind,
)
from ranking.selectors import feature_set_latest_get

ACTIONS = (EventType.CLICK, EventType.ADD_TO_CART, EventType.PURCHASE)
_VERSION_FIELDS = ("control_version__version", "challenger_version__version")


def experiment_queryset() -> QuerySet[Experiment]:
    """Experiments with their two versions' numbers, never their model texts."""
    return Experiment.objects.select_related("control_version", "challenger_version").defer(
        "control_version__model_text", "challenger_version__model_text"
    )


def experiment_get(*, experiment_id: int) -> Experiment:
    """Raises ExperimentNotFound."""
    try:
        return experiment_queryset().get(pk=experiment_id)
    except Experiment.DoesNotExist:
        raise ExperimentNotFound(experiment_id) from None


def experiment_running_get() -> Experiment | None:
    return experiment_queryset().filter(status=ExperimentStatus.RUNNING).first()


def experiment_list() -> QuerySet[Experiment]:
    """Every experiment, newest first."""
    return experiment_queryset().order_by("-id")


def experiment_live_get() -> LiveExperiment | None:
    """The running experiment as serving sees it, or None: one row through the partial
    unique index on the running status, cheap enough to poll every couple of seconds."""
    row = (
        Experiment.objects.filter(status=ExperimentStatus.RUNNING)
        .values_list("id", "kind", "traffic", *_VERSION_FIELDS, "control_baseline", "challenger_baseline")
        .first()
    )
    if row is None:
        return None
    pk, kind, traffic, control_version, challenger_version, control_baseline, challenger_baseline = row
    return LiveExperiment(
        id=pk,
        kind=kind,
        traffic=traffic,
        control=RankerRef(control_version, control_baseline),
        challenger=RankerRef(challenger_version, challenger_baseline),
    )


# ---------------------------------------------------------------------------------------
# Exposures
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExposureCounts:
    searches: int  # searches the experiment served (both arms of an A/B)
    challenger_searches: int  # those where the challenger should have taken part
    challenger_errors: int  # ... and did not: the control alone answered
    added_seconds_mean: float | None  # mean time the challenger added, where it took part
    timed_searches: int
    first: datetime | None
    last: datetime | None


def exposure_counts_get(*, experiment_id: int, since: datetime | None = None) -> ExposureCounts:
    """How many searches the experiment served (since ``since``), and what the challenger cost."""
    rows = SearchRequest.objects.filter(experiment_id=experiment_id)
    if since is not None:
        rows = rows.filter(timestamp__gte=since)
    with_challenger = ~Q(arm=Arm.CONTROL)
    counts = rows.aggregate(
        searches=Count("id"),
        challenger_searches=Count("id", filter=with_challenger),
        challenger_errors=Count("id", filter=with_challenger & ~Q(challenger_error="")),
        added=Avg("challenger_seconds"),
        timed=Count("challenger_seconds"),
        first=Min("timestamp"),
        last=Max("timestamp"),
    )
    return ExposureCounts(
        searches=counts["searches"],
        challenger_searches=counts["challenger_searches"],
        challenger_errors=counts["challenger_errors"],
        added_seconds_mean=counts["added"],
        timed_searches=counts["timed"],
        first=counts["first"],
        last=counts["last"],
    )


@dataclass(frozen=True)
class InterleavedSearches:
    """One entry per interleaved search, in the order served. For each kind of event (click,
    add_to_cart, purchase): ``acted[kind]`` whether any product of the list got one (shared
    products too), ``credit[kind]`` an (n, 2) array of the distinct products of the
    control's and of the challenger's team that got one."""

    units: np.ndarray  # the user (session, request) each search belongs to
    queries: np.ndarray  # normalised query
    acted: dict[str, np.ndarray]
    credit: dict[str, np.ndarray]


def interleaved_searches_get(*, experiment_id: int) -> InterleavedSearches:
    """The credited events of every interleaved search of the experiment (set-based SQL)."""
    any_team = "MAX(CASE WHEN c.event_type = %s THEN 1 ELSE 0 END)"
    one_team = "SUM(CASE WHEN c.event_type = %s AND substr(s.teams, c.position, 1) = %s THEN 1 ELSE 0 END)"
    columns = ", ".join(f"{any_team}, {one_team}, {one_team}" for _ in ACTIONS)
    column_params = [
        value
        for kind in ACTIONS
        for value in (kind.value, kind.value, CONTROL_TEAM, kind.value, CHALLENGER_TEAM)
    ]
    sql = f"""
        WITH {_searches_sql(arm_filter="s.arm = %s AND s.teams <> ''")},
        {_credited_sql()}
        SELECT s.unit, s.query_norm, {columns}
        FROM searches s LEFT JOIN credited c ON c.search_id = s.id
        GROUP BY s.id, s.unit, s.query_norm
        ORDER BY s.id
    """
    params: list[str | int] = [
        experiment_id,
        Arm.INTERLEAVED.value,
        *(k.value for k in ACTIONS),
        *column_params,
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    counts = np.array([row[2:] for row in rows], dtype=np.int64).reshape(len(rows), 3 * len(ACTIONS))
    return InterleavedSearches(
        units=np.array([row[0] for row in rows], dtype=object),
        queries=np.array([row[1] for row in rows], dtype=object),
        acted={kind.value: counts[:, 3 * i] > 0 for i, kind in enumerate(ACTIONS)},
        credit={kind.value: counts[:, 3 * i + 1 : 3 * i + 3] for i, kind in enumerate(ACTIONS)},
    )


@dataclass(frozen=True)
class ArmUnits:
    """Per user (session) of one A/B arm: sums over their searches."""

    searches: np.ndarray
    clicked: np.ndarray  # searches with a click
    clicks: np.ndarray  # distinct products clicked, summed over searches
    carted: np.ndarray  # searches with an add-to-cart
    purchased: np.ndarray  # searches with a purchase
    reciprocal_rank: np.ndarray  # sum over searches with a click of 1 / position of the first clicked


def ab_units_get(*, experiment_id: int) -> dict[str, ArmUnits]:
    """``{"control": ArmUnits, "challenger": ArmUnits}`` of an A/B experiment (set-based SQL:
    events to searches, searches to users, in one statement)."""
    sql = f"""
        WITH {_searches_sql(arm_filter="s.arm IN (%s, %s)")},
        {_credited_sql()},
        per_search AS (
            SELECT s.id, s.arm, s.unit,
                   MAX(CASE WHEN c.event_type = %s THEN 1 ELSE 0 END) AS clicked,
                   SUM(CASE WHEN c.event_type = %s THEN 1 ELSE 0 END) AS clicks,
                   MAX(CASE WHEN c.event_type = %s THEN 1 ELSE 0 END) AS carted,
                   MAX(CASE WHEN c.event_type = %s THEN 1 ELSE 0 END) AS purchased,
                   MIN(CASE WHEN c.event_type = %s THEN c.position END) AS first_click
            FROM searches s LEFT JOIN credited c ON c.search_id = s.id
            GROUP BY s.id, s.arm, s.unit
        )
        SELECT arm, unit, COUNT(*), SUM(clicked), SUM(clicks), SUM(carted), SUM(purchased),
               SUM(CASE WHEN first_click IS NULL THEN 0.0 ELSE 1.0 / first_click END)
        FROM per_search GROUP BY arm, unit ORDER BY arm, unit
    """
    click, cart, purchase = (kind.value for kind in ACTIONS)
    params: list[str | int] = [experiment_id, Arm.CONTROL.value, Arm.CHALLENGER.value, click, cart, purchase]
    params += [click, click, cart, purchase, click]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    result = {}
    for arm in (Arm.CONTROL, Arm.CHALLENGER):
        values = np.array([row[2:] for row in rows if row[0] == arm], dtype=np.float64).reshape(-1, 6)
        result[arm.value] = ArmUnits(*(values[:, i] for i in range(6)))
    return result


def shadow_orders_get(*, experiment_id: int) -> Iterator[tuple[Any, Any]]:
    """``(control order, challenger order)`` of every shadow search where both were recorded."""
    return (
        SearchRequest.objects.filter(experiment_id=experiment_id, arm=Arm.SHADOW, shadow_ids__isnull=False)
        .order_by("id")
        .values_list("product_ids", "shadow_ids")
        .iterator(chunk_size=2000)
    )


def query_frequencies_get() -> dict[str, int]:
    """Lists per query before the latest serving feature set's cut-off (the segments' base)."""
    feature_set = feature_set_latest_get(purpose=FeatureSet.Purpose.SERVING)
    if feature_set is None:
        return {}
    return dict(QueryFrequency.objects.filter(feature_set=feature_set).values_list("query_norm", "lists"))


# ---------------------------------------------------------------------------------------
# What the beat task starts next
# ---------------------------------------------------------------------------------------


def promotion_to_watch_get() -> ModelVersionTransition | None:
    """The promotion of the current production version when it should be watched: it
    replaced a version that is not rejected (a rollback could not return to it), it was not a
    rollback itself (the replaced version was demoted by an archive, not a rollback), and no
    experiment has watched it yet."""
    promotion = (
        ModelVersionTransition.objects.filter(
            kind=TransitionKind.PROMOTE,
            model_version__status=ModelStatus.PRODUCTION,
            replaced__isnull=False,
        )
        .exclude(replaced__status=ModelStatus.REJECTED)  # a rollback would pass over it
        .select_related("model_version", "replaced")
        .defer("model_version__model_text", "replaced__model_text")
        .order_by("-id")
        .first()
    )
    if promotion is None or Experiment.objects.filter(watched_transition=promotion).exists():
        return None
    demotion = (
        ModelVersionTransition.objects.filter(model_version_id=promotion.replaced_id, id__lt=promotion.id)
        .order_by("-id")
        .values_list("kind", flat=True)
        .first()
    )
    return promotion if demotion == TransitionKind.ARCHIVE else None


def candidates_awaiting_online_get(*, action: str) -> list[ModelVersion]:
    """Candidates whose offline decision sent them to the online gate (``decision.action`` is
    ``action``) and that no promotion experiment has taken yet, newest first."""
    taken = Experiment.objects.filter(purpose=ExperimentPurpose.PROMOTION, challenger_version__isnull=False)
    return list(
        ModelVersion.objects.filter(status=ModelStatus.CANDIDATE, decision__action=action)
        .exclude(pk__in=taken.values("challenger_version_id"))
        .defer("model_text")
        .order_by("-version")
    )


# ---------------------------------------------------------------------------------------
# SQL pieces
# ---------------------------------------------------------------------------------------


def _searches_sql(*, arm_filter: str) -> str:
    """CTE ``searches``: the experiment's searches (first parameter: its id), with the unit
    randomised (user, else session, else request)."""
    table = SearchRequest._meta.db_table
    return f"""searches AS (
            SELECT s.id, s.request_id, s.arm, s.teams, s.query_norm, s.product_ids,
                   CASE WHEN s.user_id <> '' THEN 'u:' || s.user_id
                        WHEN s.session_id <> '' THEN 's:' || s.session_id
                        ELSE 'r:' || s.request_id END AS unit
            FROM {table} s
            WHERE s.experiment_id = %s AND {arm_filter}
        )"""


def _credited_sql() -> str:
    """CTE ``credited``: (search, event type, 1-based position) of each distinct product of
    the list that got a click, add-to-cart or purchase (three parameters: the types)."""
    events = Event._meta.db_table
    if connection.vendor == "postgresql":
        positions = "CROSS JOIN LATERAL jsonb_array_elements_text(s.product_ids) WITH ORDINALITY AS p(product, position)"
        product, position = "p.product", "p.position::integer"
    else:  # SQLite: json_each gives each element with its 0-based index as "key"
        positions = "JOIN json_each(s.product_ids) AS p"
        product, position = "p.value", "p.key + 1"
    return f"""credited AS (
            SELECT DISTINCT s.id AS search_id, e.event_type, {position} AS position
            FROM searches s
            JOIN {events} e ON e.request_id = s.request_id AND e.event_type IN (%s, %s, %s)
            {positions}
            WHERE {product} = e.product_external_id
        )"""
