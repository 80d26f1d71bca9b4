"""Admin for business lines: settings, team, and an identity secret that only superusers may read."""

from collections.abc import Sequence

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from agents.models import Agent
from audit.admin import AuditedModelAdmin
from routing.models import BusinessLine

SECRET_MASK = "•" * 12


class TeamMemberInline(admin.TabularInline):
    """The business line's team, edited from this side of the agent <-> business line relation."""

    model = Agent.business_lines.through
    extra = 0
    autocomplete_fields = ["agent"]
    verbose_name = "team member"
    verbose_name_plural = "team"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("agent")


@admin.register(BusinessLine)
class BusinessLineAdmin(AuditedModelAdmin):
    list_display = ["name", "key", "time_zone", "team_size", "retention_days", "created_at"]
    search_fields = ["name", "key"]
    readonly_fields = ["created_at"]
    inlines = [TeamMemberInline]
    fieldsets = [
        (
            None,
            {"fields": ["name", "key", "identity_secret", "identity_requires_expiry", "greeting", "allowed_origins"]},
        ),
        ("Business hours", {"fields": ["time_zone", "business_hours"]}),
        (
            "Timeouts (seconds)",
            {"fields": ["wait_timeout", "agent_reply_timeout", "disconnect_grace", "idle_timeout"]},
        ),
        ("Attachments", {"fields": ["attachment_max_bytes", "attachment_types"]}),
        ("Data protection", {"fields": ["retention_days"]}),
        (None, {"fields": ["created_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("agents")

    @admin.display(description="Team")
    def team_size(self, obj: BusinessLine) -> int:
        return len(obj.agents.all())

    @admin.display(description="Identity secret")
    def identity_secret_masked(self, obj: BusinessLine) -> str:
        return SECRET_MASK if obj.identity_secret else "-"

    def get_fieldsets(self, request: HttpRequest, obj: BusinessLine | None = None):
        """Anyone but a superuser sees the secret masked and cannot change it (it signs customer identities)."""
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        return [(name, {**options, "fields": _masked(options["fields"])}) for name, options in fieldsets]

    def get_readonly_fields(self, request: HttpRequest, obj: BusinessLine | None = None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly.append("identity_secret_masked")
        return readonly

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        """No `?identity_secret__startswith=` in the changelist URL: it would guess the secret letter by letter."""
        if lookup.split("__", 1)[0] == "identity_secret" and not request.user.is_superuser:
            return False
        return super().lookup_allowed(lookup, value, request)


def _masked(fields: Sequence[str | Sequence[str]]) -> list[str | Sequence[str]]:
    """A fieldset's fields, the secret's swapped for its masked display."""
    return ["identity_secret_masked" if field == "identity_secret" else field for field in fields]
