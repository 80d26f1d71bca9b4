"""`GET /metrics`: this web worker's Prometheus metrics, and every business line's queue read at scrape time.

Only Prometheus should read it: it answers a peer whose address is in `METRICS_ALLOWED_IPS` (loopback by
default), or a request with `Authorization: Bearer <METRICS_TOKEN>` when that is set; anyone else gets 403. The
address is the TCP peer's (`REMOTE_ADDR`), never a forwarded header: scrape each worker on its own port, not
through the load balancer (each worker counts only its own sockets and frames).
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Iterable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from cs_platform import metrics
from cs_platform.errors import ErrorCode
from routing.selectors import queue_overview

logger = logging.getLogger(__name__)


class QueueCollector(Collector):
    """Waiting conversations, the longest wait and the agents available per business line, from the database
    and presence at each scrape, so every worker reports the same figures, fresh."""

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        waiting, longest, available = families = self._families()
        try:
            overview = queue_overview()
        except Exception as error:
            logger.exception("metrics: could not read the queues")
            metrics.error_caught("metrics", error)
            return families
        for line in overview:
            waiting.add_metric([line.business_line], line.waiting)
            longest.add_metric([line.business_line], line.longest_wait_seconds)
            available.add_metric([line.business_line], line.agents_available)
        return families

    @staticmethod
    def _families() -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "cs_queue_waiting",
                "Conversations waiting for an agent now, by business line.",
                labels=["business_line"],
            ),
            GaugeMetricFamily(
                "cs_queue_longest_wait_seconds",
                "How long the longest-waiting conversation has waited so far (0 when none), by business line.",
                labels=["business_line"],
            ),
            GaugeMetricFamily(
                "cs_agents_available",
                "Agents of the team who are online and connected on some worker, by business line.",
                labels=["business_line"],
            ),
        )


REGISTRY.register(QueueCollector())


def _scraper_allowed(request: HttpRequest) -> bool:
    token = settings.METRICS_TOKEN
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(presented.encode(), token.encode()):
        return True
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in settings.METRICS_ALLOWED_IPS)


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    if not _scraper_allowed(request):
        return JsonResponse(
            {
                "code": ErrorCode.FORBIDDEN.value,
                "message": "Metrics are served to the addresses and token the operator set",
            },
            status=403,
        )
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)
