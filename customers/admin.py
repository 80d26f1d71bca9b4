"""Admin for customers: find a customer by name, email or external id, jump to their transcripts, and erase one
on their request (data protection; who may: the `customers.erase_customer` permission, superusers)."""

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext, gettext_lazy

from audit.admin import AuditedModelAdmin
from audit.services import request_address
from customers.models import Customer
from privacy.services import ErasureRefused, customer_erase

ERASE_PERMISSION = "customers.erase_customer"


class ErasureForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        help_text=gettext_lazy(
            "Why (the customer's request, a ticket number). Kept in the audit log: no personal data here."
        ),
    )


@admin.register(Customer)
class CustomerAdmin(AuditedModelAdmin):
    list_display = [
        "id",
        "name",
        "email",
        "external_id",
        "business_line",
        "first_channel",
        "last_seen_at",
        "conversations_link",
    ]
    list_display_links = ["id", "name"]
    list_filter = ["business_line", "first_channel"]
    list_select_related = ["business_line"]
    search_fields = ["name", "email", "external_id"]
    fields = [
        "business_line",
        "name",
        "email",
        "language",
        "external_id",
        "first_channel",
        "attributes",
        "visitor_token",
        "first_seen_at",
        "last_seen_at",
    ]
    readonly_fields = ["visitor_token", "first_seen_at", "last_seen_at"]
    actions = ["erase_customers"]

    @admin.display(description=gettext_lazy("Conversations"))
    def conversations_link(self, obj: Customer) -> str:
        url = reverse("admin:chat_conversation_changelist")
        return format_html('<a href="{}?customer__id__exact={}">{}</a>', url, obj.pk, gettext("Transcripts"))

    def get_fields(self, request: HttpRequest, obj: Customer | None = None):
        """The visitor token is an anonymous customer's credential: only superusers see it."""
        fields = super().get_fields(request, obj)
        if request.user.is_superuser:
            return fields
        return [field for field in fields if field != "visitor_token"]

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        if lookup.split("__", 1)[0] == "visitor_token" and not request.user.is_superuser:
            return False
        return super().lookup_allowed(lookup, value, request)

    def has_erase_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(ERASE_PERMISSION)

    @admin.action(
        description=gettext_lazy("Erase selected customers with their transcripts and files"), permissions=["erase"]
    )
    def erase_customers(self, request: HttpRequest, queryset: QuerySet[Customer]) -> TemplateResponse | None:
        """First a confirmation page asking for the reason; once confirmed, each customer erased on their own."""
        form = ErasureForm(request.POST if "post" in request.POST else None)
        if not form.is_bound or not form.is_valid():
            return TemplateResponse(
                request,
                "admin/customers/customer/erase_confirmation.html",
                {
                    **self.admin_site.each_context(request),
                    "title": gettext("Erase customers"),
                    "opts": self.model._meta,
                    "customers": queryset.annotate(conversation_count=Count("conversations")).order_by("id"),
                    "form": form,
                    "action_checkbox_name": ACTION_CHECKBOX_NAME,
                },
            )
        erased = 0
        for customer_id in queryset.order_by("id").values_list("id", flat=True):
            try:
                customer_erase(
                    customer_id=customer_id,
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    address=request_address(request),
                )
            except ErasureRefused as refused:
                self.message_user(
                    request, gettext("Not erased: %(reason)s") % {"reason": refused.message}, messages.ERROR
                )
            else:
                erased += 1
        if erased:
            self.message_user(
                request,
                gettext("Erased %(count)s customer(s) with their transcripts.") % {"count": erased},
                messages.SUCCESS,
            )
        return None
