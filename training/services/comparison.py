"""Two model versions scored on the same held-out lists, with the paired interval of each
metric's difference: what the control room's compare page shows beside the two reports.

Each version's own report was computed on its own evaluation window, so the two reports'
numbers are not on the same lists and keep no per-list values to pair. Here both versions
score the lists of the *current* evaluation window [T2, T3): every version registered so far
was trained on lists before its own T2, which is at or before the current one, so these
lists are held out for both. The metrics and the paired bootstrap are the evaluation's own
(``training.evaluation``), the result is cached by the two model texts and the window.
"""

from __future__ import annotations

import time

import numpy as np
from django.conf import settings
from django.core.cache import cache

from catalog.progress import Reporter
from ranking.comparison import ComparisonUnavailable
from ranking.model_loading import booster_load
from ranking.reports import json_safe
from ranking.selectors import model_version_get
from training import evaluation
from training.errors import PipelineError
from training.services.datasets import evaluation_set_build, windows_compute

COMPARISON_CACHE_SECONDS = 7 * 24 * 3600
# (metric, the report section and key it is read from, its interval's key)
METRICS = (
    ("ndcg@10", "metrics", "ndcg@10", "ndcg@10"),
    ("mrr", "metrics", "mrr", "mrr"),
    ("ctr@10", "metrics", "ctr@10", "ctr@10"),
    ("debiased ndcg@10", "debiased", "ndcg@10", "debiased_ndcg@10"),
    ("true ndcg@10", "truth", "ndcg@10", "truth_ndcg@10"),
)


def _cache_key(sha_a: str, sha_b: str, window: list[str], resamples: int) -> str:
    return f"model-versions-compare:{sha_a}:{sha_b}:{window[0]}:{window[1]}:{resamples}"


def model_versions_compare(
    *, a: int, b: int, compute: bool = True, build_features: bool = False, reporter: Reporter | None = None
) -> dict | None:
    """Versions ``a`` and ``b`` scored on the same lists: each metric for both and the 95%
    paired bootstrap interval of ``a − b``; cached. Without ``compute``, only what the cache
    holds (None if nothing: two indexed reads and a look-up). Changes no row, except that with
    ``build_features`` it builds the window's evaluation feature set when the pipeline has not
    (minutes on a large shop: the command may, a page does not). Raises RegistryError for a
    version that cannot be loaded safely, ComparisonUnavailable without lists or features."""
    reporter = reporter or Reporter.silent()
    started = time.perf_counter()
    version_a, version_b = model_version_get(version=a), model_version_get(version=b)
    try:
        windows = windows_compute()
    except PipelineError as error:
        raise ComparisonUnavailable(str(error)) from error
    config = settings.SEARCHOP_EVALUATION
    key = _cache_key(
        version_a.model_sha256,
        version_b.model_sha256,
        windows.as_dict()["eval"],
        config["bootstrap_resamples"],
    )
    cached = cache.get(key)
    if cached is not None or not compute:
        return cached
    booster_a, booster_b = booster_load(model_version=version_a), booster_load(model_version=version_b)
    try:
        lists = evaluation_set_build(windows=windows, build_features=build_features, reporter=reporter)
    except PipelineError as error:
        raise ComparisonUnavailable(str(error)) from error
    with reporter.step(f"Scoring v{a} and v{b} on the same lists"):
        scores = {
            "model": np.asarray(booster_a.predict(lists.features, num_threads=1), dtype=np.float64),
            "production": np.asarray(booster_b.predict(lists.features, num_threads=1), dtype=np.float64),
        }
        # The report pairs "model" with every other ranker: here a with b, nothing else.
        report = evaluation.evaluation_report(
            data=lists.data,
            scores=scores,
            propensity=lists.propensity,
            seed=config["seed"],
            n_resamples=config["bootstrap_resamples"],
        )
    result = json_safe(
        {
            "a": a,
            "b": b,
            "windows": {
                "eval": windows.as_dict()["eval"],
                "features_until": windows.as_dict()["eval_features_until"],
            },
            "lists": lists.data.num_lists,
            "lists_with_click": int(np.unique(lists.data.list_index[lists.data.labels > 0]).size),
            "bootstrap_resamples": config["bootstrap_resamples"],
            "feature_set": lists.feature_set,
            "metrics": _metric_rows(report),
            "seconds": round(time.perf_counter() - started, 2),
        }
    )
    cache.set(key, result, COMPARISON_CACHE_SECONDS)
    return result


def _metric_rows(report: dict) -> list[dict]:
    """Each metric for a (the report's "model") and b ("production"), with the paired interval."""
    intervals = report["intervals"].get("model-production", {})
    rows = []
    for label, section, metric, interval_key in METRICS:
        value_a, value_b = (report[section].get(side) or {} for side in ("model", "production"))
        rows.append(
            {
                "metric": label,
                "a": value_a.get(metric),
                "b": value_b.get(metric),
                "interval": intervals.get(interval_key),
            }
        )
    return rows
