"""The audit log in the admin, for superusers only and read-only; and the mixin that records admin edits.

Supervisors read transcripts, so the record of who read and exported them is not theirs to see: only a
superuser sees the log, whatever permissions a staff user has been granted. Nobody adds, changes or deletes an
entry here.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy

from audit.models import AuditAction, AuditEntry
from audit.services import audit_record_request
from cs_platform.admin_site import PlainHelpTextMixin


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["at", "actor_label", "action", "target_type", "target_id", "address"]
    list_filter = ["action", "target_type", "at"]
    search_fields = ["actor_label", "target_id", "address"]
    search_help_text = gettext_lazy("Username, target id or address.")
    date_hierarchy = "at"
    fields = ("at", "actor", "actor_label", "action", "target_type", "target_id", "address", "details")
    readonly_fields = fields

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditEntry | None = None) -> bool:
        return False


class AuditedModelAdmin(PlainHelpTextMixin, admin.ModelAdmin):
    """Every add, change and delete made through this admin also goes to the audit log, with the address; help
    texts are shown as text.

    Django's own LogEntry keeps the object's name (`object_repr`), which may be personal data; the audit entry
    keeps the model, the id and the names of the changed fields only.
    """

    def log_addition(self, request: HttpRequest, obj: Model, message: Any):
        entry = super().log_addition(request, obj, message)
        audit_record_request(request=request, action=AuditAction.ADMIN_ADD, target=obj)
        return entry

    def log_change(self, request: HttpRequest, obj: Model, message: Any):
        entry = super().log_change(request, obj, message)
        audit_record_request(
            request=request, action=AuditAction.ADMIN_CHANGE, target=obj, details={"changes": _changes(message)}
        )
        return entry

    def log_deletions(self, request: HttpRequest, queryset: QuerySet):
        # Called before the rows are deleted, inside the same transaction.
        objects = list(queryset)
        # The stub asks for a QuerySet; Django only iterates it, and the list keeps the rows audited below the same.
        entries = super().log_deletions(request, objects)  # type: ignore[arg-type]
        for obj in objects:
            audit_record_request(request=request, action=AuditAction.ADMIN_DELETE, target=obj)
        return entries


def _changes(message: Any) -> list[Any]:
    """Django's change message as data: which fields changed, never their values."""
    return message if isinstance(message, list) else []


# Who is staff, superuser or a supervisor is decided here: these edits are audited too.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class AuditedUserAdmin(AuditedModelAdmin, UserAdmin):
    pass


@admin.register(Group)
class AuditedGroupAdmin(AuditedModelAdmin, GroupAdmin):
    pass
