"""gunicorn configuration for the SearchOp web tier: ``gunicorn -c searchop_site/gunicorn.conf.py
searchop_site.wsgi``. Every value can be overridden with the environment variable named beside it.

Threaded workers (``gthread``), so that slow clients cannot stop the service. A sync worker
reads a request and serves it in its one thread: four connections sending their headers a
byte a second held both workers (a normal request took 19.5 s, and gunicorn killed workers
that blocked past its timeout). Here each worker's main thread accepts connections and waits
on them in a poller: a connection that sends nothing holds no thread (after 5 s) and is
closed after ``keepalive``; one that trickles its request holds one of the worker's
``threads`` until it is complete or over the request limits below, while the other threads
serve; the main thread keeps the worker's heartbeat, so gunicorn never kills a worker for a
slow client. The hot path costs what it did (the same code in a pool thread), and kept-alive
connections are served without a new TCP connection per request. Why not the others: an
async front (ASGI) runs Django's sync views through a thread hop per request, and a buffering
proxy (nginx) would have to be in front of every deployment path, the demo's included.
Sixteen threads per worker leave a worker serving even if every one of a handful of slow
clients lands on it; they are started only as concurrent requests need them, and each holds
its own database connection (``DATABASE_CONN_MAX_AGE``) once it has used one. A crowd of
hostile slow clients is a job for the ingress in front (ingress-nginx buffers requests).

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
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gthread")
threads = int(os.environ.get("GUNICORN_THREADS", "16"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
# What one connection can make a worker read before its request starts: the API's requests
# have short lines and a few headers (the body is bounded by SEARCHOP_MAX_BODY_BYTES).
limit_request_line = 2048
limit_request_fields = 50
limit_request_field_size = 8190
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
