"""Writes of experiments: create, start, stop, end with a decision, advance a canary stage.

Each is a typed keyword-only function that checks its input first and raises ExperimentError
naming the field or the state in the way, with nothing changed. Status changes are
conditional UPDATEs (the row must still be in the status read) and the one-running
constraint refuses a second running experiment whoever starts it: two starts that race
cannot both win. A model version is verified (its sha256, and a trial load in a child
process, ``ranking.model_loading``) before an experiment that serves it starts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from ranking.errors import ExperimentError, RegistryError
from ranking.experiments.arms import RankerRef, ranker_parse
from ranking.experiments.policy import policy_get
from ranking.experiments.rules import Rules
from ranking.experiments.selectors import experiment_get, experiment_running_get
from ranking.model_loading import model_text_check
from ranking.models import (
    Experiment,
    ExperimentKind,
    ExperimentPurpose,
    ExperimentStatus,
    ModelStatus,
    ModelVersion,
    ModelVersionTransition,
)
from ranking.selectors import model_version_get, model_version_production_get

if TYPE_CHECKING:
    from django.contrib.auth.models import User

PRODUCTION = "production"


def experiment_create(
    *,
    kind: str,
    challenger: str,
    control: str = PRODUCTION,
    traffic: float | None = None,
    stages: Sequence[float] = (),
    min_searches: int | None = None,
    max_searches: int | None = None,
    max_days: float | None = None,
    purpose: str = ExperimentPurpose.MANUAL,
    watched_transition: ModelVersionTransition | None = None,
    rules: Rules | None = None,
    actor: str,
    user: User | None = None,
) -> Experiment:
    """Store a draft experiment after checking every field. ``control`` and ``challenger``:
    ``production`` (control only: the production version now), ``vN`` or a baseline. With
    ``stages`` (A/B only) the traffic starts at the first stage. Unset limits take the
    settings' defaults; the settings' rules are copied onto it. Raises ExperimentError."""
    policy = policy_get()
    if kind not in ExperimentKind.values:
        raise ExperimentError(f"kind: must be one of {', '.join(ExperimentKind.values)}, got {kind!r}")
    control_ref, control_version = _side_resolve("control", control)
    challenger_ref, challenger_version = _side_resolve("challenger", challenger)
    if control_ref == challenger_ref:
        raise ExperimentError(f"challenger: {challenger_ref.label} is the control too; compare two rankers")
    stages = tuple(float(s) for s in stages)
    if stages:
        if kind != ExperimentKind.AB:
            raise ExperimentError("stages: canary stages are for A/B experiments")
        if any(not 0 < s <= 1 for s in stages) or list(stages) != sorted(set(stages)):
            raise ExperimentError(f"stages: must rise strictly, each in (0, 1], got {list(stages)}")
        traffic = stages[0]
    traffic = 0.1 if traffic is None else float(traffic)
    if not 0 < traffic <= 1:
        raise ExperimentError(f"traffic: must be in (0, 1], got {traffic:g}")
    limits = _limits(
        policy.min_searches, policy.max_searches, policy.max_days, min_searches, max_searches, max_days
    )
    return Experiment.objects.create(
        kind=kind,
        purpose=purpose,
        status=ExperimentStatus.DRAFT,
        control_version=control_version,
        control_baseline=control_ref.baseline,
        challenger_version=challenger_version,
        challenger_baseline=challenger_ref.baseline,
        traffic=traffic,
        stages=list(stages),
        guardrails=(rules or policy.rules).as_dict(),
        watched_transition=watched_transition,
        created_by=_required(actor, "actor"),
        user=user,
        **limits,
    )


def experiment_start(*, experiment_id: int, actor: str, user: User | None = None) -> Experiment:
    """Start a draft: verify the model versions it serves, then draft → running, recording
    whether its control is the production version now. Refused while another experiment runs
    (the database constraint decides a race). Raises ExperimentError; nothing changes then."""
    experiment = experiment_get(experiment_id=experiment_id)
    if experiment.status != ExperimentStatus.DRAFT:
        raise ExperimentError(f"experiment {experiment.pk} is {experiment.status}; only a draft can start")
    _running_check()
    for side, model_version in (
        ("control", experiment.control_version),
        ("challenger", experiment.challenger_version),
    ):
        if model_version is not None:
            try:
                model_text_check(model_version_get(version=model_version.version))
            except RegistryError as error:
                raise ExperimentError(f"{side}: {error}") from error
    production = model_version_production_get()
    now = timezone.now()
    try:
        with transaction.atomic():
            changed = Experiment.objects.filter(pk=experiment.pk, status=ExperimentStatus.DRAFT).update(
                status=ExperimentStatus.RUNNING,
                started_at=now,
                stage_started_at=now,
                control_was_production=production is not None
                and production.pk == experiment.control_version_id,
            )
    except IntegrityError as error:
        _running_check()
        raise ExperimentError(f"another experiment started first ({error})") from error
    if changed != 1:
        raise ExperimentError(f"experiment {experiment.pk} changed meanwhile; try again")
    return experiment_get(experiment_id=experiment.pk)


def experiment_launch(*, actor: str, user: User | None = None, **fields: Any) -> Experiment:
    """Create and start in one transaction (the commands and the admin): a refusal at either
    step leaves no draft behind. ``fields`` as ``experiment_create``."""
    with transaction.atomic():
        experiment = experiment_create(actor=actor, user=user, **fields)
        return experiment_start(experiment_id=experiment.pk, actor=actor, user=user)


def experiment_stop(
    *, reason: str, actor: str, user: User | None = None, experiment_id: int | None = None
) -> Experiment:
    """Stop the running experiment (or the one given, if it is running) for ``reason``: its
    searches go back to the control at once. Raises ExperimentError when it is not running."""
    _required(reason, "reason")
    experiment = (
        experiment_running_get() if experiment_id is None else experiment_get(experiment_id=experiment_id)
    )
    if experiment is None:
        raise ExperimentError("no experiment is running")
    return experiment_end(
        experiment_id=experiment.pk,
        status=ExperimentStatus.STOPPED,
        reason=reason,
        actor=actor,
    )


def experiment_end(
    *,
    experiment_id: int,
    status: str,
    reason: str,
    actor: str,
    decision: str = "",
    result: dict[str, Any] | None = None,
) -> Experiment:
    """running → ``status`` (stopped or completed) with the reason, and the decision with the
    report it rests on. A conditional update: of two callers, one ends it, the other gets an
    ExperimentError."""
    values: dict[str, Any] = {
        "status": status,
        "stopped_at": timezone.now(),
        "stopped_by": _required(actor, "actor"),
        "stop_reason": _required(reason, "reason"),
    }
    if decision or result is not None:
        values.update(decision=decision, decision_reason=reason, result=result or {})
    changed = Experiment.objects.filter(pk=experiment_id, status=ExperimentStatus.RUNNING).update(**values)
    if changed != 1:
        raise ExperimentError(f"experiment {experiment_id} is not running")
    return experiment_get(experiment_id=experiment_id)


def experiment_stage_advance(*, experiment_id: int, actor: str) -> Experiment:
    """Move a running A/B canary to its next stage: the challenger's share becomes that
    stage's, and the stage's search count starts again. Raises ExperimentError at the last."""
    experiment = experiment_get(experiment_id=experiment_id)
    stages = list(experiment.stages or [])
    if experiment.status != ExperimentStatus.RUNNING or experiment.stage + 1 >= len(stages):
        raise ExperimentError(f"experiment {experiment.pk} has no further stage to advance to")
    changed = Experiment.objects.filter(
        pk=experiment.pk, status=ExperimentStatus.RUNNING, stage=experiment.stage
    ).update(
        stage=experiment.stage + 1, traffic=stages[experiment.stage + 1], stage_started_at=timezone.now()
    )
    if changed != 1:
        raise ExperimentError(f"experiment {experiment.pk} changed meanwhile; try again")
    return experiment_get(experiment_id=experiment.pk)


# ------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------
def _side_resolve(side: str, text: str) -> tuple[RankerRef, ModelVersion | None]:
    if (text or "").strip().lower() == PRODUCTION:
        if side != "control":
            raise ExperimentError("challenger: production is the control; name a version or a baseline")
        production = model_version_production_get()
        if production is None:
            raise ExperimentError("control: there is no production model; name a version or a baseline")
        return RankerRef(version=production.version), production
    try:
        ref = ranker_parse(text)
    except ValueError as error:
        raise ExperimentError(f"{side}: {error}") from error
    if ref.version is None:
        return ref, None
    try:
        model_version = model_version_get(version=ref.version)
    except RegistryError as error:
        raise ExperimentError(f"{side}: {error}") from error
    if side == "challenger" and model_version.status == ModelStatus.PRODUCTION:
        raise ExperimentError(f"challenger: v{ref.version} is in production; it is the control")
    return ref, model_version


def _limits(
    default_min: int,
    default_max: int,
    default_days: float,
    min_searches: int | None,
    max_searches: int | None,
    max_days: float | None,
) -> dict[str, Any]:
    values = {
        "min_searches": default_min if min_searches is None else int(min_searches),
        "max_searches": default_max if max_searches is None else int(max_searches),
        "max_days": default_days if max_days is None else float(max_days),
    }
    if values["min_searches"] < 0:
        raise ExperimentError(f"min_searches: must be >= 0, got {values['min_searches']}")
    if values["max_searches"] < max(values["min_searches"], 1):
        raise ExperimentError(
            f"max_searches: must be at least min_searches ({values['min_searches']}) and 1, got {values['max_searches']}"
        )
    if not values["max_days"] > 0:
        raise ExperimentError(f"max_days: must be > 0, got {values['max_days']:g}")
    return values


def _running_check() -> None:
    running = experiment_running_get()
    if running is not None:
        raise ExperimentError(
            f"experiment {running.pk} ({running.kind} of {running.challenger_label} against "
            f"{running.control_label}) is running; stop it first (experiment_stop)"
        )


def _required(value: str, name: str) -> str:
    if not value or not value.strip():
        raise ExperimentError(f"{name}: required")
    return value
