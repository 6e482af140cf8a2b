"""The weekly pipeline: claim a run, build the datasets, train, evaluate, decide, and build
the serving features the web workers load. Every step is recorded on the run with its
time and counts (the admin's run page); the model registry is changed only through
ranking's registry services.

A run is claimed once (``training.services.runs``) and holds its heartbeat while it works.
The candidate is registered in one transaction with the run that made it, and the decision
is taken in one transaction with the run's close, after checking that the run is still this
process's: a run taken for dead meanwhile decides nothing (its candidate was rejected).
"""

from __future__ import annotations

from dataclasses import replace

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.progress import Reporter
from catalog.services import events_request_context_fill
from ranking.experiments.decide import candidate_online_gate
from ranking.experiments.policy import ONLINE, policy_get
from ranking.models import ModelVersion
from ranking.services import (
    model_version_promote,
    model_version_reject,
    model_version_report_attach,
    serving_features_build,
)
from training.decision import PROMOTED, Decision, Policy, decision_make
from training.errors import PipelineAlreadyRunning, PipelineRunLost
from training.models import PipelineRun
from training.services.datasets import windows_compute
from training.services.evaluation import PRODUCTION_UNAVAILABLE
from training.services.fitting import TrainedCandidate, model_train
from training.services.runs import (
    RunHeartbeat,
    pipeline_run_alive_check,
    pipeline_run_claim,
    pipeline_run_request,
)


def pipeline_run(
    *, trigger: str = PipelineRun.Trigger.CLI, actor: str = "cli", reporter: Reporter | None = None
) -> tuple[PipelineRun, dict]:
    """The weekly job, run now in this process (the command line): requested and claimed as
    a queued run would be, so it is refused while another run is queued or running
    (PipelineAlreadyRunning; the skipped trigger is recorded). Returns the finished run and
    the report (with the decision); a failure marks the run failed and re-raises."""
    run = pipeline_run_request(trigger=trigger, actor=actor)
    if run.status == PipelineRun.Status.SKIPPED:
        raise PipelineAlreadyRunning(f"Not started: {run.reason}.")
    outcome = pipeline_run_execute(run_id=run.pk, reporter=reporter)
    if outcome is None:  # closed before it could start: only a clock jump would do that
        raise PipelineRunLost(f"Run {run.pk} was closed before it started.")
    return outcome


def pipeline_run_execute(*, run_id: int, reporter: Reporter | None = None) -> tuple[PipelineRun, dict] | None:
    """Claim the queued run ``run_id`` and run it to its decision: features, datasets,
    training, evaluation, serving features, the decision. None when the run was not queued
    (another delivery of its message ran it, or it was closed). A failure marks the run
    failed with the error, unless it was closed meanwhile, and re-raises."""
    run = pipeline_run_claim(run_id=run_id)
    if run is None:
        return None
    reporter = reporter or Reporter.silent()
    with RunHeartbeat(run.pk):
        try:
            report = _stages(run, reporter)
        except Exception as error:
            PipelineRun.objects.filter(pk=run.pk, status=PipelineRun.Status.RUNNING).update(
                status=PipelineRun.Status.FAILED,
                finished_at=timezone.now(),
                steps=reporter.history,
                error=f"{type(error).__name__}: {error}",
            )
            raise
    run.refresh_from_db()
    return run, report


def _stages(run: PipelineRun, reporter: Reporter) -> dict:
    windows = windows_compute()
    PipelineRun.objects.filter(pk=run.pk).update(windows=windows.as_dict())
    with reporter.step("Giving early events their request's query, user and session") as info:
        # The impression log is written in batches, so a fast client's events can be
        # stored before their request's row: they get its query before features are built.
        info["events"] = events_request_context_fill()
    pipeline_run_alive_check(run_id=run.pk)
    candidate = model_train(
        windows=windows,
        reporter=reporter,
        actor=f"pipeline:{run.trigger}",
        on_register=lambda version: _candidate_link(run, version),
    )
    report = candidate.report
    PipelineRun.objects.filter(pk=run.pk).update(counts=candidate.dataset.counts)
    pipeline_run_alive_check(run_id=run.pk)
    with reporter.step("Building serving features from all events") as info:
        serving = serving_features_build(reporter=Reporter.silent())
        info["feature_set"] = report["feature_sets"]["serving"] = serving.feature_set.pk
    with transaction.atomic():
        _run_hold(run.pk)
        with reporter.step("Deciding") as info:
            decision = _decide(candidate=candidate, report=report, trigger=run.trigger)
            info["action"] = decision.action
        report["decision"] = decision.as_dict()
        model_version_report_attach(version=candidate.version.version, report=report)
        PipelineRun.objects.filter(pk=run.pk).update(
            status=PipelineRun.Status.SUCCEEDED,
            finished_at=timezone.now(),
            steps=reporter.history,
            decision=report["decision"],
        )
    return report


def _candidate_link(run: PipelineRun, version: ModelVersion) -> None:
    """In the registration's transaction: the run names its candidate, so a run lost after
    registering leaves no candidate that nothing will decide (the closer rejects it)."""
    PipelineRun.objects.filter(pk=run.pk).update(model_version=version)


def _run_hold(run_id: int) -> None:
    """Lock the run's row until the decision commits, and make sure it is still running."""
    status = (
        PipelineRun.objects.select_for_update().filter(pk=run_id).values_list("status", flat=True).first()
    )
    if status != PipelineRun.Status.RUNNING:
        raise PipelineRunLost(
            f"Run {run_id} was closed as {status} before its decision; nothing was decided."
        )


def _decide(*, candidate: TrainedCandidate, report: dict, trigger: str) -> Decision:
    # A production model that cannot be loaded serves nothing (web workers serve the BM25
    # fallback): the candidate is judged on the gates alone, and the reason says so.
    note = str(report.get("production_note") or "")
    unavailable = note.startswith(PRODUCTION_UNAVAILABLE)
    has_production = report.get("production_version") is not None and not unavailable
    decision = decision_make(
        report=report,
        has_production=has_production,
        policy=Policy(
            min_relative_gain=settings.SEARCHOP_DECISION["min_relative_gain"],
            min_eval_lists_with_click=settings.SEARCHOP_DECISION["min_eval_lists_with_click"],
        ),
    )
    if unavailable:
        decision = replace(
            decision,
            reason=f"{note}; judged as with no production model: {decision.reason}",
        )
    actor = f"pipeline:{trigger}"
    online = policy_get().promotion == ONLINE  # users decide, in an interleaving experiment
    if decision.action == PROMOTED and has_production and online:
        gate = candidate_online_gate(
            version=candidate.version.version, actor=actor, offline_reason=decision.reason
        )
        return replace(decision, action=gate.action, reason=gate.reason)
    if decision.action == PROMOTED:
        model_version_promote(version=candidate.version.version, actor=actor, reason=decision.reason)
    else:
        model_version_reject(version=candidate.version.version, actor=actor, reason=decision.reason)
    return decision
