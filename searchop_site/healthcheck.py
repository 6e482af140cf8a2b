"""The image's ``HEALTHCHECK``: ``python -m searchop_site.healthcheck``.

One image runs every tier, so the check looks at what the container runs (its process 1):
gunicorn is healthy when ``GET /health`` answers 200 on its port; the Celery worker, beat and
the migrate Job are healthy while their process runs, which is what Docker already knows.
Kubernetes ignores ``HEALTHCHECK`` and uses the probes in ``k8s/``; this is for plain Docker
and Compose. Standard library only: it must not import Django to answer.
"""

from __future__ import annotations

import os
import sys
import urllib.request
from pathlib import Path


def main_process_command() -> list[str]:
    try:
        raw = Path("/proc/1/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def web_health_url() -> str:
    port = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000").rsplit(":", 1)[-1]
    return f"http://127.0.0.1:{port}/health"


def healthy(command: list[str], url: str) -> bool:
    """Whether a container running ``command`` is healthy: gunicorn when ``url`` answers 200,
    anything else while it runs (this is only called while it does)."""
    if not any(Path(part).name == "gunicorn" for part in command[:2]):
        return True
    # Host: localhost, which ALLOWED_HOSTS must list (k8s/ says so for the probes too).
    request = urllib.request.Request(url, headers={"Host": "localhost"})
    try:
        with urllib.request.urlopen(request, timeout=4) as response:
            return response.status == 200
    except OSError as error:
        print(f"unhealthy: {error}", file=sys.stderr)
        return False


def main() -> int:
    return 0 if healthy(main_process_command(), web_health_url()) else 1


if __name__ == "__main__":
    sys.exit(main())
