"""The agent's tools around a conversation: canned replies, labels, notes about the customer.

Search has no model: it reads messages and customers through expression indexes this app's migration creates
(`desk/migrations/0002_search.py`, docs/architecture.md "Search").
"""

from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from chat.models import attachment_storage

SHORTCUT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,31}$"


class CannedReply(models.Model):
    """A reply an agent inserts with `/shortcut`: a business line's (shared by its team, kept by supervisors) or
    one agent's own (personal). Exactly one of `business_line` and `agent` is set."""

    business_line = models.ForeignKey(
        "routing.BusinessLine",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_replies",
        verbose_name=_("business line"),
    )
    agent = models.ForeignKey(
        "agents.Agent",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="canned_replies",
        help_text=_("Set for a personal reply, seen by this agent only."),
        verbose_name=_("agent"),
    )
    shortcut = models.CharField(
        max_length=32,
        validators=[
            RegexValidator(SHORTCUT_PATTERN, _("Lower-case letters, digits, - and _, from a letter or digit."))
        ],
        help_text=_("Typed after / in the composer: lower-case letters, digits, - and _."),
        verbose_name=_("shortcut"),
    )
    title = models.CharField(max_length=100, verbose_name=_("title"))
    body = models.TextField(
        help_text=_(
            "Variables: {customer.name}, {customer.email}, {customer.external_id}, {agent.name}, "
            "{business_line.name}, {conversation.id}. One the server does not know stays as written."
        ),
        verbose_name=_("body"),
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    updated_at = models.DateTimeField(default=timezone.now, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("canned reply")
        ordering = ["shortcut", "id"]
        verbose_name_plural = _("canned replies")
        constraints = [
            models.CheckConstraint(
                condition=Q(business_line__isnull=True, agent__isnull=False)
                | Q(business_line__isnull=False, agent__isnull=True),
                name="cannedreply_line_xor_agent",
            ),
            models.UniqueConstraint(
                fields=["business_line", "shortcut"],
                condition=Q(business_line__isnull=False),
                name="cannedreply_shortcut_unique_per_line",
            ),
            models.UniqueConstraint(
                fields=["agent", "shortcut"],
                condition=Q(agent__isnull=False),
                name="cannedreply_shortcut_unique_per_agent",
            ),
        ]

    def __str__(self) -> str:
        return f"/{self.shortcut}: {self.title}"


class CannedAttachment(models.Model):
    """A file that goes with a canned reply: copied into the conversation as a new attachment of the agent who
    uses the reply (`desk.services.canned_reply_use`), so the conversation's own rules (its line's size and types,
    the scanner, who may download) apply to the copy, and the reply's file is never served from a chat."""

    canned_reply = models.ForeignKey(
        CannedReply, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("canned reply")
    )
    name = models.CharField(max_length=255, help_text=_("The uploaded file's name, cleaned."), verbose_name=_("name"))
    content_type = models.CharField(
        max_length=100, help_text=_("Decided from the content, never from the name."), verbose_name=_("content type")
    )
    size = models.PositiveBigIntegerField(verbose_name=_("size"))
    file = models.FileField(
        storage=attachment_storage, upload_to="canned/%Y/%m/", max_length=255, verbose_name=_("file")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("canned reply file")
        verbose_name_plural = _("canned reply files")
        ordering = ["canned_reply", "id"]

    def __str__(self) -> str:
        return self.name


class Label(models.Model):
    """A tag a business line's agents put on its conversations (`refund`, `vip`), filterable in the admin and
    carried by the reports' `labels` column."""

    business_line = models.ForeignKey(
        "routing.BusinessLine", on_delete=models.CASCADE, related_name="labels", verbose_name=_("business line")
    )
    name = models.CharField(max_length=50, verbose_name=_("name"))
    conversations = models.ManyToManyField(
        "chat.Conversation", related_name="labels", blank=True, verbose_name=_("conversations")
    )

    class Meta:
        verbose_name = _("label")
        verbose_name_plural = _("labels")
        ordering = ["business_line", "name", "id"]
        constraints = [models.UniqueConstraint(fields=["business_line", "name"], name="label_name_unique_per_line")]

    def __str__(self) -> str:
        return self.name


class CustomerNote(models.Model):
    """What an agent wrote down about a customer, for every agent who may see the customer; never the customer."""

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="notes", verbose_name=_("customer")
    )
    author = models.ForeignKey(
        "agents.Agent", on_delete=models.PROTECT, related_name="customer_notes", verbose_name=_("author")
    )
    body = models.TextField(verbose_name=_("body"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("customer note")
        verbose_name_plural = _("customer notes")
        ordering = ["customer", "-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "-created_at"], name="customernote_customer_idx")]

    def __str__(self) -> str:
        return gettext("Note on customer #%(customer)s by agent #%(author)s") % {
            "customer": self.customer_id,
            "author": self.author_id,
        }
