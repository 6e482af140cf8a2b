"""Writes to the model registry: register, verify, promote, roll back, reject, archive.

Every status change runs in one transaction that holds the registry lock and locks the rows
it changes (``select_for_update``), checks each row's status in its UPDATE (a conditional
update that must change exactly one row), and adds its audit record in the same transaction.
The conditional unique constraint on ``status='production'`` is the last line of defence.
A model is trial-loaded in a child process before it can become production, because
LightGBM can abort the whole process on a corrupted model text.
"""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Max, Q

from ranking.errors import ModelVersionNotFound, NothingToRollBack, RegistryError
from ranking.model_loading import model_text_check, sha256_text
from ranking.models import ModelStatus, ModelVersion, ModelVersionTransition, TransitionKind
from ranking.selectors import model_version_get, model_version_rollback_target_get

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Any fixed 64-bit number; it names the one PostgreSQL advisory lock all registry writes share.
REGISTRY_LOCK_KEY = 0x5EA7C0_0001
PROMOTABLE = (ModelStatus.CANDIDATE, ModelStatus.ARCHIVED)
SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


def model_version_register(
    *,
    model_text: str,
    feature_contract: dict[str, Any],
    hyperparameters: dict[str, Any],
    windows: dict[str, Any],
    counts: dict[str, Any],
    data_digest: str,
    training_seconds: float,
    report: dict[str, Any] | None = None,
    feature_importance: dict[str, Any] | None = None,
    actor: str = "pipeline",
    reason: str = "trained",
    notes: str = "",
) -> ModelVersion:
    """Store a trained model as the next ``candidate`` and record the registration.

    Transactional. Version numbers are unique and increase: the next one is taken under the
    registry lock, and the unique constraint backs it. The text is trusted to come from our
    own trainer: its trees are counted from the text, it is not loaded here
    (``model_version_verify`` loads it, in a child process)."""
    _require_text(actor=actor, reason=reason)
    num_trees = _trees_count(model_text)
    if not SHA256_HEX.match(data_digest):
        raise RegistryError(
            "data_digest must be the sha256 of the training data as 64 lower-case hex digits."
        )
    report = report or {}
    with _registry_transaction():
        latest = ModelVersion.objects.aggregate(latest=Max("version"))["latest"] or 0
        model_version = ModelVersion.objects.create(
            version=latest + 1,
            status=ModelStatus.CANDIDATE,
            feature_contract=feature_contract,
            hyperparameters=hyperparameters,
            windows=windows,
            counts=counts,
            data_digest=data_digest,
            lightgbm_version=_lightgbm_version(),
            code_version=_code_version(),
            training_seconds=float(training_seconds),
            model_text=model_text,
            model_sha256=sha256_text(model_text),
            num_trees=num_trees,
            report=report,
            feature_importance=feature_importance or {},
            decision=_decision(report),
            notes=notes,
        )
        _transition_record(
            model_version=model_version,
            kind=TransitionKind.REGISTER,
            from_status="",
            to_status=ModelStatus.CANDIDATE,
            user=None,
            actor=actor,
            reason=reason,
        )
    return model_version


def model_version_report_attach(
    *, version: int, report: dict[str, Any], feature_importance: dict[str, Any] | None = None
) -> ModelVersion:
    """Store the evaluation report (and its decision) of a registered version, for a pipeline
    that registers first and evaluates the registered model. Changes no status."""
    model_version = model_version_get(version=version)
    model_version.report = report
    model_version.decision = _decision(report)
    fields = ["report", "decision"]
    if feature_importance is not None:
        model_version.feature_importance = feature_importance
        fields.append("feature_importance")
    model_version.save(update_fields=fields)
    return model_version


def model_version_decision_note(*, version: int, key: str, note: dict[str, Any]) -> ModelVersion:
    """Add ``note`` under ``key`` to the version's decision, beside the offline one (the online
    gate's or the watch's outcome, with its numbers). Changes no status; transactional."""
    with transaction.atomic():
        model_version = (
            ModelVersion.objects.select_for_update().defer("model_text").filter(version=version).first()
        )
        if model_version is None:
            raise ModelVersionNotFound(version)
        model_version.decision = {**(model_version.decision or {}), key: note}
        model_version.save(update_fields=["decision"])
    return model_version


def model_version_verify(*, version: int) -> None:
    """Check that ``version`` can be served: the stored text still has the recorded sha256,
    and LightGBM loads it in a child process with the recorded number of trees (and as many
    features as the feature contract names). Raises ModelVerificationError; changes nothing."""
    model_text_check(model_version_get(version=version))


def model_version_promote(*, version: int, user: User | None = None, actor: str, reason: str) -> ModelVersion:
    """Make ``version`` the production model; the current one (if any) becomes archived.

    Only a candidate or archived version that passes verification can be promoted (a
    rejected one never: register a new model instead). One transaction: both rows locked,
    the old one archived ("replaced by vN"), the new one promoted with ``replaced`` = the
    old one. Concurrent promotions are serialised; exactly one production remains."""
    _require_text(actor=actor, reason=reason)
    target = model_version_get(version=version)
    _promotable_check(target)
    model_text_check(target)
    with _registry_transaction():
        current, target = _rows_lock(target_id=target.pk)
        _promotable_check(target)  # again, under the lock: another request may have got here first
        return _production_replace(
            current=current,
            target=target,
            user=user,
            actor=actor,
            old_kind=TransitionKind.ARCHIVE,
            old_reason=f"replaced by v{target.version}",
            new_reason=reason,
        )


def model_version_rollback(*, user: User | None = None, actor: str, reason: str) -> ModelVersion:
    """Put back the production version that the current one replaced, following the audit
    trail as a stack (see ``model_version_rollback_target_get``): rolling back twice goes
    two promotions back, never back and forth. The current version is archived (kind
    "rollback"), the restored one promoted with ``replaced`` = the current one. Same
    transaction, locking and verification as a promotion. Raises NothingToRollBack."""
    _require_text(actor=actor, reason=reason)
    target = _rollback_target_get()
    model_text_check(target)
    with _registry_transaction():
        again = _rollback_target_get()
        if again.pk != target.pk:
            raise RegistryError("The production model changed while the rollback was prepared; try again.")
        current, target = _rows_lock(target_id=target.pk)
        if current is None:  # pragma: no cover - _rollback_target_get found one under the same lock
            raise NothingToRollBack("There is no production version to roll back.")
        return _production_replace(
            current=current,
            target=target,
            user=user,
            actor=actor,
            old_kind=TransitionKind.ROLLBACK,
            old_reason=reason,
            new_reason=f"rollback from v{current.version}: {reason}",
        )


def model_version_reject(*, version: int, user: User | None = None, actor: str, reason: str) -> ModelVersion:
    """Mark a candidate or archived version as rejected: it can never be promoted again, and
    rollbacks pass over it. The production version cannot be rejected directly: promote
    another one or roll back first. Transactional."""
    return _status_change(
        version=version,
        allowed=(ModelStatus.CANDIDATE, ModelStatus.ARCHIVED),
        to_status=ModelStatus.REJECTED,
        kind=TransitionKind.REJECT,
        user=user,
        actor=actor,
        reason=reason,
    )


def model_version_archive(*, version: int, user: User | None = None, actor: str, reason: str) -> ModelVersion:
    """Retire a candidate without judging it (unlike reject, it can still be promoted later).
    Production is never archived directly, so serving is never left without a model by
    accident: promote another one or roll back. Transactional."""
    return _status_change(
        version=version,
        allowed=(ModelStatus.CANDIDATE,),
        to_status=ModelStatus.ARCHIVED,
        kind=TransitionKind.ARCHIVE,
        user=user,
        actor=actor,
        reason=reason,
    )


# ------------------------------------------------------------------------------
# Helpers
# ------------------------------------------------------------------------------
@contextmanager
def _registry_transaction() -> Iterator[None]:
    """A transaction that holds the registry lock. A constraint violation inside it (which
    the lock should make impossible) surfaces as a RegistryError, with nothing changed."""
    try:
        with transaction.atomic():
            _registry_lock()
            yield
    except IntegrityError as error:
        raise RegistryError(
            f"The registry refused the change ({error}); another change got there first. Try again."
        ) from error


def _registry_lock() -> None:
    """Serialise registry writes until the end of the current transaction.

    On PostgreSQL a transaction-level advisory lock: row locks alone cannot stop two
    promotions that each saw the same old production row from both going ahead. SQLite (the
    embedded demo) runs write transactions one at a time already (IMMEDIATE mode)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [REGISTRY_LOCK_KEY])


def _rows_lock(*, target_id: int) -> tuple[ModelVersion | None, ModelVersion]:
    """Lock the production row and the target (in id order, so two callers never deadlock)
    and return them as (current production or None, target)."""
    rows = list(
        ModelVersion.objects.select_for_update()
        .filter(Q(pk=target_id) | Q(status=ModelStatus.PRODUCTION))
        .defer("model_text")
        .order_by("pk")
    )
    target = next(row for row in rows if row.pk == target_id)
    current = next((row for row in rows if row.status == ModelStatus.PRODUCTION), None)
    return current, target


def _production_replace(
    *,
    current: ModelVersion | None,
    target: ModelVersion,
    user: User | None,
    actor: str,
    old_kind: str,
    old_reason: str,
    new_reason: str,
) -> ModelVersion:
    if current is not None:
        _status_update(current, to_status=ModelStatus.ARCHIVED)
        _transition_record(
            model_version=current,
            kind=old_kind,
            from_status=ModelStatus.PRODUCTION,
            to_status=ModelStatus.ARCHIVED,
            user=user,
            actor=actor,
            reason=old_reason,
        )
    from_status = target.status
    _status_update(target, to_status=ModelStatus.PRODUCTION)
    _transition_record(
        model_version=target,
        kind=TransitionKind.PROMOTE,
        from_status=from_status,
        to_status=ModelStatus.PRODUCTION,
        user=user,
        actor=actor,
        reason=new_reason,
        replaced=current,
    )
    return target


def _status_change(
    *,
    version: int,
    allowed: tuple[str, ...],
    to_status: str,
    kind: str,
    user: User | None,
    actor: str,
    reason: str,
) -> ModelVersion:
    _require_text(actor=actor, reason=reason)
    target = model_version_get(version=version)
    with _registry_transaction():
        target = ModelVersion.objects.select_for_update().defer("model_text").get(pk=target.pk)
        if target.status not in allowed:
            raise RegistryError(
                f"v{target.version} is {target.status}; only a version that is "
                f"{' or '.join(allowed)} can be {to_status}."
            )
        from_status = target.status
        _status_update(target, to_status=to_status)
        _transition_record(
            model_version=target,
            kind=kind,
            from_status=from_status,
            to_status=to_status,
            user=user,
            actor=actor,
            reason=reason,
        )
    return target


def _status_update(model_version: ModelVersion, *, to_status: str) -> None:
    """A conditional UPDATE: it changes the row only if its status is still the one we read."""
    changed = ModelVersion.objects.filter(pk=model_version.pk, status=model_version.status).update(
        status=to_status
    )
    if changed != 1:
        raise RegistryError(f"v{model_version.version} changed status meanwhile; try again.")
    model_version.status = to_status


def _transition_record(
    *,
    model_version: ModelVersion,
    kind: str,
    from_status: str,
    to_status: str,
    user: User | None,
    actor: str,
    reason: str,
    replaced: ModelVersion | None = None,
) -> ModelVersionTransition:
    return ModelVersionTransition.objects.create(
        model_version=model_version,
        kind=kind,
        from_status=from_status,
        to_status=to_status,
        user=user,
        actor=actor,
        reason=reason,
        replaced=replaced,
    )


def _promotable_check(model_version: ModelVersion) -> None:
    if model_version.status == ModelStatus.PRODUCTION:
        raise RegistryError(f"v{model_version.version} is already in production.")
    if model_version.status == ModelStatus.REJECTED:
        raise RegistryError(
            f"v{model_version.version} was rejected and can never be promoted; register a new model."
        )
    if model_version.status not in PROMOTABLE:  # pragma: no cover - the status check constraint
        raise RegistryError(f"v{model_version.version} is {model_version.status} and cannot be promoted.")


def _rollback_target_get() -> ModelVersion:
    current = ModelVersion.objects.filter(status=ModelStatus.PRODUCTION).only("version").first()
    if current is None:
        raise NothingToRollBack("There is no production version, so there is nothing to roll back.")
    target = model_version_rollback_target_get()
    if target is None:
        raise NothingToRollBack(
            f"There is no earlier production version to roll back to from v{current.version}."
        )
    return target


def _trees_count(model_text: str) -> int:
    if not model_text.startswith("tree\n"):
        raise RegistryError("model_text is not a LightGBM model text (its first line is not 'tree').")
    trees = sum(1 for line in model_text.splitlines() if line.startswith("Tree="))
    if trees == 0:
        raise RegistryError("model_text holds no trees.")
    return trees


def _require_text(*, actor: str, reason: str) -> None:
    if not reason or not reason.strip():
        raise RegistryError("A reason is required.")
    if not actor or not actor.strip():
        raise RegistryError("An actor is required (who or what makes the change).")


def _decision(report: dict[str, Any]) -> dict[str, Any]:
    """The report's decision: its action and reason, and its gates where it has them."""
    decision = report.get("decision") if isinstance(report, dict) else None
    if not isinstance(decision, dict) or not decision.get("action"):
        return {}
    gates = decision.get("gates")
    return {
        "action": str(decision["action"]),
        "reason": str(decision.get("reason") or ""),
        **({"gates": gates} if isinstance(gates, dict) else {}),
    }


def _lightgbm_version() -> str:
    try:
        return importlib.metadata.version("lightgbm")
    except importlib.metadata.PackageNotFoundError:
        return ""


def _code_version() -> str:
    """The git commit (``+dirty`` with uncommitted changes to tracked files), else the
    package version from pyproject.toml, else empty."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=settings.BASE_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        if commit:
            return commit + ("+dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        with open(settings.BASE_DIR / "pyproject.toml", "rb") as file:
            return str(tomllib.load(file)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return ""
