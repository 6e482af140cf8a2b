"""The weekly pipeline: claim a run, build the datasets, train, evaluate, decide, and build
the serving features the web workers load. Every step is recorded on the run with its
time and counts (the admin's run page); the model registry is changed only through
ranking's registry services.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from catalog.progress import Reporter
from catalog.services import events_request_context_fill
from ranking.experiments.decide import candidate_online_gate
from ranking.experiments.policy import ONLINE, policy_get
from ranking.services import (
    model_version_promote,
    model_version_reject,
    model_version_report_attach,
    serving_features_build,
)
from training.decision import PROMOTED, Decision, Policy, decision_make
from training.errors import PipelineAlreadyRunning
from training.models import PipelineRun
from training.services.datasets import windows_compute
from training.services.fitting import TrainedCandidate, model_train


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
        with reporter.step("Giving early events their request's query, user and session") as info:
            # The impression log is written in batches, so a fast client's events can be
            # stored before their request's row: they get its query before features are built.
            info["events"] = events_request_context_fill()
        candidate = model_train(windows=windows, reporter=reporter, actor=f"pipeline:{trigger}")
        report = candidate.report
        PipelineRun.objects.filter(pk=run.pk).update(
            model_version=candidate.version, counts=candidate.dataset.counts
        )
        with reporter.step("Building serving features from all events") as info:
            serving = serving_features_build(reporter=Reporter.silent())
            info["feature_set"] = report["feature_sets"]["serving"] = serving.feature_set.pk
        with reporter.step("Deciding") as info:
            decision = _decide(candidate=candidate, report=report, trigger=trigger)
            info["action"] = decision.action
        report["decision"] = decision.as_dict()
        with transaction.atomic():
            model_version_report_attach(version=candidate.version.version, report=report)
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
    decision = decision_make(
        report=report,
        has_production=report.get("production_version") is not None,
        policy=Policy(
            min_relative_gain=settings.SEARCHOP_DECISION["min_relative_gain"],
            min_eval_lists_with_click=settings.SEARCHOP_DECISION["min_eval_lists_with_click"],
        ),
    )
    actor = f"pipeline:{trigger}"
    online = policy_get().promotion == ONLINE  # users decide, in an interleaving experiment
    if decision.action == PROMOTED and report.get("production_version") is not None and online:
        gate = candidate_online_gate(
            version=candidate.version.version, actor=actor, offline_reason=decision.reason
        )
        return replace(decision, action=gate.action, reason=gate.reason)
    if decision.action == PROMOTED:
        model_version_promote(version=candidate.version.version, actor=actor, reason=decision.reason)
    else:
        model_version_reject(version=candidate.version.version, actor=actor, reason=decision.reason)
    return decision
