"""Supervisors keep the business lines' canned replies and labels here; agents keep their personal replies in the
workbench (the admin shows them too, for a supervisor tidying up)."""

from django.contrib import admin
from django.http import HttpRequest

from audit.admin import AuditedModelAdmin
from desk.models import CannedAttachment, CannedReply, Label


class CannedAttachmentInline(admin.TabularInline):
    """The reply's files, to see and remove; they are added through the workbench's API, which checks their type
    from the content (`POST /api/canned-replies/{id}/attachments/`)."""

    model = CannedAttachment
    fields = ["name", "content_type", "size", "created_at"]
    readonly_fields = ["name", "content_type", "size", "created_at"]
    extra = 0

    def has_add_permission(self, request: HttpRequest, obj: CannedReply | None = None) -> bool:
        return False


@admin.register(CannedReply)
class CannedReplyAdmin(AuditedModelAdmin):
    list_display = ["shortcut", "title", "business_line", "agent", "updated_at"]
    list_filter = ["business_line"]
    search_fields = ["shortcut", "title", "body"]
    raw_id_fields = ["agent"]
    readonly_fields = ["created_at", "updated_at"]
    inlines = [CannedAttachmentInline]


@admin.register(Label)
class LabelAdmin(AuditedModelAdmin):
    list_display = ["name", "business_line"]
    list_filter = ["business_line"]
    search_fields = ["name"]
    exclude = ["conversations"]
