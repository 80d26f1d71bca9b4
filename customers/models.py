"""Customers: anonymous visitors and identified users of a business line's site."""

import secrets

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    WEB = "web", _("Website widget")
    H5 = "h5", _("Mobile web / WeChat H5")
    APP = "app", _("Native app")


def new_visitor_token() -> str:
    return secrets.token_urlsafe(24)


class Customer(models.Model):
    business_line = models.ForeignKey(
        "routing.BusinessLine", on_delete=models.PROTECT, related_name="customers", verbose_name=_("business line")
    )
    visitor_token = models.CharField(
        max_length=64, unique=True, default=new_visitor_token, verbose_name=_("visitor token")
    )
    external_id = models.CharField(max_length=128, null=True, blank=True, verbose_name=_("external id"))  # noqa: DJ001 (null: unique only when given)
    name = models.CharField(max_length=200, blank=True, verbose_name=pgettext_lazy("a person's", "name"))
    email = models.EmailField(blank=True, verbose_name=_("email"))
    phone = models.CharField(
        max_length=32, blank=True, default="", help_text=_("From the pre-chat form."), verbose_name=_("phone")
    )
    language = models.CharField(
        max_length=16,
        blank=True,
        default="",
        help_text=_("Their widget's language (emails); empty: the line's."),
        verbose_name=_("language"),
    )
    first_channel = models.CharField(
        max_length=8, choices=Channel.choices, default=Channel.WEB, verbose_name=_("first channel")
    )
    attributes = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("Set by the site: CSWidget.setAttributes({...})."),
        verbose_name=_("attributes"),
    )
    context = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            "Where the customer last was, as their page said (customer.context): page_url, page_title, "
            "referrer, language, time_zone; and the browser's user_agent."
        ),
        verbose_name=_("context"),
    )
    first_seen_at = models.DateTimeField(auto_now_add=True, verbose_name=_("first seen at"))
    last_seen_at = models.DateTimeField(auto_now_add=True, verbose_name=_("last seen at"))

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
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
        return self.name or self.email or self.external_id or gettext("Visitor #%(id)s") % {"id": self.pk}
