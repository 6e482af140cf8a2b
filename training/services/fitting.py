"""Training: LambdaMART on a dataset with the settings' hyperparameters, the registered
candidate with its full report, and the LETOR interchange for checking the trainer against
published results.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.db import transaction

from catalog.progress import Reporter
from ranking.drift.compute import profile_make
from ranking.drift.services import drift_profile_record
from ranking.features.contract import CONTRACT, NAMES
from ranking.models import ModelVersion
from ranking.services import model_version_register
from training.letor.benchmark import letor_train_evaluate
from training.letor.read import letor_read
from training.services.datasets import Dataset, Windows, dataset_build, windows_compute
from training.services.evaluation import ranker_evaluate
from training.trainer import TrainResult, ranker_train


def ranker_fit(*, dataset: Dataset, position_bias: bool) -> TrainResult:
    """Train one ranker on the dataset with the settings' hyperparameters."""
    config = settings.SEARCHOP_TRAINING
    return ranker_train(
        train=dataset.train,
        valid=dataset.valid,
        feature_names=list(NAMES),
        params=dict(settings.SEARCHOP_LIGHTGBM_PARAMS),
        num_boost_round=config["num_boost_round"],
        early_stopping_rounds=config["early_stopping_rounds"],
        propensity=dataset.train_propensity,
        position_bias=position_bias,
        position_bias_regularization=config["position_bias_regularization"],
        validation_every=config["validation_every"],
    )


@dataclass
class TrainedCandidate:
    version: ModelVersion
    report: dict
    dataset: Dataset
    result: TrainResult


def _variant_summary(report: dict) -> dict:
    pick = lambda section: (report.get(section) or {}).get("model")  # noqa: E731
    return {"metrics": pick("metrics"), "debiased": pick("debiased"), "truth": pick("truth")}


def _variants_report(
    dataset: Dataset, results: dict[bool, TrainResult], position_bias: bool, reporter: Reporter
) -> dict:
    """The chosen variant beside the baselines, with the other variant's model metrics."""
    with reporter.step("Evaluating the model and the baselines on the evaluation lists") as info:
        report = ranker_evaluate(dataset=dataset, booster=results[position_bias].booster)
        other = ranker_evaluate(dataset=dataset, booster=results[not position_bias].booster, baselines=False)
        report["variants"] = {
            "position_bias": _variant_summary(report if position_bias else other),
            "no_position_bias": _variant_summary(other if position_bias else report),
            "chosen": "position_bias" if position_bias else "no_position_bias",
        }
        info["debiased_ndcg@10"] = (report["debiased"].get("model") or {}).get("ndcg@10")
    return report


def _training_summary(chosen: TrainResult, position_bias: bool) -> dict:
    return {
        "position_bias": position_bias,
        "best_iteration": chosen.best_iteration,
        "num_trees": chosen.num_trees,
        "seconds": round(chosen.seconds, 3),
        "validation_metric": "debiased_ndcg@10",
        "validation_curve": [
            [round_, round(value, 6)]
            for round_, value in zip(chosen.validation_rounds, chosen.validation_curve, strict=True)
        ],
    }


def model_train(
    *,
    windows: Windows | None = None,
    reporter: Reporter | None = None,
    actor: str = "cli",
    evaluate: bool = True,
    on_register: Callable[[ModelVersion], None] | None = None,
) -> TrainedCandidate:
    """Build the datasets, train the configured ranker and its position-bias counterpart,
    evaluate both beside the baselines and register the configured one as a candidate
    with its full report. Registers exactly one version; decides nothing. ``on_register``
    runs in the registration's transaction (the pipeline links its run there)."""
    reporter = reporter or Reporter.silent()
    windows = windows or windows_compute()
    dataset = dataset_build(windows=windows, reporter=reporter)
    position_bias = settings.SEARCHOP_TRAINING["position_bias"]
    results: dict[bool, TrainResult] = {}
    for variant in (position_bias, not position_bias):
        with reporter.step(
            f"Training LambdaMART {'with' if variant else 'without'} position-bias correction"
        ) as info:
            results[variant] = ranker_fit(dataset=dataset, position_bias=variant)
            info.update(trees=results[variant].num_trees, best_iteration=results[variant].best_iteration)
    chosen = results[position_bias]
    report = _variants_report(dataset, results, position_bias, reporter) if evaluate else {}
    report.update(
        windows=windows.as_dict(),
        counts=dataset.counts,
        feature_sets=dataset.feature_sets,
        training=_training_summary(chosen, position_bias),
    )
    train_window = windows.as_dict()["train"]
    with transaction.atomic():
        version = model_version_register(
            model_text=chosen.booster.model_to_string(),
            feature_contract=CONTRACT.as_dict(),
            hyperparameters={**chosen.params, **settings.SEARCHOP_TRAINING},
            windows=windows.as_dict(),
            counts=dataset.counts,
            data_digest=dataset.digest,
            training_seconds=chosen.seconds,
            report=report,
            feature_importance=dict(
                zip(NAMES, (float(v) for v in chosen.booster.feature_importance("gain")), strict=True)
            ),
            actor=actor,
            reason=f"trained on {dataset.counts['train_lists']:,} lists ({train_window[0][:10]} .. {train_window[1][:10]})",
        )
        drift_profile_record(version=version, profile=drift_profile_make(dataset, chosen))
        if on_register is not None:
            on_register(version)
    report["version"] = version.version
    return TrainedCandidate(version=version, report=report, dataset=dataset, result=chosen)


def drift_profile_make(dataset: Dataset, chosen: TrainResult) -> dict:
    """The reference profile drift monitoring compares served data with: the training and
    validation rows the model learned from, its raw scores on them, their queries, the share of
    evaluation lists whose query they lack, and the share of training lists with a click."""
    features = np.vstack([dataset.train.features, dataset.valid.features])
    labels, lists = dataset.train.labels, dataset.train.list_index
    return profile_make(
        names=NAMES,
        features=features,
        scores=np.asarray(chosen.booster.predict(features)),
        queries=dataset.train_queries,
        eval_queries=dataset.eval_lists.groupby("list_index", sort=True)["query_norm"].first().tolist(),
        ctr=float(np.unique(lists[labels > 0]).size / max(dataset.train.num_lists, 1)),
        features_until=dataset.windows.features_until.isoformat(),
    )


def letor_train(*, train_path: str, valid_path: str, rounds: int, reporter: Reporter | None = None) -> dict:
    """Train our LambdaMART (the settings' hyperparameters) on LETOR / SVMlight files and
    report NDCG@1/3/5/10 on the validation file, so the trainer can be checked against
    published results (MSLR-WEB10K) and other tools. Registers nothing."""
    reporter = reporter or Reporter.silent()
    with reporter.step(f"Reading {train_path}") as info:
        train = letor_read(train_path)
        info.update(rows=train.num_rows, lists=train.num_lists, features=train.num_features)
    with reporter.step(f"Reading {valid_path}") as info:
        valid = letor_read(valid_path)
        info.update(rows=valid.num_rows, lists=valid.num_lists)
    with reporter.step(f"Training LambdaMART ({rounds} rounds) and evaluating") as info:
        result = letor_train_evaluate(
            train=train, valid=valid, params=dict(settings.SEARCHOP_LIGHTGBM_PARAMS), num_boost_round=rounds
        )
        info["ndcg@10"] = result["ndcg@10"]
    return result
