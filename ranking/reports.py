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

from ranking.rankers import COMPARED, RANKERS
from ranking.segments import SEGMENTS

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


# ---------------------------------------------------------------------------------------
# The report's sections, as rows for people (the version page); the terminal has report_text.
# ---------------------------------------------------------------------------------------

SEGMENT_RANKERS = ("model", "bm25", "logging")  # the rankers the segment table shows
VARIANTS = ("position_bias", "no_position_bias")


@dataclass(frozen=True)
class RankerRow:
    name: str
    role: str
    description: str
    applies: bool  # False: the ranker did not apply to these lists (no production, no truth)
    ndcg: float | None
    mrr: float | None
    ctr: float | None
    debiased: float | None
    truth: float | None
    interval_debiased: tuple[float, float] | None  # model − this ranker, paired 95%
    interval_truth: tuple[float, float] | None


def report_ranker_rows(report: Any) -> list[RankerRow]:
    """Every ranker of ``ranking.rankers`` with its metrics and the model's paired interval
    against it (debiased and true NDCG@10), in the declared order."""
    rows = []
    for ranker in RANKERS:
        name = ranker.name
        applies = (
            bool(_dict(_dict(report).get("metrics")).get(name))
            or report_value(report, "truth", name, "ndcg@10") is not None
        )
        rows.append(
            RankerRow(
                name=name,
                role=str(ranker.role),
                description=ranker.description,
                applies=applies,
                ndcg=report_value(report, "metrics", name, "ndcg@10"),
                mrr=report_value(report, "metrics", name, "mrr"),
                ctr=report_value(report, "metrics", name, "ctr@10"),
                debiased=report_value(report, "debiased", name, "ndcg@10"),
                truth=report_value(report, "truth", name, "ndcg@10"),
                interval_debiased=report_interval(report, f"model-{name}", "debiased_ndcg@10"),
                interval_truth=report_interval(report, f"model-{name}", "truth_ndcg@10"),
            )
        )
    return rows


@dataclass(frozen=True)
class SegmentRow:
    segment: str
    lists: int | None
    lists_with_click: int | None
    debiased: dict[str, float | None]  # per SEGMENT_RANKERS
    truth: dict[str, float | None]


def report_segment_rows(report: Any) -> list[SegmentRow]:
    """Head, torso and tail: lists, and the debiased and true NDCG@10 of the model, BM25 and
    the logged order; empty when the report has no segments."""
    segments = _dict(_dict(report).get("segments"))
    if not segments:
        return []
    rows = []
    for segment in SEGMENTS:
        entry = _dict(segments.get(segment))
        rows.append(
            SegmentRow(
                segment=segment,
                lists=_count(entry.get("lists")),
                lists_with_click=_count(entry.get("lists_with_click")),
                debiased={n: report_value(entry, "metrics", n, "debiased_ndcg@10") for n in SEGMENT_RANKERS},
                truth={n: report_value(entry, "metrics", n, "truth_ndcg@10") for n in SEGMENT_RANKERS},
            )
        )
    return rows


@dataclass(frozen=True)
class VariantRow:
    name: str  # "position_bias" | "no_position_bias"
    chosen: bool
    ndcg: float | None
    debiased: float | None
    truth: float | None


def report_variant_rows(report: Any) -> list[VariantRow]:
    """The two trained variants (with and without position-bias correction); empty when the
    report has none."""
    variants = _dict(_dict(report).get("variants"))
    if not variants:
        return []
    return [
        VariantRow(
            name=name,
            chosen=variants.get("chosen") == name,
            ndcg=report_value(variants, name, "metrics", "ndcg@10"),
            debiased=report_value(variants, name, "debiased", "ndcg@10"),
            truth=report_value(variants, name, "truth", "ndcg@10"),
        )
        for name in VARIANTS
    ]


def report_gates(report: Any, decision: Any = None) -> list[tuple[str, bool]]:
    """The decision's gates in the order it checked them, each passed or not."""
    decision = _dict(decision) or _dict(_dict(report).get("decision"))
    return [(str(name), bool(passed)) for name, passed in _dict(decision.get("gates")).items()]


def report_feature_importance(importance: Any) -> list[tuple[str, float]]:
    """(feature, gain) largest first, ties by name; values that are not numbers are left out."""
    numbers = [(str(name), _number(value)) for name, value in _dict(importance).items()]
    return sorted(
        ((name, value) for name, value in numbers if value is not None), key=lambda item: (-item[1], item[0])
    )


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
