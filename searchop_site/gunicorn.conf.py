"""gunicorn configuration for the SearchOp web tier: ``gunicorn -c searchop_site/gunicorn.conf.py
searchop_site.wsgi``. Every value can be overridden with the environment variable named beside it.

Prometheus multiprocess mode: each worker writes its metrics to files in
``PROMETHEUS_MULTIPROC_DIR``, set here before anything imports ``prometheus_client``; the
directory is emptied when the master starts and a dead worker's live gauges are dropped
(``child_exit``), so ``/metrics`` adds up every worker correctly.
"""

import os
import shutil
import tempfile
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "2"))
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "sync")
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# Load the app in each worker (not in the master): model loading threads belong to workers.
preload_app = False
# gunicorn 27's control socket defaults to one path per user, shared by every instance on the host.
control_socket_disable = os.environ.get("GUNICORN_CONTROL_SOCKET", "0") != "1"

_default_dir = str(Path(tempfile.gettempdir()) / "searchop-prometheus")
os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", _default_dir)
_metrics_dir = Path(os.environ["PROMETHEUS_MULTIPROC_DIR"])


def on_starting(server):
    """Empty the metrics directory: files of a previous master would add up forever."""
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    _metrics_dir.mkdir(parents=True, exist_ok=True)


def post_worker_init(worker):
    """Start loading the production model in the background as soon as the worker is up."""
    from ranking.serving.state import SERVING

    try:
        SERVING.warm()
    except Exception:  # the database may not be reachable yet; the first request retries
        worker.log.warning("model warm-up deferred: database not reachable yet")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
