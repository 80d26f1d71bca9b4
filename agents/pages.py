"""The agent workbench page (`/workbench/`): the Django admin's look, the live chat in the browser's own script.

The page is static; its script speaks the agent protocol over `/ws/agent/` with the session cookie and reads
history from the REST API (docs/protocol.md). The view only checks who is asking and hands the script its
configuration.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET

from agents.selectors import agent_for_user, every_agent_name

TITLE = gettext_lazy("Agent workbench")


def _admin_context(request: HttpRequest) -> dict:
    """The admin's header (site name, user tools) without its app sidebar: agents need the room."""
    return {**admin.site.each_context(request), "is_nav_sidebar_enabled": False, "title": TITLE}


@require_GET
@login_required
def workbench(request: HttpRequest) -> HttpResponse:
    """Agents only: other users (supervisors, admins) get a 403 page pointing them back to the admin."""
    agent = agent_for_user(user=request.user)
    if agent is None:
        return render(request, "agents/workbench_forbidden.html", _admin_context(request), status=403)
    config = {
        "agent_id": agent.pk,
        "agent_name": agent.display_name,
        "capacity": agent.capacity,
        "socket_path": "/ws/agent/",
        "customer_history_url": "/api/customers/{id}/conversations/",
        "messages_url": "/api/conversations/{id}/messages/",
        "closed_url": "/api/conversations/closed/",
        "transfer_targets_url": "/api/conversations/{id}/transfer-targets/",
        # Each of my lines' reply target, seconds by line key: the red line of the "waiting for my reply" timer. It is
        # the agent reply timeout, as on the supervisors' monitor (reports/floor_selectors.py): one target per line.
        "reply_targets": dict(agent.business_lines.values_list("key", "agent_reply_timeout")),
        # Every agent's name by id: a transferred conversation shows earlier agents' messages under their names.
        "agent_names": every_agent_name(),
        # Uploads go with the session cookie, so they need the CSRF token (docs/protocol.md, "Attachments").
        "csrf_token": get_token(request),
        "login_url": f"/admin/login/?next={request.path}",
    }
    response = render(request, "agents/workbench.html", {**_admin_context(request), "config": config})
    response["Referrer-Policy"] = "same-origin"
    return response
