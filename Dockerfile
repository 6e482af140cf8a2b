# SearchOp: one image for the web tier (gunicorn), the Celery worker, beat and the migrate
# Job; the Kubernetes manifests in k8s/ choose the command. Build: docker build -t searchop:TAG .
# Checked by hadolint in the test suite (.hadolint.yaml says which rules are off and why).

# ---- build: the virtualenv, with pip and its caches, stays in this stage ---------------------
FROM python:3.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

# A C compiler for the serving path's two small extensions (ranking/compiled.py); it stays in
# this stage. Every requirement ships a wheel for this platform.
RUN apt-get update \
    && apt-get install --yes --no-install-recommends gcc libc6-dev \
    && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
COPY requirements.txt /tmp/requirements.txt
RUN /opt/venv/bin/pip install --no-cache-dir --requirement /tmp/requirements.txt \
    && /opt/venv/bin/pip uninstall --yes pip setuptools wheel
# The compiled feature kernel and candidate check, named by their sources' digest; the
# read-only root filesystem at run time could not build them.
WORKDIR /build
COPY ranking ranking
RUN python -m ranking.compiled

# ---- final: the runtime only --------------------------------------------------------------
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    SEARCHOP_VAR_DIR=/var/lib/searchop

# libgomp1: LightGBM's OpenMP runtime (its wheels do not bundle it).
RUN apt-get update \
    && apt-get install --yes --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

# A fixed uid, so that the manifests can say runAsUser and runAsNonRoot can check it.
RUN groupadd --system --gid 10001 searchop \
    && useradd --system --uid 10001 --gid searchop --home-dir /app --no-create-home --shell /usr/sbin/nologin searchop \
    && install --directory --owner 10001 --group 10001 /var/lib/searchop

COPY --from=build /opt/venv /opt/venv
WORKDIR /app
COPY . .
COPY --from=build /build/ranking/features/*.so ranking/features/
COPY --from=build /build/ranking/serving/*.so ranking/serving/

# Static files (the admin's, hashed and compressed by WhiteNoise) are part of the image, and
# the code is compiled once here: the root filesystem is read-only at run time.
# collectstatic reads no database and no real secret; these values exist only for this step.
RUN DEBUG=0 SECRET_KEY=collectstatic-only-not-a-secret DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 \
    python manage.py collectstatic --noinput --verbosity 0 \
    && python -m compileall -q catalog ranking training searchop_site \
    && rm -f /tmp/collectstatic.sqlite3

USER 10001:10001
EXPOSE 8000

# Docker's own check (Kubernetes uses the probes in k8s/ instead): GET /health for the web
# tier, the process itself for the worker, beat and the Job (see searchop_site/healthcheck.py).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-m", "searchop_site.healthcheck"]

# The web tier. The worker, beat and the migrate Job override the command.
CMD ["gunicorn", "-c", "searchop_site/gunicorn.conf.py", "searchop_site.wsgi"]
