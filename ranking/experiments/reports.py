"""An experiment's report: its counts so far and the statistics of its kind, as plain JSON.

The same report is shown by ``experiment_report``, the admin's pages, stored as the
``result`` of a decision, and read by the decision rules (``ranking.experiments.rules``).

- every kind: searches, the challenger's errors and error rate, the mean time it added;
- ``interleaving``: for clicks (and apart, add-to-carts and purchases) wins, losses, ties,
  searches with one, the preference ``(wins − losses) / searches with one``, its 95% bootstrap
  interval over users, the sign test p-value (fixed horizon) and the always-valid p-value the
  decisions use; clicks also by query segment (head, torso, tail);
- ``ab``: per arm searches, users, CTR (searches with a click), clicks per search, add-to-cart
  and purchase rate (searches with one), MRR of the first click; each difference with its
  95% interval (the user as the unit), z-test and always-valid p-values;
- ``shadow``: overlap@10, Kendall tau, rank-biased overlap, share of searches whose top 3 differ.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from django.utils import timezone

from ranking.experiments import comparisons
from ranking.experiments import statistics as st
from ranking.experiments.arms import Arm
from ranking.experiments.selectors import (
    ArmUnits,
    InterleavedSearches,
    ab_units_get,
    exposure_counts_get,
    interleaved_searches_get,
    query_frequencies_get,
    shadow_orders_get,
)
from ranking.models import Experiment, ExperimentKind
from ranking.reports import json_safe
from ranking.segments import SEGMENTS, query_segments

# Interleaving: what credit is counted for, in the report's order.
CREDITED = ("click", "add_to_cart", "purchase")
# A/B: each rate as (numerator, denominator) of ArmUnits; CTR and purchase rate are guarded.
RATES: dict[str, tuple[str, str]] = {
    "ctr": ("clicked", "searches"),
    "clicks_per_search": ("clicks", "searches"),
    "add_to_cart_rate": ("carted", "searches"),
    "purchase_rate": ("purchased", "searches"),
    "mrr": ("reciprocal_rank", "clicked"),
}


def experiment_report_build(experiment: Experiment, *, bootstrap_resamples: int = 1000) -> dict[str, Any]:
    """The report of ``experiment`` from its searches and events so far (JSON-safe)."""
    counts = exposure_counts_get(experiment_id=experiment.pk)
    started = experiment.started_at
    ended = experiment.stopped_at or timezone.now()
    report: dict[str, Any] = {
        "id": experiment.pk,
        "kind": experiment.kind,
        "purpose": experiment.purpose,
        "status": experiment.status,
        "control": experiment.control_label,
        "challenger": experiment.challenger_label,
        "traffic": experiment.traffic,
        "started_at": started.isoformat() if started else None,
        "days": (ended - started).total_seconds() / 86400 if started else 0.0,
        "searches": counts.searches,
        "challenger_searches": counts.challenger_searches,
        "challenger_errors": counts.challenger_errors,
        "error_rate": counts.challenger_errors / counts.challenger_searches
        if counts.challenger_searches
        else None,
        "added_ms_mean": counts.added_seconds_mean * 1000 if counts.added_seconds_mean is not None else None,
        "timed_searches": counts.timed_searches,
    }
    if experiment.kind == ExperimentKind.INTERLEAVING:
        report["interleaving"] = interleaving_section(
            interleaved_searches_get(experiment_id=experiment.pk),
            segments=query_segments(query_frequencies_get()),
            n_resamples=bootstrap_resamples,
        )
    elif experiment.kind == ExperimentKind.AB:
        report["ab"] = ab_section(ab_units_get(experiment_id=experiment.pk))
    else:
        report["shadow"] = comparisons.orders_compare(
            shadow_orders_get(experiment_id=experiment.pk)
        )._asdict()
    return json_safe(report)


def interleaving_section(
    searches: InterleavedSearches, *, segments: dict, n_resamples: int = 1000
) -> dict[str, Any]:
    """Per credited kind, the preference and its tests; clicks again per query segment."""
    section: dict[str, Any] = {"searches": len(searches.units)}
    for kind in CREDITED:
        credit = searches.credit[kind]
        section[kind] = preference_entry(
            st.search_outcomes(credit[:, 0], credit[:, 1]),
            searches.acted[kind],
            searches.units,
            n_resamples=n_resamples,
        )
    segment_of = np.array([segments.get(q, "tail") for q in searches.queries], dtype=object)
    outcomes = st.search_outcomes(searches.credit["click"][:, 0], searches.credit["click"][:, 1])
    section["segments"] = {}
    for name in SEGMENTS:
        rows = segment_of == name
        section["segments"][name] = preference_entry(
            outcomes[rows], searches.acted["click"][rows], searches.units[rows], n_resamples=n_resamples
        )
    return section


def preference_entry(
    outcomes: np.ndarray, acted: np.ndarray, units: np.ndarray, *, n_resamples: int = 1000
) -> dict[str, Any]:
    """Wins, losses, ties, the preference with its interval (over users) and both p-values."""
    summary = st.preference_summarise(outcomes, acted)
    interval = st.preference_interval(outcomes[acted], clusters=units[acted], n_resamples=n_resamples)
    return {
        **summary._asdict(),
        "interval": [interval.low, interval.high],
        "sign_test_p": st.sign_test_p(summary.wins, summary.losses),
        "sequential_p": st.sign_sequential_p(summary.wins, summary.losses),
    }


def ab_section(arms: dict[str, ArmUnits]) -> dict[str, Any]:
    """Per arm its size and rates; per rate the challenger − control difference."""
    section: dict[str, Any] = {"arms": {}, "differences": {}}
    estimates: dict[str, dict[str, st.RatioEstimate]] = {}
    for arm, units in arms.items():
        estimates[arm] = {
            rate: st.ratio_estimate(getattr(units, num), getattr(units, den))
            for rate, (num, den) in RATES.items()
        }
        section["arms"][arm] = {
            "searches": int(units.searches.sum()),
            "users": int(units.searches.size),
            **{rate: _finite(estimate.value) for rate, estimate in estimates[arm].items()},
        }
    for rate in RATES:
        difference = st.ratio_difference(estimates[Arm.CONTROL][rate], estimates[Arm.CHALLENGER][rate])
        section["differences"][rate] = {
            "difference": difference.difference,
            "interval": [difference.low, difference.high],
            "p_value": difference.p_value,
            "sequential_p": difference.sequential_p,
        }
    return section


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None
