from django.contrib import admin
from django.urls import include, path
from django.views.decorators.http import require_POST
from django.views.i18n import set_language
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from cs_platform.health import healthz
from cs_platform.languages import LanguageCatalog
from cs_platform.metrics_view import metrics_view
from reports.monitor_page import monitor_page

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics_view, name="metrics"),
    # The JavaScript strings' translations (docs/i18n.md) and the admin's language switch (Django's set_language).
    path("jsi18n/", LanguageCatalog.as_view(), name="javascript-catalog"),
    path("i18n/setlang/", require_POST(set_language), name="set_language"),
    path("admin/monitor/", monitor_page, name="monitor-page"),  # before the admin's own URLs, in its look
    path("admin/reports/", include("reports.page_urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves Swagger UI's start-up script from a URL of its own: no inline script (the CSP).
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/", include("customers.urls")),
    path("api/", include("agents.urls")),
    path("api/", include("chat.urls")),
    path("api/", include("reports.urls")),
    path("api/", include("desk.urls")),
    path("api/", include("notifications.urls")),
    path("workbench/", include("agents.page_urls")),
    path("", include("customers.site_urls")),
]
