"""What runs around every Celery task and worker: the log context, the failure counter, the metrics port.

With `CELERY_METRICS_PORT` set, a worker serves Prometheus metrics on that port (`CELERY_METRICS_ADDRESS`,
loopback by default), summed over the processes of its pool: prometheus-client's multiprocess mode, where
every process writes its figures to files in `PROMETHEUS_MULTIPROC_DIR` and the worker's main process adds
them up at each scrape. The folder must be named before the first metric exists, so it is chosen when the
worker starts importing its modules, before Django is set up; it is a new temporary folder, removed when the
worker exits, unless the environment names one (then the operator empties it before each start). Any pool
works (prefork, solo, threads). This module must not import prometheus-client at the top, and
cs_platform/celery.py imports it before it makes the app.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
from typing import Any

from celery import signals
from django.conf import settings

from cs_platform import logcontext

logger = logging.getLogger(__name__)

_MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_made_folder: str | None = None
_task_contexts: dict[str, Any] = {}


@signals.task_prerun.connect
def _bind_task(task_id: str | None = None, task: Any = None, **kwargs: Any) -> None:
    if task_id is not None:
        _task_contexts[task_id] = logcontext.bind(task=task.name)


@signals.task_postrun.connect
def _unbind_task(task_id: str | None = None, **kwargs: Any) -> None:
    token = _task_contexts.pop(task_id, None) if task_id is not None else None
    if token is not None:
        logcontext.reset(token)


@signals.task_failure.connect
def _count_failure(sender: Any = None, **kwargs: Any) -> None:
    from cs_platform import metrics

    metrics.task_failed(getattr(sender, "name", None) or "unknown")


@signals.import_modules.connect
def _metrics_folder(**kwargs: Any) -> None:
    """Before Django is set up in a worker (or beat), hence before any metric exists: count into files.

    Celery calls receivers in the order they connected; this one connects before the app exists, so before the
    Django fix-up's receiver of the same signal, which sets Django up (and the admin imports the services,
    which import the metrics).
    """
    global _made_folder
    if settings.CELERY_METRICS_PORT is None:
        return
    if "cs_platform.metrics" in sys.modules:
        raise RuntimeError("cs_platform.metrics was imported before the worker's task modules: no pool metrics")
    if not os.environ.get(_MULTIPROC_ENV):
        _made_folder = tempfile.mkdtemp(prefix="cs-celery-metrics-")
        os.environ[_MULTIPROC_ENV] = _made_folder
        atexit.register(_remove_folder, os.getpid())
    from prometheus_client import values

    values.ValueClass = values.get_value_class()


@signals.worker_init.connect
def _serve_metrics(**kwargs: Any) -> None:
    """In the worker's main process, before the pool starts: an HTTP thread that sums every process's files."""
    if settings.CELERY_METRICS_PORT is None:
        return
    from prometheus_client import CollectorRegistry, multiprocess, start_http_server

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    start_http_server(settings.CELERY_METRICS_PORT, addr=settings.CELERY_METRICS_ADDRESS, registry=registry)
    logger.info(
        "metrics on http://%s:%s/metrics (files in %s)",
        settings.CELERY_METRICS_ADDRESS,
        settings.CELERY_METRICS_PORT,
        os.environ[_MULTIPROC_ENV],
    )


@signals.worker_process_shutdown.connect
def _forget_process(pid: int | None = None, **kwargs: Any) -> None:
    if settings.CELERY_METRICS_PORT is not None and os.environ.get(_MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


def _remove_folder(owner_pid: int) -> None:
    """At the exit of the process that made the folder (a forked pool process inherits this hook too)."""
    if _made_folder is not None and os.getpid() == owner_pid:
        shutil.rmtree(_made_folder, ignore_errors=True)
