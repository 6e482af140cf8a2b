"""Evaluation of a ranker on the evaluation lists beside every other ranker
(``ranking.rankers``): the report the decision and the control room read.
"""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
from django.conf import settings

from catalog.progress import Reporter
from ranking.errors import RegistryError
from ranking.features.contract import INDEX
from ranking.model_loading import booster_load
from ranking.rankers import RANKERS
from ranking.reports import json_safe
from ranking.selectors import model_version_get, model_version_production_get
from training import evaluation, metrics
from training.services.datasets import Dataset, dataset_build, windows_compute

PRODUCTION_UNAVAILABLE = "production model unavailable"  # the note the decision reads


def _scores(booster: lgb.Booster, features: np.ndarray) -> np.ndarray:
    return np.asarray(booster.predict(features, num_threads=1), dtype=np.float64)


def production_scores(
    dataset: Dataset, *, exclude_version: int | None
) -> tuple[np.ndarray | None, int | None, str]:
    """Production's scores on the evaluation lists, its version and a note; no scores when
    there is no production model (or it is the one evaluated) or it cannot be loaded safely."""
    production = model_version_production_get()
    if production is None or production.version == exclude_version:
        return None, None, "no production model"
    try:
        booster = booster_load(model_version=production)
    except RegistryError as error:
        return None, production.version, f"{PRODUCTION_UNAVAILABLE}: {error}"
    return _scores(booster, dataset.eval_features), production.version, "evaluated"


def _baseline_scores(dataset: Dataset) -> dict[str, np.ndarray | None]:
    """Every ranker that needs no model: by its feature, the logged order, random, the truth."""
    data, features = dataset.eval_data, dataset.eval_features
    scores: dict[str, np.ndarray | None] = {
        r.name: features[:, INDEX[r.feature]] for r in RANKERS if r.feature is not None
    }
    scores["logging"] = -data.positions.astype(np.float64)
    scores["random"] = metrics.random_scores(data.list_index, seed=settings.SEARCHOP_EVALUATION["seed"])
    scores["oracle"] = None if data.truth is None else np.nan_to_num(data.truth, nan=0.0)
    return scores


def ranker_evaluate(
    *,
    dataset: Dataset,
    booster: lgb.Booster,
    exclude_production_version: int | None = None,
    baselines: bool = True,
) -> dict:
    """The report body: every ranker on the evaluation lists, intervals, segments (or the
    model alone, without ``baselines``)."""
    config = settings.SEARCHOP_EVALUATION
    scores: dict[str, np.ndarray | None] = {"model": _scores(booster, dataset.eval_features)}
    if baselines:
        production, production_version, production_note = production_scores(
            dataset, exclude_version=exclude_production_version
        )
        scores.update(production=production, **_baseline_scores(dataset))
    report = evaluation.evaluation_report(
        data=dataset.eval_data,
        scores=scores,
        propensity=dataset.eval_propensity,
        seed=config["seed"],
        n_resamples=config["bootstrap_resamples"],
    )
    if baselines:
        report["production_version"] = production_version
        report["production_note"] = production_note
        report["propensity"] = {
            "training": dataset.train_propensity.as_dict(),
            "evaluation": dataset.eval_propensity.as_dict(),
        }
    return json_safe(report)


def model_evaluate(*, version: int, reporter: Reporter | None = None) -> dict:
    """Evaluate a registered version on the current evaluation window beside the baselines
    (and production, when that is another version). Changes nothing. Raises RegistryError
    for a version that cannot be loaded safely."""
    reporter = reporter or Reporter.silent()
    booster = booster_load(model_version=model_version_get(version=version))
    windows = windows_compute()
    dataset = dataset_build(windows=windows, reporter=reporter)
    with reporter.step(f"Evaluating v{version} and the baselines"):
        report = ranker_evaluate(dataset=dataset, booster=booster, exclude_production_version=version)
    report.update({"version": version, "windows": windows.as_dict(), "counts": dataset.counts})
    return report
