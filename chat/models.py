"""Conversations and their messages: the transcript, the source of truth for delivery."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.files.storage import Storage, storages
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from customers.models import Channel


class ConversationStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting")
    ACTIVE = "active", _("Active")
    CLOSED = "closed", _("Closed")
    MISSED = "missed", _("Missed")


OPEN_STATUSES = (ConversationStatus.WAITING, ConversationStatus.ACTIVE)


class CloseReason(models.TextChoices):
    CUSTOMER = "customer", _("Closed by the customer")
    AGENT = "agent", _("Closed by the agent")
    IDLE = "idle", _("Customer silent too long")
    WAIT_TIMEOUT = "wait_timeout", _("Nobody free in time")
    OFFLINE = "offline", _("Left a message outside business hours")
    ANSWERED = "answered", _("Answered from the missed list")


class Conversation(models.Model):
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="conversations", verbose_name=_("customer")
    )
    business_line = models.ForeignKey(
        "routing.BusinessLine", on_delete=models.PROTECT, related_name="conversations", verbose_name=_("business line")
    )
    channel = models.CharField(max_length=8, choices=Channel.choices, verbose_name=_("channel"))
    status = models.CharField(
        max_length=8, choices=ConversationStatus.choices, default=ConversationStatus.WAITING, verbose_name=_("status")
    )
    agent = models.ForeignKey(
        "agents.Agent",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="conversations",
        verbose_name=_("agent"),
    )
    priority = models.SmallIntegerField(
        default=0, help_text=_("Higher is served first; then oldest first."), verbose_name=_("priority")
    )
    started_at = models.DateTimeField(default=timezone.now, verbose_name=_("started at"))
    queued_at = models.DateTimeField(
        default=timezone.now,
        help_text=_("Its place in the waiting queue; a requeued conversation keeps its start time."),
        verbose_name=_("queued at"),
    )
    waiting_since = models.DateTimeField(
        default=timezone.now,
        help_text=_("When it last entered the waiting queue: the wait timeout counts from here."),
        verbose_name=_("waiting since"),
    )
    assigned_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Its current agent's assignment."), verbose_name=_("assigned at")
    )
    first_assigned_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("Its first assignment, kept through transfers and requeues (reports' wait)."),
        verbose_name=_("first assigned at"),
    )
    first_agent_reply_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("An agent's first message, no system event nor internal note (first response)."),
        verbose_name=_("first agent reply at"),
    )
    missed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("When the wait timeout ended it, kept when an agent picks it later (missed)."),
        verbose_name=_("missed at"),
    )
    handler_ids = ArrayField(
        models.IntegerField(),
        default=list,
        blank=True,
        help_text=_("Every agent it was assigned to, in the order they got it (exports credit each of them)."),
        verbose_name=_("handler ids"),
    )
    last_customer_message_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last customer message at"))
    last_agent_message_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last agent message at"))
    closed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("closed at"))
    close_reason = models.CharField(
        max_length=16, choices=CloseReason.choices, blank=True, verbose_name=_("close reason")
    )
    rating = models.PositiveSmallIntegerField(null=True, blank=True, verbose_name=_("rating"))
    rating_comment = models.TextField(blank=True, verbose_name=_("rating comment"))
    last_seq = models.PositiveIntegerField(
        default=0, help_text=_("Sequence number of the newest message."), verbose_name=_("last seq")
    )
    answers_by_email = models.BooleanField(
        default=False,
        help_text=_("It was missed or is a left message: agents' later answers are emailed to a customer who left."),
        verbose_name=_("answers by email"),
    )
    answers_emailed_seq = models.PositiveIntegerField(
        default=0,
        help_text=_("Agents' answers up to this seq were emailed to the customer (or seen live)."),
        verbose_name=_("answers emailed seq"),
    )

    class Meta:
        verbose_name = _("conversation")
        verbose_name_plural = _("conversations")
        ordering = ["-started_at", "-id"]
        permissions = [("export_transcript", "Can export transcripts as CSV")]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in ConversationStatus]), name="conversation_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(channel__in=[c.value for c in Channel]), name="conversation_channel_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status=ConversationStatus.ACTIVE) | Q(agent__isnull=False),
                name="conversation_active_has_agent",
            ),
            models.CheckConstraint(
                condition=~Q(status=ConversationStatus.WAITING) | Q(agent__isnull=True),
                name="conversation_waiting_has_no_agent",
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5), name="conversation_rating_1_to_5"
            ),
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(status__in=[s.value for s in OPEN_STATUSES]),
                name="conversation_one_open_per_customer",
            ),
        ]
        indexes = [
            models.Index(
                F("business_line"),
                F("priority").desc(),
                F("queued_at"),
                F("id"),
                condition=Q(status=ConversationStatus.WAITING),
                name="conversation_waiting_queue_idx",
            ),
            # The agents' missed list (`queue.snapshot`): a line's missed conversations, oldest first.
            models.Index(
                F("business_line"),
                F("started_at"),
                F("id"),
                condition=Q(status=ConversationStatus.MISSED),
                name="conversation_missed_list_idx",
            ),
            models.Index(fields=["agent", "status"], name="conversation_agent_status_idx"),
            models.Index(fields=["customer", "-started_at"], name="conversation_customer_idx"),
            models.Index(fields=["started_at"], name="conversation_started_idx"),
            models.Index(fields=["business_line", "started_at"], name="conversation_line_started_idx"),
            models.Index(
                fields=["business_line", "missed_at"],
                condition=Q(missed_at__isnull=False),
                name="conversation_line_missed_idx",
            ),
        ]

    def __str__(self) -> str:
        return gettext("Conversation #%(id)s") % {"id": self.pk}


class Sender(models.TextChoices):
    CUSTOMER = "customer", _("Customer")
    AGENT = "agent", _("Agent")
    SYSTEM = "system", _("System")


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages", verbose_name=_("conversation")
    )
    seq = models.PositiveIntegerField(
        help_text=_("Gap-free position within the conversation, from 1."), verbose_name=_("seq")
    )
    sender = models.CharField(max_length=8, choices=Sender.choices, verbose_name=_("sender"))
    agent = models.ForeignKey(
        "agents.Agent",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
        verbose_name=_("agent"),
    )
    body = models.TextField(blank=True, verbose_name=_("body"))
    event = models.CharField(
        max_length=32,
        blank=True,
        help_text=_("For system messages: what happened (assigned, closed, ...)."),
        verbose_name=_("event"),
    )
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Who wrote a message no agent and no customer wrote: a supervisor's whisper."),
        verbose_name=_("author user"),
    )
    params = models.JSONField(
        default=dict,
        blank=True,
        help_text=_("For system messages: who and where (agent, by, line), for their text."),
        verbose_name=_("params"),
    )
    client_msg_id = models.CharField(max_length=64, null=True, blank=True, verbose_name=_("client msg id"))  # noqa: DJ001 (null: unique per sender only when given)
    is_internal_note = models.BooleanField(
        default=False, help_text=_("Seen by agents only."), verbose_name=_("is internal note")
    )
    attachment = models.FileField(upload_to="attachments/%Y/%m/", null=True, blank=True, verbose_name=_("attachment"))
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["conversation_id", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["conversation", "seq"], name="message_seq_unique_per_conversation"),
            models.UniqueConstraint(
                fields=["conversation", "sender", "client_msg_id"],
                condition=Q(client_msg_id__isnull=False),
                name="message_client_msg_id_unique",
            ),
            models.CheckConstraint(condition=Q(seq__gte=1), name="message_seq_positive"),
            models.CheckConstraint(condition=Q(sender__in=[s.value for s in Sender]), name="message_sender_valid"),
            models.CheckConstraint(
                condition=~Q(sender=Sender.AGENT) | Q(agent__isnull=False), name="message_agent_sender_has_agent"
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.seq} {self.sender}: {self.body[:40]}"


def attachment_storage() -> Storage:
    """The storage named `attachments` in STORAGES (the data folder by default), looked up when used."""
    return storages["attachments"]


class Attachment(models.Model):
    """A file uploaded into a conversation; sent once, with one message of its uploader (null until then)."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("conversation")
    )
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments", verbose_name=_("message")
    )
    uploader = models.CharField(
        max_length=8, choices=[(Sender.CUSTOMER, _("Customer")), (Sender.AGENT, _("Agent"))], verbose_name=_("uploader")
    )
    agent = models.ForeignKey(
        "agents.Agent",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="attachments",
        verbose_name=_("agent"),
    )
    name = models.CharField(
        max_length=255, help_text=_("The uploaded file's name, cleaned: shown and offered."), verbose_name=_("name")
    )
    content_type = models.CharField(
        max_length=100, help_text=_("Decided from the content, never from the name."), verbose_name=_("content type")
    )
    size = models.PositiveBigIntegerField(verbose_name=_("size"))
    file = models.FileField(
        storage=attachment_storage, upload_to="attachments/%Y/%m/", max_length=255, verbose_name=_("file")
    )
    width = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Images: pixels, upright."), verbose_name=_("width")
    )
    height = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Images: pixels, upright."), verbose_name=_("height")
    )
    thumbnail = models.FileField(
        storage=attachment_storage,
        upload_to="attachments/%Y/%m/",
        max_length=255,
        blank=True,
        default="",
        verbose_name=_("thumbnail"),
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(uploader__in=[Sender.CUSTOMER, Sender.AGENT]), name="attachment_uploader_valid"
            ),
            models.CheckConstraint(
                condition=Q(uploader=Sender.AGENT, agent__isnull=False)
                | Q(uploader=Sender.CUSTOMER, agent__isnull=True),
                name="attachment_agent_iff_agent_uploader",
            ),
        ]
        indexes = [models.Index(fields=["created_at"], name="attachment_created_idx")]

    def __str__(self) -> str:
        return self.name
