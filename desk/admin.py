"""Supervisors keep the business lines' canned replies and labels here; agents keep their personal replies in the
workbench (the admin shows them too, for a supervisor tidying up)."""

from django.contrib import admin

from audit.admin import AuditedModelAdmin
from desk.models import CannedReply, Label


@admin.register(CannedReply)
class CannedReplyAdmin(AuditedModelAdmin):
    list_display = ["shortcut", "title", "business_line", "agent", "updated_at"]
    list_filter = ["business_line"]
    search_fields = ["shortcut", "title", "body"]
    raw_id_fields = ["agent"]
    readonly_fields = ["created_at", "updated_at"]


@admin.register(Label)
class LabelAdmin(AuditedModelAdmin):
    list_display = ["name", "business_line"]
    list_filter = ["business_line"]
    search_fields = ["name"]
    exclude = ["conversations"]
