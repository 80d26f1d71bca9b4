"""Pages served to supervisors (mounted at /admin/reports/, before the admin's own URLs)."""

from django.contrib import admin
from django.urls import path
from django.views.decorators.http import require_GET

from reports.pages import reports_page

urlpatterns = [
    # The admin's own login and header: an anonymous visitor is sent to the admin's login page. GET only, checked
    # first (a POST is 405 for anyone, not a login page).
    path("", require_GET(admin.site.admin_view(reports_page)), name="reports-page"),
]
