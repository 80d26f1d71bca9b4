"""Admin for supervisors: conversations as read-only transcripts, searchable, filterable and exportable as CSV.

Nothing here changes a conversation: state changes belong to the chat services, and a transcript is a record.
Message text is only ever rendered through Django's escaping (readonly fields, format_html), never mark_safe.
"""

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from audit.models import AuditAction
from audit.services import audit_record_request
from chat.models import Conversation, Message
from chat.payloads import attachment_payload
from cs_platform.spreadsheets import BYTE_ORDER_MARK, csv_safe

EXPORT_PERMISSION = "chat.export_transcript"
EXPORT_HEADER = [
    "conversation_id",
    "business_line",
    "channel",
    "status",
    "customer_name",
    "customer_email",
    "external_id",
    "agent",
    "seq",
    "sender",
    "body",
    "internal_note",
    "created_at",
    "attachments",
]
EXPORT_CHUNK_SIZE = 2000


def transcript_export_rows(*, conversations: QuerySet[Conversation]) -> Iterator[list[Any]]:
    """One row per message of the given conversations: conversations by id, messages by seq, cells made inert."""
    messages = (
        Message.objects.filter(conversation__in=conversations.values("pk"))
        .select_related("conversation__business_line", "conversation__customer", "conversation__agent")
        .prefetch_related("attachments")
        .order_by("conversation_id", "seq")
    )
    for message in messages.iterator(chunk_size=EXPORT_CHUNK_SIZE):
        conversation = message.conversation
        customer = conversation.customer
        row = [
            conversation.pk,
            conversation.business_line.name,
            conversation.channel,
            conversation.status,
            customer.name,
            customer.email,
            customer.external_id or "",
            conversation.agent.display_name if conversation.agent else "",
            message.seq,
            message.sender,
            message.body,
            "yes" if message.is_internal_note else "no",
            message.created_at.isoformat(),
            "; ".join(attachment.name for attachment in message.attachments.all()),
        ]
        yield [csv_safe(cell) for cell in row]


def write_transcript_csv(*, out: Any, rows: Iterable[list[Any]]) -> None:
    """UTF-8 with a byte-order mark, so that Excel reads Chinese (and any non-Latin) text correctly."""
    out.write(BYTE_ORDER_MARK)
    writer = csv.writer(out)
    writer.writerow(EXPORT_HEADER)
    writer.writerows(rows)


class MessageInline(admin.TabularInline):
    """The transcript itself: every message in seq order, read-only, agents fetched in the same query."""

    model = Message
    fields = ("seq", "sender", "agent", "body", "event", "is_internal_note", "attachment", "files", "created_at")
    readonly_fields = fields
    ordering = ["seq"]
    extra = 0
    can_delete = False
    show_change_link = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[Message]:
        return super().get_queryset(request).select_related("agent").prefetch_related("attachments")

    @admin.display(description="Files")
    def files(self, message: Message) -> str:
        """The files sent with the message, each a signed download link (served as a download or an image)."""
        return (
            format_html_join(
                mark_safe("<br>"),
                '<a href="{}" rel="noopener noreferrer">{}</a> ({} bytes)',
                (
                    (payload["url"], payload["name"], payload["size"])
                    for payload in map(attachment_payload, message.attachments.all())
                ),
            )
            or "-"
        )

    def has_add_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_display = ["id", "customer", "business_line", "channel", "status", "agent", "started_at", "rating"]
    list_filter = ["status", "channel", "business_line", "agent", "labels", "started_at"]
    list_select_related = ["customer", "business_line", "agent"]
    search_fields = ["customer__name", "customer__email", "customer__external_id", "messages__body"]
    search_help_text = "Customer name, email or external id, or any text said in the conversation."
    date_hierarchy = "started_at"
    inlines = [MessageInline]
    actions = ["export_transcripts"]
    fieldsets = [
        (None, {"fields": ["customer", "business_line", "channel", "status", "agent", "priority"]}),
        (
            "Timeline",
            {
                "fields": [
                    "started_at",
                    "queued_at",
                    "assigned_at",
                    "first_agent_reply_at",
                    "last_customer_message_at",
                    "last_agent_message_at",
                    "closed_at",
                    "close_reason",
                ]
            },
        ),
        ("Outcome", {"fields": ["rating", "rating_comment", "last_seq"]}),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Conversation | None = None) -> bool:
        return False

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(EXPORT_PERMISSION)

    @admin.action(description="Export selected transcripts as CSV", permissions=["export"])
    def export_transcripts(self, request: HttpRequest, queryset: QuerySet[Conversation]) -> HttpResponse:
        conversation_ids = sorted(queryset.values_list("pk", flat=True))
        audit_record_request(
            request=request,
            action=AuditAction.TRANSCRIPT_EXPORT,
            target_type=Conversation._meta.label_lower,
            details={"conversations": len(conversation_ids), "conversation_ids": conversation_ids},
        )
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        filename = f"transcripts-{timezone.now():%Y%m%d-%H%M%S}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        write_transcript_csv(out=response, rows=transcript_export_rows(conversations=queryset))
        return response
