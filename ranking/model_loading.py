"""The one way a stored model text becomes a LightGBM booster.

LightGBM aborts or segfaults on some corrupted model texts, taking the whole process with
it. So before any process loads a model text it is checked: its sha256 against the one the
registry recorded, then a trial load in a child process (``ranking.model_check``) that must
find the recorded number of trees and as many features as the saved contract names. Serving,
the evaluation of production, the registry's promotions and the commands all load models
through ``booster_load`` (or check them through ``model_text_check``), so a corrupted model is
refused everywhere and never crashes a worker.
"""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import lightgbm as lgb
from django.conf import settings

from ranking.errors import ModelVerificationError
from ranking.features.contract import CONTRACT, Contract
from ranking.models import ModelVersion

MODEL_CHECK_TIMEOUT_SECONDS = 60.0


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_text_check(model_version: ModelVersion) -> None:
    """Raise ModelVerificationError unless ``model_version``'s text has its recorded sha256
    and loads in a child process with the recorded trees and features. Changes nothing."""
    version = model_version.version
    actual = sha256_text(model_version.model_text)
    if actual != model_version.model_sha256:
        raise ModelVerificationError(
            version,
            f"the model text's sha256 is {actual[:12]}…, the registry recorded "
            f"{model_version.model_sha256[:12]}…: the text changed after registration.",
        )
    command = [sys.executable, "-m", "ranking.model_check", "--trees", str(model_version.num_trees)]
    names = _contract_names(model_version.feature_contract)
    if names:
        command += ["--features", str(len(names))]
    timeout = float(getattr(settings, "SEARCHOP_MODEL_CHECK_TIMEOUT", MODEL_CHECK_TIMEOUT_SECONDS))
    try:
        result = subprocess.run(
            command,
            input=model_version.model_text,
            capture_output=True,
            text=True,
            # A corrupted model can make LightGBM print bytes that are not UTF-8.
            errors="replace",
            timeout=timeout,
            cwd=settings.BASE_DIR,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise ModelVerificationError(version, f"LightGBM did not load it within {timeout:g} s.") from None
    if result.returncode < 0:
        raise ModelVerificationError(
            version,
            f"LightGBM crashed loading it (killed by {_signal_name(-result.returncode)}): "
            "the model text is corrupted.",
        )
    outcome = _last_json_line(result.stdout)
    if result.returncode != 0 or not outcome.get("ok"):
        detail = outcome.get("error") or (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelVerificationError(version, f"LightGBM could not load it: {detail}")


def booster_load(*, model_version: ModelVersion, contract: Contract = CONTRACT) -> lgb.Booster:
    """The booster of ``model_version``, checked first. The trial load in a child process runs
    once per model text on this machine (a marker named by the sha256 just checked, so it
    cannot vouch for any other text). Raises ModelVerificationError."""
    version, sha = model_version.version, model_version.model_sha256
    if sha256_text(model_version.model_text) != sha:
        raise ModelVerificationError(version, "the model text does not match its sha256")
    if not contract.matches(model_version.feature_contract):
        raise ModelVerificationError(
            version, "it was trained with another feature contract than this code builds"
        )
    marker = Path(settings.SEARCHOP_VAR_DIR) / "models" / f"{sha}.verified"
    if not marker.exists():
        model_text_check(model_version)
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    try:
        return lgb.Booster(model_str=model_version.model_text)
    except lgb.basic.LightGBMError as error:
        raise ModelVerificationError(version, f"LightGBM could not load it: {error}") from error


def _contract_names(saved: Any) -> list[str]:
    """The feature names a saved contract lists (``features`` entries, or a plain ``names`` list)."""
    if not isinstance(saved, dict):
        return []
    if isinstance(saved.get("features"), list):
        return [str(f.get("name")) for f in saved["features"] if isinstance(f, dict)]
    names = saved.get("names")
    return [str(name) for name in names] if isinstance(names, list) else []


def _last_json_line(stdout: str) -> dict[str, Any]:
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
