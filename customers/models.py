"""Customers: anonymous visitors and identified users of a business line's site."""

import secrets

from django.db import models
from django.db.models import Q


class Channel(models.TextChoices):
    WEB = "web", "Website widget"
    H5 = "h5", "Mobile web / WeChat H5"
    APP = "app", "Native app"


def new_visitor_token() -> str:
    return secrets.token_urlsafe(24)


class Customer(models.Model):
    business_line = models.ForeignKey("routing.BusinessLine", on_delete=models.PROTECT, related_name="customers")
    visitor_token = models.CharField(max_length=64, unique=True, default=new_visitor_token)
    external_id = models.CharField(max_length=128, null=True, blank=True)  # noqa: DJ001 (null: unique only when given)
    name = models.CharField(max_length=200, blank=True)
    email = models.EmailField(blank=True)
    phone = models.CharField(max_length=32, blank=True, default="", help_text="From the pre-chat form.")
    language = models.CharField(
        max_length=16, blank=True, default="", help_text="Their widget's language (emails); empty: the line's."
    )
    first_channel = models.CharField(max_length=8, choices=Channel.choices, default=Channel.WEB)
    attributes = models.JSONField(default=dict, blank=True, help_text="Set by the site: CSWidget.setAttributes({...}).")
    context = models.JSONField(
        default=dict,
        blank=True,
        help_text="Where the customer last was, as their page said (customer.context): page_url, page_title, "
        "referrer, language, time_zone; and the browser's user_agent.",
    )
    first_seen_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-last_seen_at", "id"]
        permissions = [("erase_customer", "Can erase a customer with their transcripts (data protection)")]
        constraints = [
            models.UniqueConstraint(
                fields=["business_line", "external_id"],
                condition=Q(external_id__isnull=False),
                name="customer_external_id_unique_per_business_line",
            ),
            models.CheckConstraint(
                condition=Q(first_channel__in=[c.value for c in Channel]), name="customer_first_channel_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.name or self.email or self.external_id or f"Visitor #{self.pk}"
