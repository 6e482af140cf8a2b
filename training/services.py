"""The training pipeline: features -> datasets -> train -> evaluate -> decide.

Every step is a service the commands, the Celery task and the admin call alike:
``windows_compute``, ``dataset_build``, ``ranker_fit``, ``ranker_evaluate``,
``model_train`` (registers a candidate), ``model_evaluate`` and ``pipeline_run`` (all of it,
then the decision). Honesty rules, enforced by construction:

* training features come only from events before T1, training lists and their labels only
  from events in [T1, T2), so nothing at or after T2 can reach the model;
* evaluation lists are those shown in [T2, T3), scored with features rebuilt from events
  before T2: what production would have had on the day;
* every metric of the model stands beside the same metric of every baseline.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.progress import Reporter
from catalog.selectors import event_latest_timestamp_get
from ranking import contract
from ranking.matrix import FeatureSnapshot, matrix_build
from ranking.models import FeatureSet, ModelVersion
from ranking.selectors import feature_snapshot_get, model_version_get, model_version_production_get
from ranking.services import (
    features_build,
    model_version_promote,
    model_version_register,
    model_version_reject,
)
from training import evaluation, metrics
from training.decision import PROMOTED, Decision, Policy, decision_make
from training.models import PipelineRun
from training.propensity import PropensityModel, propensity_fit
from training.selectors import lists_get, query_lists_get, randomised_lists_get, truth_get
from training.trainer import RankingSet, TrainResult, ranker_train


class PipelineError(Exception):
    """The pipeline cannot run as asked; the message says why."""


class PipelineAlreadyRunning(PipelineError):
    pass


# ---------------------------------------------------------------------------------------
# Windows
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Windows:
    features_until: datetime  # T1
    train_end: datetime  # T2
    validation_start: datetime
    eval_end: datetime  # T3

    @property
    def train_start(self) -> datetime:
        return self.features_until

    @property
    def eval_start(self) -> datetime:
        return self.train_end

    def as_dict(self) -> dict:
        iso = lambda value: value.isoformat()  # noqa: E731 - a local formatter reads best here
        return {
            "features_until": iso(self.features_until),
            "train": [iso(self.train_start), iso(self.train_end)],
            "validation": [iso(self.validation_start), iso(self.train_end)],
            "eval": [iso(self.eval_start), iso(self.eval_end)],
            "eval_features_until": iso(self.train_end),
        }


def windows_compute(*, latest: datetime | None = None) -> Windows:
    """T3 is the midnight after the latest event; T2 and T1 are counted back from it."""
    latest = latest or event_latest_timestamp_get()
    if latest is None:
        raise PipelineError("There are no events yet: generate or import some first.")
    config = settings.SEARCHOP_WINDOWS
    day = latest.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    eval_end = day + timedelta(days=1)
    train_end = eval_end - timedelta(days=config["eval_days"])
    features_until = train_end - timedelta(days=config["train_days"])
    validation_start = train_end - timedelta(days=config["validation_days"])
    return Windows(
        features_until=features_until,
        train_end=train_end,
        validation_start=validation_start,
        eval_end=eval_end,
    )


# ---------------------------------------------------------------------------------------
# Datasets
# ---------------------------------------------------------------------------------------


@dataclass
class Dataset:
    windows: Windows
    train: RankingSet
    valid: RankingSet
    eval_lists: pd.DataFrame
    eval_features: np.ndarray
    eval_data: evaluation.EvaluationData
    train_propensity: PropensityModel
    eval_propensity: PropensityModel
    counts: dict
    feature_sets: dict[str, int]

    @property
    def digest(self) -> str:
        return self.train.digest()


def _matrix(snapshot: FeatureSnapshot, lists: pd.DataFrame) -> np.ndarray:
    return matrix_build(
        snapshot,
        queries=lists["query_norm"].tolist(),
        users=lists["user_id"].tolist(),
        product_ids=lists["product_id"].tolist(),
    )


def _propensity_fit(lists: pd.DataFrame) -> PropensityModel:
    clip = settings.SEARCHOP_EVALUATION["propensity_clip"]
    if lists.empty:
        return PropensityModel.default(clip=clip)
    return propensity_fit(
        lists["position"].to_numpy(),
        lists["label"].to_numpy() > 0,
        list_index=lists["list_index"].to_numpy(),
        clip=clip,
    )


def dataset_build(*, windows: Windows, reporter: Reporter | None = None) -> Dataset:
    """Feature sets for T1 and T2, the training and evaluation lists with their matrices,
    and the position-bias propensities each side may use (training: randomised lists
    before T2 only, so nothing after T2 reaches the model)."""
    reporter = reporter or Reporter.silent()
    train_set = features_build(
        until=windows.features_until, purpose=FeatureSet.Purpose.TRAIN, reporter=reporter
    )
    eval_set = features_build(until=windows.train_end, purpose=FeatureSet.Purpose.EVAL, reporter=reporter)

    with reporter.step("Loading training lists and building their matrix") as info:
        train_lists = lists_get(since=windows.train_start, until=windows.train_end)
        if train_lists.empty:
            raise PipelineError(
                f"No lists were shown in the training window {windows.as_dict()['train']}: "
                "more data, or other SEARCHOP_*_DAYS settings, are needed."
            )
        train_snapshot = feature_snapshot_get(feature_set=train_set)
        train_features = _matrix(train_snapshot, train_lists)
        full = RankingSet.from_lists(train_lists, train_features)
        is_valid = (train_lists["timestamp"] >= pd.Timestamp(windows.validation_start)).to_numpy()
        train, valid = full.subset(~is_valid), full.subset(is_valid)
        info.update(
            lists=full.num_lists,
            rows=len(train_lists),
            train_lists=train.num_lists,
            valid_lists=valid.num_lists,
        )

    with reporter.step("Loading evaluation lists and building their matrix") as info:
        eval_lists = lists_get(since=windows.eval_start, until=windows.eval_end)
        if eval_lists.empty:
            raise PipelineError(f"No lists were shown in the evaluation window {windows.as_dict()['eval']}.")
        eval_snapshot = feature_snapshot_get(feature_set=eval_set)
        eval_features = _matrix(eval_snapshot, eval_lists)
        truth = truth_get(lists=eval_lists, since=windows.eval_start, until=windows.eval_end)
        segments_by_query = evaluation.query_segments(query_lists_get(feature_set=eval_set))
        list_queries = eval_lists.groupby("list_index", sort=True)["query_norm"].first()
        eval_data = evaluation.EvaluationData(
            list_index=eval_lists["list_index"].to_numpy(),
            labels=eval_lists["label"].to_numpy(),
            positions=eval_lists["position"].to_numpy(),
            truth=truth,
            segments=list_queries.map(segments_by_query).fillna("tail").to_numpy(),
        )
        info.update(
            lists=eval_data.num_lists, rows=len(eval_lists), truth="yes" if truth is not None else "no"
        )

    with reporter.step("Fitting position bias on randomised lists") as info:
        train_random = randomised_lists_get(until=windows.train_end)
        eval_random = randomised_lists_get(until=windows.eval_end)
        train_propensity = _propensity_fit(train_random)
        eval_propensity = _propensity_fit(eval_random)
        info.update(
            eta=eval_propensity.eta, source=eval_propensity.source, randomised_lists=eval_propensity.n_lists
        )

    def lists_with_click(data: RankingSet) -> int:
        return int(np.unique(data.list_index[data.labels > 0]).size)

    counts = {
        "train_lists": train.num_lists,
        "train_rows": len(train.labels),
        "train_lists_with_click": lists_with_click(train),
        "validation_lists": valid.num_lists,
        "validation_lists_with_click": lists_with_click(valid),
        "eval_lists": eval_data.num_lists,
        "eval_rows": len(eval_lists),
        "eval_lists_with_click": int(np.unique(eval_data.list_index[eval_data.labels > 0]).size),
        "eval_clicks": int((eval_data.labels > 0).sum()),
        "randomised_lists": eval_propensity.n_lists,
        "randomised_lists_before_t2": train_propensity.n_lists,
        "features_train_events": train_set.events_counted,
        "features_eval_events": eval_set.events_counted,
    }
    return Dataset(
        windows=windows,
        train=train,
        valid=valid,
        eval_lists=eval_lists,
        eval_features=eval_features,
        eval_data=eval_data,
        train_propensity=train_propensity,
        eval_propensity=eval_propensity,
        counts=counts,
        feature_sets={"train": train_set.pk, "eval": eval_set.pk},
    )


# ---------------------------------------------------------------------------------------
# Training and evaluation
# ---------------------------------------------------------------------------------------


def ranker_fit(*, dataset: Dataset, position_bias: bool) -> TrainResult:
    """Train one ranker on the dataset with the settings' hyperparameters."""
    config = settings.SEARCHOP_TRAINING
    return ranker_train(
        train=dataset.train,
        valid=dataset.valid,
        feature_names=list(contract.NAMES),
        params=dict(settings.SEARCHOP_LIGHTGBM_PARAMS),
        num_boost_round=config["num_boost_round"],
        early_stopping_rounds=config["early_stopping_rounds"],
        propensity=dataset.train_propensity,
        position_bias=position_bias,
        position_bias_regularization=config["position_bias_regularization"],
        validation_every=config["validation_every"],
    )


def _production_scores(
    dataset: Dataset, exclude_version: int | None
) -> tuple[np.ndarray | None, int | None, str]:
    production = model_version_production_get()
    if production is None or production.version == exclude_version:
        return None, None, "no production model"
    if not contract.contract_matches(production.feature_contract):
        return None, production.version, "production model has another feature contract"
    booster = lgb.Booster(model_str=production.model_text)
    scores = np.asarray(booster.predict(dataset.eval_features, num_threads=1), dtype=np.float64)
    return scores, production.version, "evaluated"


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
    features = dataset.eval_features
    data = dataset.eval_data
    if not baselines:
        only_model = evaluation.evaluation_report(
            data=data,
            scores={"model": np.asarray(booster.predict(features, num_threads=1), dtype=np.float64)},
            propensity=dataset.eval_propensity,
            seed=config["seed"],
            n_resamples=config["bootstrap_resamples"],
        )
        return _json_clean(only_model)
    production_scores, production_version, production_note = _production_scores(
        dataset, exclude_production_version
    )
    scores: dict[str, np.ndarray | None] = {
        "model": np.asarray(booster.predict(features, num_threads=1), dtype=np.float64),
        "production": production_scores,
        "bm25": features[:, contract.INDEX["t_bm25_all"]],
        "popularity": features[:, contract.INDEX["p_popularity"]],
        "logging": -data.positions.astype(np.float64),
        "random": metrics.random_scores(data.list_index, seed=config["seed"]),
        "oracle": None if data.truth is None else np.nan_to_num(data.truth, nan=0.0),
    }
    report = evaluation.evaluation_report(
        data=data,
        scores=scores,
        propensity=dataset.eval_propensity,
        seed=config["seed"],
        n_resamples=config["bootstrap_resamples"],
    )
    report["production_version"] = production_version
    report["production_note"] = production_note
    report["propensity"] = {
        "training": dataset.train_propensity.as_dict(),
        "evaluation": dataset.eval_propensity.as_dict(),
    }
    return _json_clean(report)


def _variant_summary(report: dict) -> dict:
    pick = lambda section: (report.get(section) or {}).get("model")  # noqa: E731
    return {"metrics": pick("metrics"), "debiased": pick("debiased"), "truth": pick("truth")}


@dataclass
class TrainedCandidate:
    version: ModelVersion
    report: dict
    dataset: Dataset
    result: TrainResult


def model_train(
    *,
    windows: Windows | None = None,
    reporter: Reporter | None = None,
    actor: str = "cli",
    evaluate: bool = True,
) -> TrainedCandidate:
    """Build the datasets, train the configured ranker and its position-bias counterpart,
    evaluate both beside the baselines and register the configured one as a candidate
    with its full report. Registers exactly one version; decides nothing."""
    reporter = reporter or Reporter.silent()
    windows = windows or windows_compute()
    dataset = dataset_build(windows=windows, reporter=reporter)
    position_bias = settings.SEARCHOP_TRAINING["position_bias"]

    results: dict[bool, TrainResult] = {}
    for variant in (position_bias, not position_bias):
        label = "with" if variant else "without"
        with reporter.step(f"Training LambdaMART {label} position-bias correction") as info:
            results[variant] = ranker_fit(dataset=dataset, position_bias=variant)
            info.update(trees=results[variant].num_trees, best_iteration=results[variant].best_iteration)
    chosen = results[position_bias]

    report: dict = {}
    if evaluate:
        with reporter.step("Evaluating the model and the baselines on the evaluation lists") as info:
            report = ranker_evaluate(dataset=dataset, booster=chosen.booster)
            other = ranker_evaluate(
                dataset=dataset, booster=results[not position_bias].booster, baselines=False
            )
            report["variants"] = {
                "position_bias": _variant_summary(report if position_bias else other),
                "no_position_bias": _variant_summary(other if position_bias else report),
                "chosen": "position_bias" if position_bias else "no_position_bias",
            }
            info["debiased_ndcg@10"] = (report["debiased"].get("model") or {}).get("ndcg@10")
    report.update(
        {
            "windows": windows.as_dict(),
            "counts": dataset.counts,
            "feature_sets": dataset.feature_sets,
            "training": {
                "position_bias": position_bias,
                "best_iteration": chosen.best_iteration,
                "num_trees": chosen.num_trees,
                "seconds": round(chosen.seconds, 3),
                "validation_metric": "debiased_ndcg@10",
                "validation_curve": [
                    [round_, round(value, 6)]
                    for round_, value in zip(chosen.validation_rounds, chosen.validation_curve, strict=True)
                ],
            },
        }
    )
    importance = dict(
        zip(contract.NAMES, (float(v) for v in chosen.booster.feature_importance("gain")), strict=True)
    )
    version = model_version_register(
        model_text=chosen.booster.model_to_string(),
        feature_contract=contract.contract_dict(),
        hyperparameters={**chosen.params, **settings.SEARCHOP_TRAINING},
        windows=windows.as_dict(),
        counts=dataset.counts,
        data_digest=dataset.digest,
        training_seconds=chosen.seconds,
        report=report,
        feature_importance=importance,
        actor=actor,
        reason=f"trained on {dataset.counts['train_lists']:,} lists ({windows.as_dict()['train'][0][:10]} .. "
        f"{windows.as_dict()['train'][1][:10]})",
    )
    report["version"] = version.version
    return TrainedCandidate(version=version, report=report, dataset=dataset, result=chosen)


def model_evaluate(*, version: int, reporter: Reporter | None = None) -> dict:
    """Evaluate a registered version on the current evaluation window beside the baselines
    (and production, when that is another version). Changes nothing."""
    reporter = reporter or Reporter.silent()
    model_version = model_version_get(version=version)
    if not contract.contract_matches(model_version.feature_contract):
        raise PipelineError(
            f"v{version} was trained with another feature contract; this code cannot build it."
        )
    windows = windows_compute()
    dataset = dataset_build(windows=windows, reporter=reporter)
    with reporter.step(f"Evaluating v{version} and the baselines") as _:
        booster = lgb.Booster(model_str=model_version.model_text)
        report = ranker_evaluate(dataset=dataset, booster=booster, exclude_production_version=version)
    report.update({"version": version, "windows": windows.as_dict(), "counts": dataset.counts})
    return report


# ---------------------------------------------------------------------------------------
# The pipeline
# ---------------------------------------------------------------------------------------


def pipeline_run_claim(*, trigger: str, actor: str) -> PipelineRun:
    """Start a run, or refuse if one is running (a database constraint, so two workers
    cannot both win). A run older than the timeout is taken for dead and closed first."""
    now = timezone.now()
    stale = now - timedelta(hours=settings.SEARCHOP_PIPELINE_TIMEOUT_HOURS)
    PipelineRun.objects.filter(status=PipelineRun.Status.RUNNING, started_at__lt=stale).update(
        status=PipelineRun.Status.FAILED, finished_at=now, error="abandoned: still running after the timeout"
    )
    try:
        with transaction.atomic():
            return PipelineRun.objects.create(status=PipelineRun.Status.RUNNING, trigger=trigger, actor=actor)
    except IntegrityError as error:
        running = PipelineRun.objects.filter(status=PipelineRun.Status.RUNNING).first()
        since = f" since {running.started_at:%Y-%m-%d %H:%M} UTC (run {running.pk})" if running else ""
        raise PipelineAlreadyRunning(f"A pipeline run is already running{since}.") from error


def pipeline_run(
    *, trigger: str = PipelineRun.Trigger.CLI, actor: str = "cli", reporter: Reporter | None = None
) -> tuple[PipelineRun, dict]:
    """The weekly job: features, datasets, training, evaluation, the decision, and serving
    features for the web workers. Returns the finished run and the report (with the
    decision). A failure marks the run failed with the error and re-raises; a model
    registered before the failure stays a candidate."""
    reporter = reporter or Reporter.silent()
    run = pipeline_run_claim(trigger=trigger, actor=actor)
    report: dict = {}
    try:
        windows = windows_compute()
        PipelineRun.objects.filter(pk=run.pk).update(windows=windows.as_dict())
        candidate = model_train(windows=windows, reporter=reporter, actor=f"pipeline:{trigger}")
        report = candidate.report
        PipelineRun.objects.filter(pk=run.pk).update(
            model_version=candidate.version, counts=candidate.dataset.counts
        )

        with reporter.step("Building serving features from all events") as info:
            latest = event_latest_timestamp_get()
            serving = features_build(
                until=(latest or timezone.now()) + timedelta(microseconds=1),
                purpose=FeatureSet.Purpose.SERVING,
                reporter=Reporter.silent(),
            )
            info["feature_set"] = serving.pk
            report["feature_sets"]["serving"] = serving.pk

        with reporter.step("Deciding") as info:
            decision = _decide(candidate=candidate, report=report, trigger=trigger)
            info["action"] = decision.action
        report["decision"] = {"action": decision.action, "reason": decision.reason, "gates": decision.gates}
        with transaction.atomic():
            ModelVersion.objects.filter(pk=candidate.version.pk).update(
                report=report, decision=report["decision"]
            )
            PipelineRun.objects.filter(pk=run.pk).update(
                status=PipelineRun.Status.SUCCEEDED,
                finished_at=timezone.now(),
                steps=reporter.history,
                decision=report["decision"],
            )
    except Exception as error:
        PipelineRun.objects.filter(pk=run.pk).update(
            status=PipelineRun.Status.FAILED,
            finished_at=timezone.now(),
            steps=reporter.history,
            error=f"{type(error).__name__}: {error}",
        )
        raise
    run.refresh_from_db()
    return run, report


def _decide(*, candidate: TrainedCandidate, report: dict, trigger: str) -> Decision:
    has_production = report.get("production_version") is not None
    decision = decision_make(
        report=report,
        has_production=has_production,
        policy=Policy(
            min_relative_gain=settings.SEARCHOP_DECISION["min_relative_gain"],
            min_eval_lists_with_click=settings.SEARCHOP_DECISION["min_eval_lists_with_click"],
        ),
    )
    actor = f"pipeline:{trigger}"
    if decision.action == PROMOTED:
        model_version_promote(version=candidate.version.version, actor=actor, reason=decision.reason)
    else:
        model_version_reject(version=candidate.version.version, actor=actor, reason=decision.reason)
    return decision


def _json_clean(value):
    """NaN and infinities to None, numpy scalars to Python: reports are stored as JSON."""
    if isinstance(value, dict):
        return {str(k): _json_clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def pipeline_run_enqueue(*, trigger: str, actor: str, queue: str | None = None) -> None:
    """Queue one pipeline run for a worker once the current transaction commits (at once
    outside a transaction). Checks nothing itself: the run's claim in the task is the
    guard, so a run queued while another is running ends as "already running" without
    training. ``queue`` routes it to a particular worker's queue (default: the default one)."""
    from training.tasks import pipeline_run_task  # the task module imports this one

    options = {"queue": queue} if queue else {}
    transaction.on_commit(
        lambda: pipeline_run_task.apply_async(kwargs={"trigger": trigger, "actor": actor}, **options)
    )


# ---------------------------------------------------------------------------------------
# LETOR interchange
# ---------------------------------------------------------------------------------------


def letor_train(*, train_path: str, valid_path: str, rounds: int, reporter: Reporter | None = None) -> dict:
    """Train our LambdaMART (the settings' hyperparameters) on LETOR / SVMlight files and
    report NDCG@1/3/5/10 on the validation file, so the trainer can be checked against
    published results (MSLR-WEB10K) and other tools. Registers nothing."""
    from training.letor.benchmark import letor_train_evaluate
    from training.letor.read import letor_read

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


def training_data_export(
    *, path: str, query_file: bool = False, windows: Windows | None = None, reporter: Reporter | None = None
) -> dict:
    """Write the training lists of the current windows (features from events before T1, the
    contract's 32 columns in order, graded labels) as a LETOR file, one qid per list
    (``request_id``), or with a LightGBM ``.query`` side file; ``PATH.features`` names the
    feature of each index."""
    from training.letor.write import letor_write

    reporter = reporter or Reporter.silent()
    windows = windows or windows_compute()
    feature_set = features_build(
        until=windows.features_until, purpose=FeatureSet.Purpose.TRAIN, reporter=reporter
    )
    with reporter.step("Loading the training lists and building their matrix") as info:
        lists = lists_get(since=windows.train_start, until=windows.train_end)
        if lists.empty:
            raise PipelineError(f"No lists were shown in the training window {windows.as_dict()['train']}.")
        features = _matrix(feature_snapshot_get(feature_set=feature_set), lists)
        info.update(lists=int(lists["list_index"].max()) + 1, rows=len(lists))
    with reporter.step(f"Writing {path}") as info:
        qids = lists.groupby("list_index", sort=True)["request_id"].first().to_numpy()
        letor_write(
            path,
            features=features,
            labels=lists["label"].to_numpy(),
            list_index=lists["list_index"].to_numpy(),
            qids=qids,
            query_file=query_file,
        )
        # No comment line in the file itself: LightGBM's own loader refuses "#" comments.
        Path(f"{path}.features").write_text(
            "".join(f"{i} {name}\n" for i, name in enumerate(contract.NAMES, 1))
        )
        info["rows"] = len(lists)
    return {
        "path": path,
        "rows": len(lists),
        "lists": int(lists["list_index"].max()) + 1,
        "features": list(contract.NAMES),
        "windows": windows.as_dict(),
    }
