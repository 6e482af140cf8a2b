"""The Celery app. Tasks live in each app's ``tasks.py``; the schedule is in the database
(django-celery-beat), seeded from ``CELERY_BEAT_SCHEDULE`` in the settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "searchop_site.settings")

app = Celery("searchop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
