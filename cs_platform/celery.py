"""The Celery app: Redis as broker, configuration and the beat schedule read from Django settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cs_platform.settings")

app = Celery("cs_platform")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
