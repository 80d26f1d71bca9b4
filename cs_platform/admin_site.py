"""The project's admin site: Django's, with its login form counted against `LOGIN_RATE` like the API's login,
agents sent to their workbench rather than to an admin that has nothing for them, and supervisors' pages listed
beside the models."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.html import conditional_escape
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.cache import never_cache

from agents.selectors import agent_for_user, is_supervisor
from agents.services import LoginThrottled, login_attempt_record
from cs_platform.rate_limits import client_address


class AdminSite(admin.AdminSite):
    """Every posted login (the workbench signs in here too) is counted before the password is checked; over the
    rate the answer is a 429 page with `Retry-After`, whatever the password. Its header and the pages' titles name
    the product, not Django."""

    site_header = gettext_lazy("Customer service")
    site_title = gettext_lazy("Customer service")

    @method_decorator(never_cache)
    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        if request.method == "POST":
            try:
                login_attempt_record(username=request.POST.get("username", ""), address=client_address(request))
            except LoginThrottled as exc:
                context = {
                    **self.each_context(request),
                    "title": gettext("Too many login attempts"),
                    "message": str(exc),
                }
                response = TemplateResponse(request, "admin/login_throttled.html", context, status=429)
                response["Retry-After"] = str(exc.retry_after)
                return response
        return super().login(request, extra_context)

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        """An agent's "View site" (in every admin page's header, the workbench's too) opens the workbench: the demo
        company's site is the customers'. The header links to the reports and the live monitor only for whom they
        open (`is_supervisor`, the rule those pages check)."""
        context = super().each_context(request)
        context["is_supervisor"] = is_supervisor(user=request.user)
        if agent_for_user(user=request.user) is not None:
            context["site_url"] = reverse("workbench")
        return context

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[Any]:
        """Supervisors find their live monitor (`/admin/monitor/`, reports/monitor_page.py) on the admin's home and
        in its sidebar, listed like a model: it is a page of its own, not a model's."""
        app_list = super().get_app_list(request, app_label)
        if app_label is None and is_supervisor(user=request.user):
            monitor_url = reverse("monitor-page")
            page = {
                "name": gettext("Live monitor"),
                "object_name": "LiveMonitor",
                "admin_url": monitor_url,
                "add_url": None,
            }
            app_list.append(
                {
                    "name": gettext("Supervision"),
                    "app_label": "supervision",
                    "app_url": monitor_url,
                    "has_module_perms": True,
                    "models": [{**page, "perms": {"view": True}, "view_only": True}],
                }
            )
        return app_list

    # Django's stub says the index is always a TemplateResponse; for such an agent it is a redirect.
    @method_decorator(never_cache)
    def index(  # type: ignore[override]
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """The admin's home for an agent it shows nothing would only say "You don't have permission to view or edit
        anything": the workbench's Home link and the admin's header lead such an agent to the workbench instead."""
        if not self.get_app_list(request) and agent_for_user(user=request.user) is not None:
            return redirect("workbench")
        return super().index(request, extra_context)


class PlainHelpTextMixin:
    """Django's admin writes a model field's help text into the page as HTML: a help text naming a tag (the
    widget's `<script>`) would open that element and swallow the rest of the form. Here it is text, unless a
    help text was marked safe on purpose."""

    def formfield_for_dbfield(self, db_field: models.Field, request: HttpRequest, **kwargs: Any) -> forms.Field | None:
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]
        if formfield is not None and formfield.help_text:
            formfield.help_text = conditional_escape(formfield.help_text)
        return formfield
