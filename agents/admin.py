"""Admin for agents: who they are, how many chats they take at once, their presence and their teams."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from agents.models import Agent, ApiToken
from agents.selectors import api_token_expires_at
from agents.services import agent_capacity_changed
from audit.admin import AuditedModelAdmin


@admin.register(Agent)
class AgentAdmin(AuditedModelAdmin):
    list_display = ["display_name", "user", "capacity", "presence", "team_names", "last_assigned_at"]
    list_filter = ["presence", "business_lines"]
    list_select_related = ["user"]
    search_fields = ["display_name", "user__username", "user__email"]
    autocomplete_fields = ["user"]
    filter_horizontal = ["business_lines"]
    fields = [
        "user",
        "display_name",
        "capacity",
        "business_lines",
        "presence",
        "presence_changed_at",
        "last_assigned_at",
    ]
    # Presence is the agent's own choice, set from the workbench through the presence service (which also
    # triggers assignment); an admin edit would bypass both.
    readonly_fields = ["presence", "presence_changed_at", "last_assigned_at"]

    def get_readonly_fields(self, request: HttpRequest, obj: Agent | None = None):
        """Supervisors edit agents (name, capacity, teams); the user account behind one is an administrator's."""
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and not request.user.is_superuser:
            readonly.append("user")
        return readonly

    def save_related(self, request: HttpRequest, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        agent_capacity_changed(agent_id=form.instance.id)

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("business_lines")

    @admin.display(description=gettext_lazy("Business lines"))
    def team_names(self, obj: Agent) -> str:
        return ", ".join(line.name for line in obj.business_lines.all())


@admin.register(ApiToken)
class ApiTokenAdmin(AuditedModelAdmin):
    """Who holds API tokens, and until when. Tokens are issued by `POST /api/auth/token/` only; deleting one here
    revokes it, in the audit log like every admin deletion (a password change or a deactivation revokes all of a
    user's)."""

    list_display = ["user", "created_at", "expires_at"]
    list_select_related = ["user"]
    search_fields = ["user__username"]
    fields = ("user", "created_at", "expires_at")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ApiToken | None = None) -> bool:
        return False

    @admin.display(description=gettext_lazy("Expires at"))
    def expires_at(self, obj: ApiToken):
        return api_token_expires_at(obj)
