"""Offline evaluation of rankers on the evaluation lists, beside the baselines.

Pure numpy/pandas. Every ranker reorders the same logged lists; the metrics are those of
``training.metrics``, the intervals those of ``training.statistics``:

* click metrics over the lists with at least one click: NDCG@10 (gain 2^label - 1, log2
  discount), MRR (first click), CTR@10 (the share of the list's clicks in the top 10);
* ``debiased`` NDCG@10: clicks weighted by 1 / examination propensity of their logged
  position, pooled over lists; the propensities are a power law fitted on randomised lists;
* ``truth`` NDCG@10 against the true relevance, where the data has it (synthetic data);
* head / torso / tail segments, and a paired bootstrap 95% interval for the difference
  between the model and every other ranker.

Ties in a ranker's scores are broken at random (seeded), except for ``logging`` whose
order is the logged one: otherwise a ranker with many ties (popularity) would inherit
the logged order through a stable sort. Every ranker's ties are broken by the same seeded
order, so two rankers with the same scores (a version and production, the same model) get
the same ranks and the same figures.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ranking.rankers import RANKER_NAMES
from ranking.segments import SEGMENTS
from ranking.segments import query_segments as query_segments  # the rule lives in ranking
from training import metrics, statistics
from training.propensity import PropensityModel

K = 10


@dataclass
class EvaluationData:
    """The evaluation lists: one row per shown product, rows of a list together."""

    list_index: np.ndarray
    labels: np.ndarray
    positions: np.ndarray
    truth: np.ndarray | None  # true relevance per row, NaN where unknown; None without truth
    segments: np.ndarray  # per list: "head" | "torso" | "tail"

    @property
    def num_lists(self) -> int:
        return int(self.list_index.max()) + 1 if len(self.list_index) else 0


def ranks_with_random_ties(list_index: np.ndarray, scores: np.ndarray, seed: int) -> np.ndarray:
    """Ranks by descending score, ties in a random (seeded) order instead of the row order."""
    permutation = np.random.default_rng(seed).permutation(len(scores))
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[permutation] = metrics.ranks_from_scores(list_index[permutation], scores[permutation])
    return ranks


@dataclass
class RankerResult:
    ndcg: np.ndarray
    mrr: np.ndarray
    ctr: np.ndarray
    debiased: statistics.PooledParts
    truth: np.ndarray | None


def _ranker_result(
    data: EvaluationData, ranks: np.ndarray, propensity: PropensityModel, clicked_lists: np.ndarray
) -> RankerResult:
    n = data.num_lists
    idx = data.list_index
    ndcg = metrics.ndcg_at_k(idx, ranks, data.labels, k=K, n_lists=n)
    mrr = metrics.mrr(idx, ranks, data.labels, n_lists=n)
    ctr = metrics.ctr_at_k(idx, ranks, data.labels, k=K, n_lists=n)
    for values in (ndcg, mrr, ctr):
        values[~clicked_lists] = np.nan
    debiased = metrics.debiased_ndcg_parts(
        idx, ranks, data.labels, logged_positions=data.positions, propensity=propensity, k=K, n_lists=n
    )
    truth = None
    if data.truth is not None:
        known = np.isfinite(data.truth)
        truth = metrics.ndcg_at_k(
            idx[known], ranks[known], data.truth[known].astype(np.int64), k=K, n_lists=n
        )
    return RankerResult(ndcg=ndcg, mrr=mrr, ctr=ctr, debiased=debiased, truth=truth)


def _mean(values: np.ndarray, mask: np.ndarray | None = None) -> float | None:
    selected = values if mask is None else values[mask]
    finite = selected[np.isfinite(selected)]
    return float(finite.mean()) if finite.size else None


def _pooled(parts: statistics.PooledParts, mask: np.ndarray | None = None) -> float | None:
    num, den = parts
    if mask is not None:
        num, den = num[mask], den[mask]
    value = statistics.pooled_ratio(num, den)
    return None if math.isnan(value) else value


def _interval(interval: statistics.Interval) -> list[float] | None:
    if math.isnan(interval.low) or math.isnan(interval.high):
        return None
    return [round(interval.low, 6), round(interval.high, 6)]


def evaluation_report(
    *,
    data: EvaluationData,
    scores: Mapping[str, np.ndarray | None],
    propensity: PropensityModel,
    seed: int = 0,
    n_resamples: int = 1000,
) -> dict:
    """Metrics of every ranker (``None`` for one that does not apply), the model's paired
    intervals against each of the others, and the per-segment breakdown."""
    n = data.num_lists
    clicked_lists = np.zeros(n, dtype=bool)
    clicked_lists[np.unique(data.list_index[data.labels > 0])] = True
    results: dict[str, RankerResult | None] = {}
    for name in RANKER_NAMES:
        ranker_scores = scores.get(name)
        if ranker_scores is None or n == 0:
            results[name] = None
            continue
        if name == "logging":
            ranks = data.positions.astype(np.int64)
        else:
            ranks = ranks_with_random_ties(data.list_index, np.asarray(ranker_scores, dtype=np.float64), seed)
        results[name] = _ranker_result(data, ranks, propensity, clicked_lists)

    report: dict = {"metrics": {}, "debiased": {}, "truth": {}, "intervals": {}, "segments": {}}
    for name, result in results.items():
        if result is None:
            report["metrics"][name] = report["debiased"][name] = report["truth"][name] = None
            continue
        report["metrics"][name] = {
            "ndcg@10": _mean(result.ndcg),
            "mrr": _mean(result.mrr),
            "ctr@10": _mean(result.ctr),
        }
        report["debiased"][name] = {"ndcg@10": _pooled(result.debiased)}
        report["truth"][name] = None if result.truth is None else {"ndcg@10": _mean(result.truth)}

    model = results.get("model")
    if model is not None:
        for name, other in results.items():
            if name == "model" or other is None:
                continue
            report["intervals"][f"model-{name}"] = _intervals(
                model, other, seed=seed, n_resamples=n_resamples
            )

    for segment in SEGMENTS:
        in_segment = data.segments == segment
        entry: dict = {
            "lists": int(in_segment.sum()),
            "lists_with_click": int((in_segment & clicked_lists).sum()),
            "metrics": {},
        }
        for name, result in results.items():
            if result is None:
                entry["metrics"][name] = None
                continue
            entry["metrics"][name] = {
                "ndcg@10": _mean(result.ndcg, in_segment),
                "debiased_ndcg@10": _pooled(result.debiased, in_segment),
                "truth_ndcg@10": None if result.truth is None else _mean(result.truth, in_segment),
            }
        report["segments"][segment] = entry
    return report


def _intervals(model: RankerResult, other: RankerResult, *, seed: int, n_resamples: int) -> dict:
    kwargs = {"seed": seed, "n_resamples": n_resamples}
    out = {
        "ndcg@10": _interval(statistics.paired_bootstrap_interval(model.ndcg, other.ndcg, **kwargs)),
        "mrr": _interval(statistics.paired_bootstrap_interval(model.mrr, other.mrr, **kwargs)),
        "ctr@10": _interval(statistics.paired_bootstrap_interval(model.ctr, other.ctr, **kwargs)),
        "debiased_ndcg@10": _interval(
            statistics.pooled_ratio_bootstrap_interval(*model.debiased, *other.debiased, **kwargs)
        ),
    }
    if model.truth is not None and other.truth is not None:
        out["truth_ndcg@10"] = _interval(
            statistics.paired_bootstrap_interval(model.truth, other.truth, **kwargs)
        )
    return out
