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
        ("catalog/wrong_arrow.py", "import ranking.selectors\n", "The apps stack one way"),
        ("ranking/wrong_arrow.py", "import training.decision\n", "The apps stack one way"),
        ("ranking/serving/wrong_arrow.py", "import training.lists\n", "Serving does not import training"),
        ("ranking/features/contract_cycle.py", "import ranking.serving.rank\n", "No cycles between the modules"),
    ],
)
def test_a_wrong_import_breaks_its_rule(copy_of_the_apps, module, wrong_import, broken_rule):
    if module.endswith("contract_cycle.py"):
        # The features package is imported by serving; serving imported back from it is a cycle.
        target = copy_of_the_apps / "ranking/features/contract.py"
        target.write_text(target.read_text() + "\nimport ranking.serving.rank  # noqa\n")
    else:
        (copy_of_the_apps / module).write_text(wrong_import)

    result = lint_imports(copy_of_the_apps)

    assert result.returncode != 0
    broken = result.stdout.split("Broken contracts", 1)[-1]
    assert broken_rule in broken, result.stdout
