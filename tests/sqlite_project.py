"""The project on the embedded SQLite default, in a child process, as the demo runs it: a
SQLite file of the test's own, migrated, and ``manage.py`` commands against it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


class SqliteProject:
    def __init__(self, folder: Path):
        self.env = {
            **{
                key: value
                for key, value in os.environ.items()
                if key not in ("REDIS_URL", "TEST_DATABASE_NAME")
            },
            "DATABASE_URL": f"sqlite:///{folder / 'demo.sqlite3'}",
            "SEARCHOP_VAR_DIR": str(folder),
        }
        migrated = self.manage("migrate", "--noinput", "--verbosity", "0")
        assert migrated.returncode == 0, migrated.stderr

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
        )

    def facts(self, script: str) -> dict:
        """What ``script`` (run by ``manage.py shell``) printed last, as JSON."""
        shell = self.manage("shell", "--command", script)
        assert shell.returncode == 0, shell.stderr
        return json.loads(shell.stdout.strip().splitlines()[-1])
