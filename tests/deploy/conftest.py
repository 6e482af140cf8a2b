"""The deployment layer renders each overlay, and runs checkov, once per session."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.deploy.support import OVERLAYS, ROOT, documents, kustomize, run, tool


@pytest.fixture(scope="session")
def rendered() -> dict[str, str]:
    """Each overlay as ``kubectl kustomize`` renders it."""
    return {overlay: kustomize(overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="session", params=OVERLAYS)
def overlay(request) -> str:
    return request.param


@pytest.fixture(scope="session")
def docs(rendered, overlay) -> list[dict]:
    """The documents of one overlay (the tests taking it run once per overlay)."""
    return documents(rendered[overlay])


@pytest.fixture(scope="session")
def checkov_failures(rendered, tmp_path_factory) -> list[dict]:
    """checkov, once, over both rendered overlays and the Dockerfile: every failed check as
    ``{"check_id", "resource", "file", "title"}``. ``--skip-download``: offline, and only
    the checks that ship with checkov."""
    folder = tmp_path_factory.mktemp("checkov")
    for name, text in rendered.items():
        (folder / f"{name}.yaml").write_text(text)
    shutil.copy(ROOT / "Dockerfile", folder / "Dockerfile")
    result = run(
        [
            tool("checkov"),
            "--directory",
            str(folder),
            "--framework",
            "kubernetes",
            "dockerfile",
            "--skip-download",
            "--quiet",
            "--compact",
            "--output",
            "json",
        ]
    )
    assert result.returncode in (0, 1), result.stderr[-2000:]
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    return [
        {
            "check_id": failed["check_id"],
            "resource": failed["resource"],
            "file": Path(failed["file_path"]).name,
            "title": failed["check_name"],
        }
        for report in reports
        if isinstance(report, dict)
        for failed in report.get("results", {}).get("failed_checks", [])
    ]
