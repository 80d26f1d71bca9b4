"""The supervisors' live monitor page (`/admin/monitor/`): the admin's look and login, the floor pushed over
`/ws/supervisor/` (reports/consumers.py).

The page is static; its script opens the supervisor socket with the session cookie and renders every
`monitor.snapshot`, and a watched conversation's frames. The view only checks who is asking: anonymous visitors go
to the admin's login, users who are not supervisors (agents) get a 403 page.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from agents.selectors import is_supervisor

TITLE = gettext_lazy("Live monitor")


def _admin_context(request: HttpRequest) -> dict[str, Any]:
    """The admin's header (site name, user tools) without its app sidebar: the floor needs the room."""
    return {**admin.site.each_context(request), "is_nav_sidebar_enabled": False, "title": TITLE}


@require_GET
@login_required(login_url="admin:login")
def monitor_page(request: HttpRequest) -> HttpResponse:
    """Supervisors (and superusers) only."""
    if not is_supervisor(user=request.user):
        return render(request, "reports/monitor_forbidden.html", _admin_context(request), status=403)
    config = {"socket_path": "/ws/supervisor/", "login_url": f"/admin/login/?next={request.path}"}
    response = render(request, "reports/monitor.html", {**_admin_context(request), "config": config})
    response["Referrer-Policy"] = "same-origin"
    return response
