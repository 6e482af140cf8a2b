"""Helpers of the deployment tests: the offline tools (from .venv, checkov from its own
virtualenv), the rendered overlays and look-ups in them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "k8s"
OVERLAYS = ("dev", "prod")
# The tools requirements-dev.txt installs sit beside this interpreter; checkov has its own
# virtualenv inside .venv (requirements-checkov.txt says why).
BIN = Path(sys.executable).parent
CHECKOV = Path(os.environ.get("SEARCHOP_CHECKOV", ROOT / ".venv" / "checkov" / "bin" / "checkov"))
WORKLOAD_KINDS = ("Deployment", "StatefulSet", "Job")


def tool(name: str) -> str:
    path = CHECKOV if name == "checkov" else BIN / name
    if not path.exists():
        pytest.fail(f"{path} is missing: `python3.11 run.py test` installs it (requirements-dev.txt)")
    return str(path)


def run(command: list[str], *, timeout: float = 300, **kwargs) -> subprocess.CompletedProcess:
    """Run ``command`` in the repository and capture what it says."""
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=ROOT, **kwargs)


def kustomize(overlay: str) -> str:
    result = run([tool("kubectl"), "kustomize", str(K8S / "overlays" / overlay)])
    assert result.returncode == 0, result.stderr
    return result.stdout


def documents(text: str) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def find(docs: list[dict], kind: str, name: str) -> dict:
    """The one document of ``kind`` whose name is ``name`` (or starts with ``name-`` and a
    generator's hash)."""
    found = [
        doc
        for doc in docs
        if doc["kind"] == kind
        and (doc["metadata"]["name"] == name or doc["metadata"]["name"].startswith(f"{name}-"))
    ]
    assert len(found) == 1, f"{len(found)} {kind} named {name}"
    return found[0]


def workloads(docs: list[dict]) -> Iterator[tuple[dict, dict]]:
    """Every workload with its pod spec."""
    for doc in docs:
        if doc["kind"] in WORKLOAD_KINDS:
            yield doc, doc["spec"]["template"]["spec"]


def searchop_workloads(docs: list[dict]) -> Iterator[tuple[dict, dict]]:
    for doc, pod in workloads(docs):
        if doc["metadata"]["labels"].get("app.kubernetes.io/name") == "searchop":
            yield doc, pod


def component(doc: dict) -> str:
    return doc["metadata"]["labels"]["app.kubernetes.io/component"]
