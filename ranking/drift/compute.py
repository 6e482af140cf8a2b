"""The reference profile of a model's training data and the comparison of served data with
it (numpy only, no Django).

A profile (``profile_make``) keeps, per feature, the decile bins of the training matrix
(``psi.column_profile``); the bins of the model's raw scores on it; the training queries; the
share of evaluation searches whose query was not among them (the shop's natural rate of new
queries); the training CTR and the features' cut-off. ``drift_compute`` compares served rows
with it: PSI per feature and of the scores, the share of served searches with a query not
in the profile (flagged when it exceeds the natural rate by ``unseen_increase``), and the CTR
of the last day against its trailing average (flagged when it moved by more than
``ctr_relative_change`` of it).

Training and serving features read the same length of history before their cut-offs
(``SEARCHOP_WINDOWS["history_days"]``), so on unchanged traffic counts, ages and smoothed
rates have the same distribution at both: served values are compared as they are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ranking.drift.psi import column_profile, column_psi


@dataclass(frozen=True)
class Thresholds:
    psi: float = 0.2
    score_psi: float = 0.2
    unseen_increase: float = 0.1
    ctr_relative_change: float = 0.2
    features: dict[str, float] | None = None  # per-feature PSI thresholds that differ from ``psi``
    watched: tuple[str, ...] = ()  # features whose PSI is reported but never flagged

    def of(self, feature: str) -> float | None:
        if feature in self.watched:
            return None
        return (self.features or {}).get(feature, self.psi)


def profile_make(
    *,
    names: Sequence[str],
    features: np.ndarray,
    scores: np.ndarray,
    queries: Sequence[str],
    eval_queries: Sequence[str],
    ctr: float | None,
    features_until: str,
) -> dict[str, Any]:
    """The reference profile of a training matrix (rows x ``names``) and its scores."""
    known = set(queries)
    unseen = [q not in known for q in eval_queries]
    return {
        "rows": int(features.shape[0]),
        "features": {name: column_profile(features[:, j]) for j, name in enumerate(names)},
        "score": column_profile(scores),
        "queries": sorted(known),
        "unseen_share": float(np.mean(unseen)) if unseen else 0.0,
        "ctr": ctr,
        "features_until": features_until,
    }


@dataclass(frozen=True)
class Served:
    """Served rows to compare: the feature matrix, the model's raw scores of it (None when
    there was no model to score with) and one query per sampled search."""

    features: np.ndarray
    names: Sequence[str]
    scores: np.ndarray | None
    queries: Sequence[str]


def _ctr_check(ctr_day: float | None, ctr_trailing: float | None, limit: float) -> dict[str, Any]:
    change = None
    if ctr_day is not None and ctr_trailing:
        change = (ctr_day - ctr_trailing) / ctr_trailing
    return {
        "last_day": ctr_day,
        "trailing": ctr_trailing,
        "relative_change": change,
        "threshold": limit,
        "flagged": change is not None and abs(change) > limit,
    }


def drift_compute(
    profile: dict[str, Any],
    served: Served,
    *,
    thresholds: Thresholds,
    ctr_day: float | None = None,
    ctr_trailing: float | None = None,
) -> dict[str, Any]:
    """Every check with its value, threshold and ``flagged``; ``flagged`` on top when any is."""
    features = []
    for j, name in enumerate(served.names):
        reference = profile["features"].get(name)
        column = served.features[:, j]
        value = column_psi(reference, column) if reference is not None and len(column) else None
        limit = thresholds.of(name)
        features.append(
            {
                "feature": name,
                "psi": value,
                "threshold": limit,
                "flagged": value is not None and limit is not None and value > limit,
            }
        )
    score_psi = (
        column_psi(profile["score"], served.scores)
        if served.scores is not None and len(served.scores)
        else None
    )
    known = set(profile["queries"])
    unseen = float(np.mean([q not in known for q in served.queries])) if len(served.queries) else None
    unseen_limit = profile["unseen_share"] + thresholds.unseen_increase
    checks = {
        "score": {
            "psi": score_psi,
            "threshold": thresholds.score_psi,
            "flagged": score_psi is not None and score_psi > thresholds.score_psi,
        },
        "unseen_queries": {
            "share": unseen,
            "training_share": profile["unseen_share"],
            "threshold": unseen_limit,
            "flagged": unseen is not None and unseen > unseen_limit,
        },
        "ctr": _ctr_check(ctr_day, ctr_trailing, thresholds.ctr_relative_change),
    }
    flagged = any(f["flagged"] for f in features) or any(c["flagged"] for c in checks.values())
    return {
        "rows": int(served.features.shape[0]),
        "searches": len(served.queries),
        "features": features,
        **checks,
        "flagged": flagged,
    }
