"""Admin for customers: find a customer by name, email or external id and jump to their transcripts."""

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from customers.models import Customer


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["id", "name", "email", "external_id", "business_line", "first_channel", "last_seen_at",
                    "conversations_link"]
    list_display_links = ["id", "name"]
    list_filter = ["business_line", "first_channel"]
    list_select_related = ["business_line"]
    search_fields = ["name", "email", "external_id"]
    fields = ["business_line", "name", "email", "external_id", "first_channel", "attributes", "visitor_token",
              "first_seen_at", "last_seen_at"]
    readonly_fields = ["visitor_token", "first_seen_at", "last_seen_at"]

    @admin.display(description="Conversations")
    def conversations_link(self, obj: Customer) -> str:
        url = reverse("admin:chat_conversation_changelist")
        return format_html('<a href="{}?customer__id__exact={}">Transcripts</a>', url, obj.pk)

    def get_fields(self, request: HttpRequest, obj: Customer | None = None):
        """The visitor token is an anonymous customer's credential: only superusers see it."""
        fields = super().get_fields(request, obj)
        if request.user.is_superuser:
            return fields
        return [field for field in fields if field != "visitor_token"]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        if lookup.split("__", 1)[0] == "visitor_token" and not (request and request.user.is_superuser):
            return False
        return super().lookup_allowed(lookup, value, request)
