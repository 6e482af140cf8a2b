"""The evaluation the beat task runs every few minutes (and ``experiment_decide`` once, now):
guardrails, decisions, canary stages, the watch after a promotion, and the online gate of
candidates. Decisions change the registry only through its services (promote, reject, roll
back), so the audit trail records them with their numbers, like any other change.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction

from ranking.errors import ExperimentError, RegistryError
from ranking.experiments.policy import ONLINE, policy_get
from ranking.experiments.reports import experiment_report_build
from ranking.experiments.rules import Action, Rules, Situation, Verdict, verdict_get
from ranking.experiments.selectors import (
    candidates_awaiting_online_get,
    experiment_running_get,
    exposure_counts_get,
    promotion_to_watch_get,
)
from ranking.experiments.services import (
    experiment_create,
    experiment_end,
    experiment_launch,
    experiment_stage_advance,
)
from ranking.models import (
    Experiment,
    ExperimentDecision,
    ExperimentKind,
    ExperimentPurpose,
    ExperimentStatus,
)
from ranking.selectors import model_version_production_key_get, model_version_rollback_target_get
from ranking.services import (
    model_version_archive,
    model_version_decision_note,
    model_version_promote,
    model_version_reject,
    model_version_rollback,
    model_version_verify,
)

logger = logging.getLogger(__name__)

# Any fixed 64-bit number: the advisory lock that serialises evaluations.
EXPERIMENTS_LOCK_KEY = 0x5EA7C0_0002

REJECTED = "rejected"  # training.decision.REJECTED: the pipeline's word for it

# What each action ends the experiment as, and which version's decision records it.
_ENDINGS: dict[Action, tuple[str, str]] = {
    Action.GUARDRAIL: (ExperimentStatus.STOPPED, ExperimentDecision.GUARDRAIL),
    Action.PROMOTE: (ExperimentStatus.COMPLETED, ExperimentDecision.PROMOTED),
    Action.REJECT: (ExperimentStatus.COMPLETED, ExperimentDecision.REJECTED),
    Action.ROLLBACK: (ExperimentStatus.COMPLETED, ExperimentDecision.ROLLED_BACK),
    Action.KEEP: (ExperimentStatus.COMPLETED, ExperimentDecision.KEPT),
    Action.CONCLUDE: (ExperimentStatus.COMPLETED, ExperimentDecision.CONCLUDED),
}


def experiments_decide(*, actor: str = "beat") -> list[str]:
    """One evaluation; returns a line per experiment looked at or started.

    1. The running experiment: stopped if its control was production when it started and
       production changed since; otherwise its verdict (``ranking.experiments.rules``) is
       applied: a guardrail stop, promote, reject, roll back, keep, conclude, or the next
       canary stage.
    2. With nothing running then: the watch of a promotion that has none yet, else the
       online gate of the newest candidate waiting for one.

    One transaction under an advisory lock: two evaluations never act on one experiment twice,
    and a failure leaves everything as it was."""
    lines = []
    with transaction.atomic():
        _lock()
        running = experiment_running_get()
        if running is not None:
            lines.append(_evaluate(running, actor=actor))
        if experiment_running_get() is None:
            started = watch_start(actor=actor) or candidate_next_start(actor=actor)
            if started is not None:
                lines.append(f"experiment {started.pk}: started ({started.purpose}: {started})")
    return lines


@dataclass(frozen=True)
class Gate:
    action: str  # ONLINE (started or waiting) or REJECTED (it could not start)
    reason: str
    experiment: Experiment | None = None


def candidate_online_gate(*, version: int, actor: str, offline_reason: str = "") -> Gate:
    """Start the online gate of candidate ``version``: an interleaving experiment against
    production on ``SEARCHOP_ONLINE_TRAFFIC`` of searches. A candidate that fails verification
    is rejected (it could never serve). Otherwise, while the gate cannot start (another
    experiment runs), it waits: the beat task starts it once the way is clear."""
    prefix = f"{offline_reason}; " if offline_reason else ""
    try:
        model_version_verify(version=version)
    except RegistryError as error:
        reason = f"its online gate could not start: {error}"
        model_version_reject(version=version, actor=actor, reason=reason)
        return Gate(REJECTED, f"{prefix}{reason}")
    policy = policy_get()
    try:
        experiment = experiment_launch(
            kind=ExperimentKind.INTERLEAVING,
            purpose=ExperimentPurpose.PROMOTION,
            control="production",
            challenger=f"v{version}",
            traffic=policy.online_traffic,
            actor=actor,
        )
    except ExperimentError as error:
        running = experiment_running_get()
        waits = f"experiment {running.pk} to end" if running is not None else f"a retry ({error})"
        return Gate(ONLINE, f"{prefix}its online gate waits for {waits}")
    return Gate(
        ONLINE,
        f"{prefix}online gate: experiment {experiment.pk} interleaves it with production "
        f"{experiment.control_label} on {experiment.traffic:.0%} of searches",
        experiment,
    )


def candidate_next_start(*, actor: str) -> Experiment | None:
    """The online gate of the newest candidate waiting for one; older waiting candidates are
    archived (superseded: a newer model was trained on newer data)."""
    waiting = candidates_awaiting_online_get(action=ONLINE)
    if not waiting:
        return None
    newest = waiting[0]
    for older in waiting[1:]:
        model_version_archive(
            version=older.version,
            actor=actor,
            reason=f"superseded by v{newest.version} before its online gate",
        )
    return candidate_online_gate(version=newest.version, actor=actor).experiment


def watch_start(*, actor: str) -> Experiment | None:
    """The watch of the latest promotion, when it needs one (``promotion_to_watch_get``) and
    ``SEARCHOP_WATCH_SEARCHES`` is not 0: the new production (control) interleaved with the
    version it replaced (challenger) on ``SEARCHOP_WATCH_TRAFFIC`` of searches. A watch that
    cannot start (the old version fails verification) is recorded as stopped with the reason,
    so it is not tried again every few minutes."""
    policy = policy_get()
    promotion = promotion_to_watch_get() if policy.watch_searches > 0 else None
    if promotion is None or promotion.replaced is None:
        return None
    fields: dict[str, Any] = {
        "kind": ExperimentKind.INTERLEAVING,
        "purpose": ExperimentPurpose.WATCH,
        "control": f"v{promotion.model_version.version}",
        "challenger": f"v{promotion.replaced.version}",
        "traffic": policy.watch_traffic,
        "min_searches": min(policy.min_searches, policy.watch_searches),
        "max_searches": policy.watch_searches,
        "watched_transition": promotion,
    }
    try:
        return experiment_launch(actor=actor, **fields)
    except ExperimentError as error:
        logger.warning("the watch of v%s could not start: %s", promotion.model_version.version, error)
        try:
            draft = experiment_create(actor=actor, **fields)
        except ExperimentError:
            return None
        Experiment.objects.filter(pk=draft.pk).update(
            status=ExperimentStatus.STOPPED,
            started_at=draft.created_at,
            stopped_at=draft.created_at,
            stopped_by=actor,
            stop_reason=f"the watch could not start: {error}",
        )
        return None


# ------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------
def _evaluate(experiment: Experiment, *, actor: str) -> str:
    production = model_version_production_key_get()
    control = experiment.control_version
    if (
        experiment.control_was_production
        and control is not None
        and (production or (None,))[0] != control.version
    ):
        now = f"v{production[0]}" if production else "none"
        experiment_end(
            experiment_id=experiment.pk,
            status=ExperimentStatus.STOPPED,
            reason=f"production changed (control v{control.version}, production now {now})",
            actor=actor,
        )
        return f"experiment {experiment.pk}: stopped, production changed"
    report = experiment_report_build(experiment)
    stage_searches = 0
    if experiment.stages and experiment.stage_started_at is not None:
        stage_searches = exposure_counts_get(
            experiment_id=experiment.pk, since=experiment.stage_started_at
        ).searches
    situation = Situation(
        interleaving=experiment.kind == ExperimentKind.INTERLEAVING,
        ab=experiment.kind == ExperimentKind.AB,
        watch=experiment.purpose == ExperimentPurpose.WATCH,
        gate=experiment.purpose == ExperimentPurpose.PROMOTION,
        promotable=experiment.challenger_version_id is not None and experiment.control_was_production,
        min_searches=experiment.min_searches,
        max_searches=experiment.max_searches,
        max_days=experiment.max_days,
        stages=tuple(experiment.stages or ()),
        stage=experiment.stage,
        stage_searches=stage_searches,
    )
    verdict = verdict_get(report, situation, Rules.from_dict(experiment.guardrails))
    return _apply(experiment, verdict, report, actor=actor)


def _apply(experiment: Experiment, verdict: Verdict, report: dict, *, actor: str) -> str:
    line = f"experiment {experiment.pk}: {verdict.action}: {verdict.reason}"
    if verdict.action == Action.CONTINUE:
        return line
    if verdict.action == Action.ADVANCE:
        experiment_stage_advance(experiment_id=experiment.pk, actor=actor)
        return line
    status, decision = _ENDINGS[verdict.action]
    reason = verdict.reason
    who = f"experiment:{experiment.pk}"
    try:
        _registry_act(experiment, verdict, actor=who)
    except RegistryError as error:
        decision, reason = ExperimentDecision.CONCLUDED, f"{reason}; the registry refused: {error}"
        line = f"{line} (the registry refused: {error})"
    experiment_end(
        experiment_id=experiment.pk,
        status=status,
        reason=reason,
        actor=actor,
        decision=decision,
        result=report,
    )
    _note(experiment, decision=decision, reason=reason)
    return line


def _registry_act(experiment: Experiment, verdict: Verdict, *, actor: str) -> None:
    text = f"experiment {experiment.pk} ({experiment.kind}, {experiment.control_label} vs {experiment.challenger_label}): {verdict.reason}"
    challenger = experiment.challenger_version
    if verdict.action == Action.PROMOTE and challenger is not None:
        model_version_promote(version=challenger.version, actor=actor, reason=text)
    elif verdict.action == Action.REJECT and challenger is not None:
        model_version_reject(version=challenger.version, actor=actor, reason=text)
    elif verdict.action == Action.ROLLBACK:
        target = model_version_rollback_target_get()
        if challenger is None or target is None or target.pk != challenger.pk:
            restored = f"v{target.version}" if target else "nothing"
            raise RegistryError(
                f"a rollback would restore {restored}, not the watched v{challenger.version if challenger else '?'}"
            )
        model_version_rollback(actor=actor, reason=text)


def _note(experiment: Experiment, *, decision: str, reason: str) -> None:
    """The outcome on the version it is about: the challenger of a gate, the watched production."""
    watched = experiment.purpose == ExperimentPurpose.WATCH
    model_version = experiment.control_version if watched else experiment.challenger_version
    if model_version is None:
        return
    note = {"experiment": experiment.pk, "decision": decision, "reason": reason}
    model_version_decision_note(
        version=model_version.version, key="watch" if watched else "online", note=note
    )


def _lock() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [EXPERIMENTS_LOCK_KEY])
