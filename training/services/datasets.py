"""Datasets: the time windows, the lists shown in them with their labels, and their feature
matrices, built with the point-in-time features of each window.

Honesty rules, enforced by construction: training features come only from events before
T1, training lists and their labels only from events in [T1, T2), so nothing at or after
T2 can reach the model; evaluation lists are those shown in [T2, T3), scored with features
rebuilt from events before T2: what production would have had on the day. Every feature set
reads the same length of history before its cut-off (``feature_history_start``), as serving
does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from django.conf import settings

from catalog.progress import Reporter
from catalog.selectors import catalog_frame_get, event_earliest_timestamp_get, event_latest_timestamp_get
from ranking.features.contract import NAMES
from ranking.features.matrix import matrix_build
from ranking.features.snapshot import FeatureSnapshot
from ranking.features.store import feature_tables_read
from ranking.models import FeatureSet
from ranking.selectors import feature_set_ready_get
from ranking.services import FeatureBuild, feature_history_start, features_build
from training import evaluation
from training.errors import PipelineError
from training.letor.write import letor_write
from training.propensity import PropensityModel, propensity_fit
from training.selectors import lists_get, randomised_lists_get, truth_get
from training.trainer import RankingSet


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
            "features_since": iso(feature_history_start(until=self.features_until)),
            "features_until": iso(self.features_until),
            "train": [iso(self.train_start), iso(self.train_end)],
            "validation": [iso(self.validation_start), iso(self.train_end)],
            "eval": [iso(self.eval_start), iso(self.eval_end)],
            "eval_features_since": iso(feature_history_start(until=self.train_end)),
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
    return Windows(
        features_until=train_end - timedelta(days=config["train_days"]),
        train_end=train_end,
        validation_start=train_end - timedelta(days=config["validation_days"]),
        eval_end=eval_end,
    )


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
    train_queries: list[str] = field(default_factory=list)  # of the training and validation lists

    @property
    def digest(self) -> str:
        return self.train.digest()


def lists_matrix_build(snapshot: FeatureSnapshot, lists: pd.DataFrame) -> np.ndarray:
    """The feature matrix of every row of ``lists`` (one row per shown product)."""
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


def _training_sets(
    windows: Windows, build: FeatureBuild, reporter: Reporter
) -> tuple[RankingSet, RankingSet, list[str]]:
    with reporter.step("Loading training lists and building their matrix") as info:
        lists = lists_get(since=windows.train_start, until=windows.train_end)
        if lists.empty:
            raise PipelineError(
                f"No lists were shown in the training window {windows.as_dict()['train']}: "
                "more data, or other SEARCHOP_*_DAYS settings, are needed."
            )
        full = RankingSet.from_lists(lists, lists_matrix_build(build.snapshot(), lists))
        is_valid = (lists["timestamp"] >= pd.Timestamp(windows.validation_start)).to_numpy()
        train, valid = full.subset(~is_valid), full.subset(is_valid)
        info.update(
            lists=full.num_lists, rows=len(lists), train_lists=train.num_lists, valid_lists=valid.num_lists
        )
    return train, valid, lists["query_norm"].unique().tolist()


def _evaluation_set(
    windows: Windows, build: FeatureBuild, reporter: Reporter
) -> tuple[pd.DataFrame, np.ndarray, evaluation.EvaluationData]:
    with reporter.step("Loading evaluation lists and building their matrix") as info:
        lists = lists_get(since=windows.eval_start, until=windows.eval_end)
        if lists.empty:
            raise PipelineError(f"No lists were shown in the evaluation window {windows.as_dict()['eval']}.")
        features = lists_matrix_build(build.snapshot(), lists)
        truth = truth_get(lists=lists, since=windows.eval_start, until=windows.eval_end)
        segments_by_query = evaluation.query_segments(
            dict(zip(build.tables.queries["query_norm"], build.tables.queries["lists"], strict=True))
        )
        list_queries = lists.groupby("list_index", sort=True)["query_norm"].first()
        data = evaluation.EvaluationData(
            list_index=lists["list_index"].to_numpy(),
            labels=lists["label"].to_numpy(),
            positions=lists["position"].to_numpy(),
            truth=truth,
            segments=list_queries.map(segments_by_query).fillna("tail").to_numpy(),
        )
        info.update(lists=data.num_lists, rows=len(lists), truth="yes" if truth is not None else "no")
    return lists, features, data


def _lists_with_click(list_index: np.ndarray, labels: np.ndarray) -> int:
    return int(np.unique(list_index[labels > 0]).size)


def history_days_read(*, until: datetime) -> float:
    """How many days of events the feature set with cut-off ``until`` had: its whole history,
    or less when the events begin inside it (the report says so: serving reads the whole)."""
    earliest = event_earliest_timestamp_get()
    start = feature_history_start(until=until)
    if earliest is None or earliest >= until:
        return 0.0
    return round((until - max(start, earliest)).total_seconds() / 86400, 1)


def dataset_build(*, windows: Windows, reporter: Reporter | None = None) -> Dataset:
    """Feature sets for T1 and T2, the training and evaluation lists with their matrices,
    and the position-bias propensities each side may use (training: randomised lists
    before T2 only, so nothing after T2 reaches the model)."""
    reporter = reporter or Reporter.silent()
    train_build = features_build(
        until=windows.features_until, purpose=FeatureSet.Purpose.TRAIN, reporter=reporter
    )
    eval_build = features_build(until=windows.train_end, purpose=FeatureSet.Purpose.EVAL, reporter=reporter)
    train, valid, train_queries = _training_sets(windows, train_build, reporter)
    eval_lists, eval_features, eval_data = _evaluation_set(windows, eval_build, reporter)
    with reporter.step("Fitting position bias on randomised lists") as info:
        train_propensity = _propensity_fit(randomised_lists_get(until=windows.train_end))
        eval_propensity = _propensity_fit(randomised_lists_get(until=windows.eval_end))
        info.update(
            eta=eval_propensity.eta, source=eval_propensity.source, randomised_lists=eval_propensity.n_lists
        )
    counts = {
        "train_lists": train.num_lists,
        "train_rows": len(train.labels),
        "train_lists_with_click": _lists_with_click(train.list_index, train.labels),
        "validation_lists": valid.num_lists,
        "validation_lists_with_click": _lists_with_click(valid.list_index, valid.labels),
        "eval_lists": eval_data.num_lists,
        "eval_rows": len(eval_lists),
        "eval_lists_with_click": _lists_with_click(eval_data.list_index, eval_data.labels),
        "eval_clicks": int((eval_data.labels > 0).sum()),
        "randomised_lists": eval_propensity.n_lists,
        "randomised_lists_before_t2": train_propensity.n_lists,
        "features_train_events": train_build.feature_set.events_counted,
        "features_train_history_days": history_days_read(until=windows.features_until),
        "features_eval_events": eval_build.feature_set.events_counted,
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
        feature_sets={"train": train_build.feature_set.pk, "eval": eval_build.feature_set.pk},
        train_queries=train_queries,
    )


def training_data_export(
    *, path: str, query_file: bool = False, windows: Windows | None = None, reporter: Reporter | None = None
) -> dict:
    """Write the training lists of the current windows (features from events before T1, the
    contract's columns in order, graded labels) as a LETOR file, one qid per list
    (``request_id``), or with a LightGBM ``.query`` side file; ``PATH.features`` names the
    feature of each index."""
    reporter = reporter or Reporter.silent()
    windows = windows or windows_compute()
    build = features_build(until=windows.features_until, purpose=FeatureSet.Purpose.TRAIN, reporter=reporter)
    with reporter.step("Loading the training lists and building their matrix") as info:
        lists = lists_get(since=windows.train_start, until=windows.train_end)
        if lists.empty:
            raise PipelineError(f"No lists were shown in the training window {windows.as_dict()['train']}.")
        features = lists_matrix_build(build.snapshot(), lists)
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
        Path(f"{path}.features").write_text("".join(f"{i} {name}\n" for i, name in enumerate(NAMES, 1)))
        info["rows"] = len(lists)
    return {
        "path": path,
        "rows": len(lists),
        "lists": int(lists["list_index"].max()) + 1,
        "features": list(NAMES),
        "windows": windows.as_dict(),
    }


@dataclass
class EvaluationSet:
    """The evaluation lists of a window alone: what scoring rankers on them needs."""

    windows: Windows
    features: np.ndarray
    data: evaluation.EvaluationData
    propensity: PropensityModel
    feature_set: int


def evaluation_set_build(
    *, windows: Windows, build_features: bool = True, reporter: Reporter | None = None
) -> EvaluationSet:
    """The evaluation lists of ``windows`` with their matrix and the propensities, as
    ``dataset_build`` makes them, without the training sets. The features before T2 come from
    the ready evaluation feature set of that cut-off when the pipeline built one; otherwise
    they are built here, or, without ``build_features``, PipelineError says so."""
    reporter = reporter or Reporter.silent()
    stored = feature_set_ready_get(until=windows.train_end, purpose=FeatureSet.Purpose.EVAL)
    if stored is None and not build_features:
        raise PipelineError(
            f"The evaluation features before {windows.train_end:%Y-%m-%d} are not built yet "
            "(the next pipeline run builds them)."
        )
    if stored is not None:
        build = FeatureBuild(
            feature_set=stored, tables=feature_tables_read(feature_set=stored), catalog=catalog_frame_get()
        )
    else:
        build = features_build(until=windows.train_end, purpose=FeatureSet.Purpose.EVAL, reporter=reporter)
    _, features, data = _evaluation_set(windows, build, reporter)
    with reporter.step("Fitting position bias on randomised lists"):
        propensity = _propensity_fit(randomised_lists_get(until=windows.eval_end))
    return EvaluationSet(
        windows=windows, features=features, data=data, propensity=propensity, feature_set=build.feature_set.pk
    )
