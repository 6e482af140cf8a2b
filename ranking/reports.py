"""Evaluation reports: their layout read in one place, and values made storable as JSON.

A report (``training.services.ranker_evaluate``) holds, per section (``metrics``,
``debiased``, ``truth``), each ranker's metrics; ``intervals`` the paired intervals of the
model against every other ranker; ``segments`` the head / torso / tail breakdown; and the
``decision``. Reports come from the evaluation code and may lack any key or hold nulls:
everything here returns None for what it cannot read, never raises. The decision, the
control room and the commands all read reports through these functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ranking.rankers import COMPARED

KEY_METRICS = ("ndcg@10", "mrr", "ctr@10")


def json_safe(value: Any) -> Any:
    """A value as plain JSON: numpy numbers and arrays to Python, NaN and infinities to None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.generic | np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def report_value(report: Any, *keys: str) -> float | None:
    """The number at ``keys`` (``"debiased", "model", "ndcg@10"``), or None."""
    value: Any = report
    for key in keys:
        value = _dict(value).get(key)
    return _number(value)


def report_interval(report: Any, pair: str, metric: str) -> tuple[float, float] | None:
    """The paired 95% interval of ``pair`` ("model-bm25") on ``metric``, or None."""
    value = _dict(_dict(_dict(report).get("intervals")).get(pair)).get(metric)
    if isinstance(value, list | tuple) and len(value) == 2:
        low, high = _number(value[0]), _number(value[1])
        if low is not None and high is not None:
            return (low, high)
    return None


@dataclass(frozen=True)
class KeyMetrics:
    model: dict[str, float | None] = field(default_factory=dict)
    baselines: dict[str, float | None] = field(default_factory=dict)  # ndcg@10 of every other ranker
    debiased_model: float | None = None
    debiased_logging: float | None = None
    truth_model: float | None = None
    truth_bm25: float | None = None
    interval_model_bm25: tuple[float, float] | None = None
    decision_action: str = ""
    decision_reason: str = ""


def report_key_metrics(report: Any, decision: Any = None) -> KeyMetrics:
    """The numbers the control room shows for one report (ndcg@10, mrr, ctr@10 of the model;
    ndcg@10 of every other ranker; debiased and true ndcg@10; the model-bm25 interval)."""
    decision = _dict(decision) or _dict(_dict(report).get("decision"))
    return KeyMetrics(
        model={name: report_value(report, "metrics", "model", name) for name in KEY_METRICS},
        baselines={name: report_value(report, "metrics", name, "ndcg@10") for name in COMPARED},
        debiased_model=report_value(report, "debiased", "model", "ndcg@10"),
        debiased_logging=report_value(report, "debiased", "logging", "ndcg@10"),
        truth_model=report_value(report, "truth", "model", "ndcg@10"),
        truth_bm25=report_value(report, "truth", "bm25", "ndcg@10"),
        interval_model_bm25=report_interval(report, "model-bm25", "ndcg@10"),
        decision_action=str(decision.get("action") or ""),
        decision_reason=str(decision.get("reason") or ""),
    )


def _dict(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
