"""The import rules (``[tool.importlinter]`` in pyproject.toml, checked by ``lint-imports`` in
the test command) hold for the code as it is, and fail on a wrong arrow: each rule is shown
broken by one deliberately wrong import in a copy of the apps."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LINT_IMPORTS = str(Path(sys.executable).parent / "lint-imports")
APPS = ("catalog", "ranking", "training", "searchop_site")


def lint_imports(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache"], cwd=root, capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture
def copy_of_the_apps(tmp_path) -> Path:
    for app in APPS:
        shutil.copytree(ROOT / app, tmp_path / app, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_the_code_keeps_every_import_rule():
    result = lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "wrong_import", "broken_rule"),
    [
        ("catalog/models.py", "import ranking.selectors", "The apps stack one way"),
        ("ranking/selectors.py", "import training.decision", "The apps stack one way"),
        ("ranking/serving/state.py", "import training.lists", "Serving does not import training"),
        # Serving imports the feature code; the feature code importing serving back is a cycle.
        ("ranking/features/contract.py", "import ranking.serving.rank", "No cycles between the modules"),
        ("training/metrics.py", "import django.db", "Pure computation imports no Django"),
        # The shoppers' relevance and clicks must stay callable by a simulator without Django.
        ("catalog/synthetic/relevance.py", "import catalog.models", "Pure computation imports no Django"),
    ],
)
def test_a_wrong_import_breaks_its_rule(copy_of_the_apps, module, wrong_import, broken_rule):
    target = copy_of_the_apps / module
    target.write_text(target.read_text() + f"\n{wrong_import}  # noqa\n")

    result = lint_imports(copy_of_the_apps)

    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert broken_rule in broken, result.stdout
