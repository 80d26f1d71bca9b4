"""`GET /healthz`: is this worker able to reach PostgreSQL and Redis?"""

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from cs_platform import metrics

# Each check waits this long at most, so that a load balancer hears "down" rather than nothing.
CHECK_TIMEOUT_SECONDS = 2


def _database_state() -> str:
    """`SELECT 1` on a connection of the worker's pool, waiting for one at most CHECK_TIMEOUT_SECONDS: with
    PostgreSQL away the pool has none to give, and a request would wait DB_POOL_TIMEOUT (10 s) for one."""
    try:
        # The PostgreSQL backend's pool (settings: OPTIONS["pool"]); the stub types `connection` as any backend.
        pool = connection.pool  # type: ignore[attr-defined]
        pool.open()  # as Django does before its first connection; a no-op once open
        with pool.connection(timeout=CHECK_TIMEOUT_SECONDS) as conn:
            conn.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; the text says why
        metrics.error_caught("health", exc, backend="database")
        return f"down: {exc.__class__.__name__}"


def _redis_state() -> str:
    try:
        client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=CHECK_TIMEOUT_SECONDS, socket_connect_timeout=CHECK_TIMEOUT_SECONDS
        )
        try:
            client.ping()
        finally:
            client.close()
        return "ok"
    except Exception as exc:  # noqa: BLE001
        metrics.error_caught("health", exc, backend="redis")
        return f"down: {exc.__class__.__name__}"


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_state(), "redis": _redis_state()}
    healthy = all(state == "ok" for state in checks.values())
    return JsonResponse({"status": "ok" if healthy else "unavailable", **checks}, status=200 if healthy else 503)
