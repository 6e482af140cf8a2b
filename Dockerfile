# SearchOp: one image for the web tier (gunicorn), the Celery worker, beat and migrations;
# the Kubernetes manifests in k8s/ choose the command. Build: docker build -t searchop:TAG .
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# libgomp1: LightGBM's OpenMP runtime (its wheels do not bundle it).
RUN apt-get update \
    && apt-get install --yes --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/*

# A fixed uid, so that the manifests can say runAsUser and runAsNonRoot can check it.
RUN groupadd --system --gid 10001 searchop \
    && useradd --system --uid 10001 --gid searchop --home-dir /app --no-create-home --shell /usr/sbin/nologin searchop

WORKDIR /app

# Requirements first: the layer is reused until requirements.txt changes.
COPY requirements.txt .
RUN pip install --requirement requirements.txt

COPY . .

# Static files (the admin's, hashed and compressed by WhiteNoise) are part of the image.
# collectstatic reads no database and no real secret; these values exist only for this step.
RUN DEBUG=0 SECRET_KEY=collectstatic-only-not-a-secret DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 \
    python manage.py collectstatic --noinput \
    && python -m compileall -q catalog ranking training searchop_site

USER 10001:10001
EXPOSE 8000

# The web tier. The worker, beat and the migrate Job override the command.
CMD ["gunicorn", "-c", "searchop_site/gunicorn.conf.py", "searchop_site.wsgi"]
