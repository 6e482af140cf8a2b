"""SearchOp settings: everything comes from the environment.

The defaults give the embedded set-up (a SQLite file under ``var/``, Celery tasks run
in-process) so that the demo needs no server. Production sets ``DATABASE_URL``
(PostgreSQL through psycopg 3), ``REDIS_URL`` and ``SECRET_KEY`` (or ``SECRET_KEY_FILE``,
a mounted secret). See the README's "Configuration" table for every variable.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("SEARCHOP_VAR_DIR", BASE_DIR / "var"))

env = environ.Env()


def env_secret(name: str, default: str | None = None) -> str | None:
    """Read ``NAME`` from the environment, or the file named by ``NAME_FILE`` (a mounted secret)."""
    value = os.environ.get(name)
    if value:
        return value
    path = os.environ.get(f"{name}_FILE")
    if path:
        return Path(path).read_text().strip()
    return default


# ------------------------------------------------------------------------------
# Core
# ------------------------------------------------------------------------------
DEBUG = env.bool("DEBUG", default=False)
SECRET_KEY = env_secret("SECRET_KEY", "insecure-debug-only-key" if DEBUG else None)
if not SECRET_KEY:
    raise ImproperlyConfigured("SECRET_KEY (or SECRET_KEY_FILE) is required when DEBUG is off.")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_prometheus",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "catalog",
    "ranking",
    "training",
]

MIDDLEWARE = [
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Any error on /api/ answered in the API's JSON shape, never as an HTML page.
    "ranking.serving.http.ApiErrorsAsJson",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

ROOT_URLCONF = "searchop_site.urls"
WSGI_APPLICATION = "searchop_site.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# ------------------------------------------------------------------------------
# Database: a SQLite file under var/ unless DATABASE_URL says otherwise.
# ------------------------------------------------------------------------------
# DATABASE_URL_FILE works too (a mounted secret: the URL holds the password).
DATABASES = {
    "default": environ.Env.db_url_config(
        env_secret("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'searchop.sqlite3'}"
    ),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL lets the web server read while a command writes; a busy timeout instead of
    # "database is locked" when two writers meet.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "timeout": 30,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
        }
    )
else:
    # Persistent connections, checked before reuse (a restarted database or PgBouncer costs
    # one failed check, not a failed request). One connection per process and thread: the
    # budget per tier is in docs/DEPLOYMENT.md.
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    # Behind PgBouncer in transaction pooling, a named cursor would outlive the transaction
    # on the server it was opened on: Django must not open any (.iterator() fetches in one go).
    # Prepared statements are already off (Django's psycopg 3 default, prepare_threshold None).
    DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"] = env.bool(
        "DATABASE_DISABLE_SERVER_SIDE_CURSORS", default=False
    )
DATABASES["default"]["TEST"] = {"NAME": env.str("TEST_DATABASE_NAME", default="") or None}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# ------------------------------------------------------------------------------
# Redis: Celery broker and the shared cache (throttling). Without REDIS_URL, tasks
# run in-process and the cache is per process: the embedded default.
# ------------------------------------------------------------------------------
# REDIS_URL_FILE works too (a managed Redis URL may hold a password).
REDIS_URL = env_secret("REDIS_URL", "") or ""
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env.str("CACHE_KEY_PREFIX", default="searchop"),
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# The broker: Redis when REDIS_URL is set. Without it, tasks run in-process, unless
# CELERY_BROKER_URL=filesystem:// (the demo): kombu's filesystem transport keeps the queue in
# folders under var/, so a real worker and beat run with no server.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="") or REDIS_URL or "memory://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    _BROKER_DIR = VAR_DIR / "broker"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_BROKER_DIR / "queue"),
        "data_folder_out": str(_BROKER_DIR / "queue"),
        "processed_folder": str(_BROKER_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(_BROKER_DIR / "control"),
    }
    for _folder in ("queue", "processed", "control"):
        (_BROKER_DIR / _folder).mkdir(parents=True, exist_ok=True)
CELERY_RESULT_BACKEND = None
CELERY_RESULT_EXPIRES = None  # no result backend: no daily cleanup task either
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=CELERY_BROKER_URL == "memory://")
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# Beat writes a task's last run as soon as it sends it (default: every 3 minutes), so the
# dashboard reads beat's heartbeat from the watchdog's last run (training.dashboard.beat).
CELERY_BEAT_SYNC_EVERY = 1

# ------------------------------------------------------------------------------
# Auth, i18n, static files
# ------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# ------------------------------------------------------------------------------
# Security: with DEBUG off everything is on unless turned off explicitly by its variable,
# so ``manage.py check --deploy --fail-level WARNING`` passes with only SECRET_KEY,
# DATABASE_URL and ALLOWED_HOSTS set (tests/deploy/test_settings_deploy.py runs it). The
# demo and the tests speak plain HTTP on 127.0.0.1 and turn off, by name, what they must
# (run.py PLAIN_HTTP).
# ------------------------------------------------------------------------------
SECURE = not DEBUG
# TLS ends at the ingress, which says so in X-Forwarded-Proto; only the ingress reaches the
# web pods (k8s/base/network-policy.yaml), so no client can forge it.
if env.bool("SECURE_PROXY_SSL_HEADER", default=SECURE):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=SECURE)
# The kubelet's probes and Prometheus talk plain HTTP to the pod: never redirected.
SECURE_REDIRECT_EXEMPT = [r"^health$", r"^ready$", r"^metrics$"]
# HSTS: a year, this host and its subdomains; ``preload`` only allows a submission to the
# browsers' list, which is a separate, deliberate step.
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31_536_000 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=SECURE)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=SECURE)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=SECURE)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=SECURE)
SESSION_COOKIE_HTTPONLY = True
# The admin's forms carry the token; no script of ours reads the cookie.
CSRF_COOKIE_HTTPONLY = True
SECURE_CONTENT_TYPE_NOSNIFF = True

# /metrics names the models, their versions and the traffic: it answers a direct connection
# from an allowed network, or any request with the token (``Authorization: Bearer <token>``;
# METRICS_TOKEN_FILE works too). A request that came through a proxy (X-Forwarded-For)
# needs the token whatever its address. Prometheus in the cluster: the token (k8s/).
SEARCHOP_METRICS_ALLOWED_NETWORKS = env.list(
    "SEARCHOP_METRICS_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"]
)
SEARCHOP_METRICS_TOKEN = env_secret("METRICS_TOKEN", "") or ""

# ------------------------------------------------------------------------------
# SearchOp
# ------------------------------------------------------------------------------
SEARCHOP_VAR_DIR = VAR_DIR

# Time windows of the weekly pipeline, counted back from the day after the latest event:
# T3 = that day, T2 = T3 - eval_days, T1 = T2 - train_days. Training features come from
# events in [T1 - history_days, T1), training lists are those shown in [T1, T2) (the last
# validation_days of it for early stopping), evaluation lists those shown in [T2, T3) with
# features from [T2 - history_days, T2). Serving features read the same length of history
# before their cut-off, so the model sees at serving what it was trained on (a longer serving
# history shifts every count, age and smoothed rate: train/serve skew the drift check flags).
# A shop needs history_days + train_days + eval_days of events for full-length windows.
SEARCHOP_WINDOWS = {
    "eval_days": env.int("SEARCHOP_EVAL_DAYS", default=14),
    "train_days": env.int("SEARCHOP_TRAIN_DAYS", default=28),
    "validation_days": env.int("SEARCHOP_VALIDATION_DAYS", default=5),
    "history_days": env.int("SEARCHOP_HISTORY_DAYS", default=14),
}

# LightGBM LambdaMART. Small trees and strong regularisation: a shop's clicks are few and
# noisy. deterministic + a fixed thread count + a seed make a retrain on the same data
# give the same model.
SEARCHOP_LIGHTGBM_PARAMS = {
    "learning_rate": env.float("SEARCHOP_LEARNING_RATE", default=0.05),
    "num_leaves": env.int("SEARCHOP_NUM_LEAVES", default=7),
    "min_data_in_leaf": env.int("SEARCHOP_MIN_DATA_IN_LEAF", default=100),
    "lambda_l2": 10.0,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "label_gain": [0, 1, 3, 7],
    "lambdarank_truncation_level": 20,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": env.int("SEARCHOP_TRAIN_THREADS", default=2),
    "seed": 42,
    "verbose": -1,
}
# A fixed number of rounds by default: on a few hundred validation lists the
# propensity-weighted NDCG is too noisy to stop on (it peaked after 2 trees on the demo
# data). The validation curve is still computed and reported; set
# SEARCHOP_EARLY_STOPPING_ROUNDS > 0 to stop on it when a shop has more data.
SEARCHOP_TRAINING = {
    "num_boost_round": env.int("SEARCHOP_NUM_BOOST_ROUND", default=100),
    "early_stopping_rounds": env.int("SEARCHOP_EARLY_STOPPING_ROUNDS", default=0),
    # Unbiased LambdaMART (LightGBM's Dataset(position=...)); the other variant is trained
    # and reported beside it.
    "position_bias": env.bool("SEARCHOP_POSITION_BIAS", default=True),
    "position_bias_regularization": env.float("SEARCHOP_POSITION_BIAS_REGULARIZATION", default=0.1),
    # Without early stopping the validation curve is only reported: every 10th round is
    # enough, and computing it every round made training 1.3-1.4x a bare lightgbm.train.
    "validation_every": env.int("SEARCHOP_VALIDATION_EVERY", default=10),
}
# The compare page (ranking's admin) pairs two versions on the same lists with the training
# app's evaluation; ranking may not import training, so the wiring names it here.
SEARCHOP_VERSION_COMPARISON = "training.services.comparison.model_versions_compare"
SEARCHOP_EVALUATION = {
    "bootstrap_resamples": env.int("SEARCHOP_BOOTSTRAP_RESAMPLES", default=1000),
    "seed": 0,
    "propensity_clip": 0.05,
}
# Promote when the model beats production's debiased NDCG@10 by this much (relative) and
# the paired interval's lower bound is above 0; see training/decision.py for the gates.
SEARCHOP_DECISION = {
    "min_relative_gain": env.float("SEARCHOP_MIN_RELATIVE_GAIN", default=0.05),
    "min_eval_lists_with_click": env.int("SEARCHOP_MIN_EVAL_LISTS_WITH_CLICK", default=30),
}
# Online experiments (ranking.experiments; README "Online evaluation"). With promotion
# "online" a candidate that passes the offline gates is interleaved with production and
# promoted only when users prefer it; "offline" promotes on the offline decision alone.
SEARCHOP_EXPERIMENTS = {
    "promotion": env.str("SEARCHOP_PROMOTION", default="online"),
    # When an online gate ends without a significant result: "offline" (the offline decision
    # stands: promote) or "reject".
    "inconclusive": env.str("SEARCHOP_ONLINE_INCONCLUSIVE", default="offline"),
    "alpha": env.float("SEARCHOP_EXPERIMENT_ALPHA", default=0.05),
    # Interleaving promotes only with a preference (wins - losses) / searches with a click above this.
    "min_preference": env.float("SEARCHOP_MIN_PREFERENCE", default=0.02),
    "min_searches": env.int("SEARCHOP_EXPERIMENT_MIN_SEARCHES", default=200),
    "max_searches": env.int("SEARCHOP_EXPERIMENT_MAX_SEARCHES", default=20_000),
    "max_days": env.float("SEARCHOP_EXPERIMENT_MAX_DAYS", default=14.0),
    # The share of searches the pipeline's online gate interleaves.
    "online_traffic": env.float("SEARCHOP_ONLINE_TRAFFIC", default=0.5),
    # After every promotion the new production is interleaved with the version it replaced
    # for this many searches (0: no watch) on this share of traffic.
    "watch_searches": env.int("SEARCHOP_WATCH_SEARCHES", default=2_000),
    "watch_traffic": env.float("SEARCHOP_WATCH_TRAFFIC", default=0.1),
    # Guardrails: the challenger's error rate and the mean time it adds to a search.
    "max_error_rate": env.float("SEARCHOP_GUARDRAIL_MAX_ERROR_RATE", default=0.01),
    "max_added_ms": env.float("SEARCHOP_GUARDRAIL_MAX_ADDED_MS", default=5.0),
    # A/B canary stages: searches each stage must hold its guardrails for before the next.
    "stage_searches": env.int("SEARCHOP_CANARY_STAGE_SEARCHES", default=1_000),
    "evaluate_minutes": env.int("SEARCHOP_EXPERIMENT_EVALUATE_MINUTES", default=5),
}

# Drift monitoring (ranking.drift; README "Drift monitoring"): the served features of the last
# day against the production model's training profile. PSI above 0.2 is the customary
# "significant shift" (0.1-0.2 moderate); the unseen-query share is flagged when it exceeds
# the training data's own rate of new queries by unseen_increase, the CTR of the last day
# when it moved by more than ctr_relative_change of its trailing average. A share of rank
# requests is sampled (at most max_requests_per_minute per worker, rows_per_request
# candidates each) and written every flush_seconds; samples older than keep_days are pruned.
SEARCHOP_DRIFT = {
    "psi_threshold": env.float("SEARCHOP_DRIFT_PSI_THRESHOLD", default=0.2),
    # The catalog's attributes (price, relative price, rating) are exact, not estimated from
    # sampled behaviour, so even the customary "moderate" shift (0.1) is a real change.
    "catalog_psi_threshold": env.float("SEARCHOP_DRIFT_CATALOG_PSI_THRESHOLD", default=0.1),
    "score_psi_threshold": env.float("SEARCHOP_DRIFT_SCORE_PSI_THRESHOLD", default=0.2),
    # Reported, never flagged: p_recency_days is the time since each product's last event at
    # the cut-off, so its distribution is one reading of the traffic of the hours before that
    # moment and moves between any two cut-offs of an unchanged shop (on the synthetic shop,
    # PSI 0.3 to 1.2 between the training, evaluation and serving cut-offs).
    "watched_features": env.list("SEARCHOP_DRIFT_WATCHED_FEATURES", default=["p_recency_days"]),
    "feature_thresholds": env.dict("SEARCHOP_DRIFT_FEATURE_THRESHOLDS", cast={"value": float}, default={}),
    "unseen_increase": env.float("SEARCHOP_DRIFT_UNSEEN_INCREASE", default=0.1),
    "ctr_relative_change": env.float("SEARCHOP_DRIFT_CTR_RELATIVE_CHANGE", default=0.2),
    "ctr_trailing_days": env.int("SEARCHOP_DRIFT_CTR_TRAILING_DAYS", default=7),
    "window_hours": env.float("SEARCHOP_DRIFT_WINDOW_HOURS", default=24.0),
    "min_searches": env.int("SEARCHOP_DRIFT_MIN_SEARCHES", default=100),
    "sample_share": env.float("SEARCHOP_DRIFT_SAMPLE_SHARE", default=0.02),
    "max_requests_per_minute": env.int("SEARCHOP_DRIFT_MAX_REQUESTS_PER_MINUTE", default=4),
    "rows_per_request": env.int("SEARCHOP_DRIFT_ROWS_PER_REQUEST", default=20),
    # The check reads at most this many of the window's newest sampled searches (memory bound).
    "max_searches": env.int("SEARCHOP_DRIFT_MAX_SEARCHES", default=20_000),
    "flush_seconds": env.float("SEARCHOP_DRIFT_FLUSH_SECONDS", default=60.0),
    "keep_days": env.int("SEARCHOP_DRIFT_KEEP_DAYS", default=3),
    "check_minutes": env.int("SEARCHOP_DRIFT_CHECK_MINUTES", default=60),
}

# Monthly partitions of the events and the impression log (PostgreSQL; catalog.partitions):
# the daily upkeep prepares this many months ahead, and, when SEARCHOP_RETENTION_MONTHS is
# above 0, drops the months before that many whole months ago (never those a production,
# archived or candidate model was trained or evaluated on). 0 keeps everything; prune by hand
# with ``manage.py prune --before DATE``.
SEARCHOP_PARTITIONS_AHEAD_MONTHS = env.int("SEARCHOP_PARTITIONS_AHEAD_MONTHS", default=3)
SEARCHOP_RETENTION_MONTHS = env.int("SEARCHOP_RETENTION_MONTHS", default=0)

# The dashboard's hourly traffic roll-up (training.dashboard.rollup): beat counts the complete
# hours of the last week every ROLLUP_MINUTES; the last RECENT_HOURS again each time, and any
# hour whose row is older than REFRESH_HOURS again (late events), so the day and week views
# read about 170 rows instead of a week of searches and events.
SEARCHOP_TRAFFIC_ROLLUP = {
    "every_minutes": env.int("SEARCHOP_TRAFFIC_ROLLUP_MINUTES", default=5),
    "recent_hours": env.int("SEARCHOP_TRAFFIC_ROLLUP_RECENT_HOURS", default=3),
    "refresh_hours": env.int("SEARCHOP_TRAFFIC_ROLLUP_REFRESH_HOURS", default=24),
}

# The weekly run: day and time (UTC). Beat's trigger queues the run of that firing once,
# however many beat processes send it (training.services.schedule).
_PIPELINE_HOUR, _, _PIPELINE_MINUTE = env.str("SEARCHOP_PIPELINE_TIME", default="03:00").partition(":")
CELERY_BEAT_SCHEDULE = {
    "weekly-pipeline": {
        "task": "training.tasks.pipeline_schedule_task",
        "schedule": crontab(
            minute=int(_PIPELINE_MINUTE or 0),
            hour=int(_PIPELINE_HOUR),
            day_of_week=env.str("SEARCHOP_PIPELINE_DAY", default="mon"),
        ),
    },
    # Guardrails, decisions, canary stages and the watch of the running experiment.
    "experiments-decide": {
        "task": "ranking.tasks.experiments_decide_task",
        "schedule": timedelta(minutes=SEARCHOP_EXPERIMENTS["evaluate_minutes"]),
    },
    # Drift of the served features, scores, queries and CTR (ranking.drift).
    "drift-check": {
        "task": "ranking.tasks.drift_check_task",
        "schedule": timedelta(minutes=SEARCHOP_DRIFT["check_minutes"]),
    },
    # The dashboard's hourly traffic roll-up (training.dashboard.rollup).
    "traffic-rollup": {
        "task": "training.tasks.traffic_hours_roll_up_task",
        "schedule": timedelta(minutes=SEARCHOP_TRAFFIC_ROLLUP["every_minutes"]),
    },
    "partition-upkeep": {
        "task": "training.tasks.partitions_upkeep_task",
        "schedule": crontab(minute=30, hour=2),
        "kwargs": {},
    },
}

# ------------------------------------------------------------------------------
# The API
# ------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "ranking.serving.http.api_exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["ranking.serving.http.BoundedJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "SearchOp API",
    "DESCRIPTION": (
        "Learning-to-rank for shop search. POST /api/rank orders candidates for a query; POST "
        "/api/events records what users did with the list (send back the request_id)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    # Swagger UI from our own static files (drf-spectacular-sidecar): /api/docs/ works without
    # internet access and under a strict Content-Security-Policy.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SECURITY": [{"ApiKey": []}],
    "APPEND_COMPONENTS": {
        "securitySchemes": {
            "ApiKey": {
                "type": "apiKey",
                "in": "header",
                "name": "Authorization",
                "description": (
                    "The whole header value: `Api-Key <key>`. Keys are created and revoked in the "
                    "admin; not needed when SEARCHOP_REQUIRE_API_KEY is off."
                ),
            }
        }
    },
    "TAGS": [
        {"name": "ranking", "description": "Rank candidates and record what users did with them."},
        {"name": "ops", "description": "Probes for the orchestrator (no API key)."},
    ],
}
# Machine clients need an API key (djangorestframework-api-key, managed in the admin) unless
# this is off, as in the embedded demo.
SEARCHOP_REQUIRE_API_KEY = env.bool("SEARCHOP_REQUIRE_API_KEY", default=True)
SEARCHOP_API_KEY_CACHE_SECONDS = env.float("SEARCHOP_API_KEY_CACHE_SECONDS", default=5.0)
SEARCHOP_DEFAULT_REQUESTS_PER_MINUTE = env.int("SEARCHOP_DEFAULT_REQUESTS_PER_MINUTE", default=6000)
SEARCHOP_MAX_CANDIDATES = env.int("SEARCHOP_MAX_CANDIDATES", default=1000)
SEARCHOP_MAX_BODY_BYTES = env.int("SEARCHOP_MAX_BODY_BYTES", default=2 * 1024 * 1024)
# Hot swap: how often a worker checks which model is production (<= 2 s), how long the first
# request may wait for the first load, how soon a model that failed to load is retried.
SEARCHOP_MODEL_CHECK_SECONDS = env.float("SEARCHOP_MODEL_CHECK_SECONDS", default=2.0)
SEARCHOP_INITIAL_LOAD_TIMEOUT_SECONDS = env.float("SEARCHOP_INITIAL_LOAD_TIMEOUT_SECONDS", default=30.0)
SEARCHOP_MODEL_RETRY_SECONDS = env.float("SEARCHOP_MODEL_RETRY_SECONDS", default=60.0)
SEARCHOP_COMPILED_INFERENCE = env.bool("SEARCHOP_COMPILED_INFERENCE", default=True)
# The impression log: "thread" (batched in the background), "sync" (in the request) or "off".
SEARCHOP_IMPRESSION_LOG = env.str("SEARCHOP_IMPRESSION_LOG", default="thread")
SEARCHOP_IMPRESSION_LOG_FLUSH_SECONDS = env.float("SEARCHOP_IMPRESSION_LOG_FLUSH_SECONDS", default=0.25)
SEARCHOP_IMPRESSION_LOG_MAX_QUEUE = env.int("SEARCHOP_IMPRESSION_LOG_MAX_QUEUE", default=10_000)
# The benchmark's endpoints (POST /api/bench/floor, /api/bench/rank-two-rankers): not even
# routed unless a benchmark turns them on.
SEARCHOP_BENCH_ENDPOINTS = env.bool("SEARCHOP_BENCH_ENDPOINTS", default=False)

# ------------------------------------------------------------------------------
# Faults: what the service does when the database, Redis or a worker fails (the README's
# "Failure modes" table).
# ------------------------------------------------------------------------------
# A 503 (database unreachable, model still loading) tells the client when to retry.
SEARCHOP_RETRY_AFTER_SECONDS = env.int("SEARCHOP_RETRY_AFTER_SECONDS", default=5)
# While the database is unreachable, a worker keeps its answer for a key it checked within
# this long (ranking goes on from memory); see ranking/serving/access.py for the trade-off.
SEARCHOP_API_KEY_OUTAGE_GRACE_SECONDS = env.float("SEARCHOP_API_KEY_OUTAGE_GRACE_SECONDS", default=600.0)
# PostgreSQL sessions: give up connecting after a few seconds (an unreachable host would
# otherwise hold a request for the OS's TCP timeout), and have the server check every few
# seconds that the client of a running query is still there, so that a killed process (an
# import, a worker) does not leave its query running, or waiting for a lock, until it ends.
if DATABASES["default"]["ENGINE"].endswith("postgresql"):
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options.setdefault("connect_timeout", env.int("SEARCHOP_DB_CONNECT_TIMEOUT_SECONDS", default=5))
    _check_ms = round(1000 * env.float("SEARCHOP_DB_CLIENT_CHECK_SECONDS", default=5.0))
    # PgBouncer refuses the ``options`` startup parameter: behind it (server-side cursors off),
    # set the check on the database role instead (docs/DEPLOYMENT.md).
    if _check_ms > 0 and not DATABASES["default"]["DISABLE_SERVER_SIDE_CURSORS"]:
        _options["options"] = (
            f"{_options.get('options', '')} -c client_connection_check_interval={_check_ms}".strip()
        )
# Pipeline runs: a running run's worker records a heartbeat this often and is taken for dead
# after four missed beats; a run queued this long without a worker taking it lost its
# message. The watchdog (a beat task) closes both and starts a missed scheduled run.
SEARCHOP_PIPELINE_HEARTBEAT_SECONDS = env.float("SEARCHOP_PIPELINE_HEARTBEAT_SECONDS", default=30.0)
SEARCHOP_PIPELINE_QUEUE_TIMEOUT_SECONDS = env.float("SEARCHOP_PIPELINE_QUEUE_TIMEOUT_SECONDS", default=1800.0)
SEARCHOP_PIPELINE_WATCHDOG_SECONDS = env.int("SEARCHOP_PIPELINE_WATCHDOG_SECONDS", default=60)
CELERY_BEAT_SCHEDULE["pipeline-watchdog"] = {
    "task": "training.tasks.pipeline_watchdog_task",
    "schedule": timedelta(seconds=SEARCHOP_PIPELINE_WATCHDOG_SECONDS),
    # A watchdog message that waited longer than its interval (no worker up) is dropped:
    # the next one does the same work.
    "options": {"expire_seconds": SEARCHOP_PIPELINE_WATCHDOG_SECONDS},
}
