"""Business lines: each has its own widget key, team, greeting, hours, timeouts and identity secret."""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models

from chat.files import ALL_TYPES


def new_widget_key() -> str:
    return secrets.token_urlsafe(12)


def new_identity_secret() -> str:
    return secrets.token_urlsafe(32)


def default_wait_timeout() -> int:
    return settings.ROUTING_WAIT_TIMEOUT


def default_agent_reply_timeout() -> int:
    return settings.ROUTING_AGENT_REPLY_TIMEOUT


def default_disconnect_grace() -> int:
    return settings.ROUTING_DISCONNECT_GRACE


def default_idle_timeout() -> int:
    return settings.ROUTING_IDLE_TIMEOUT


def default_retention_days() -> int | None:
    return settings.RETENTION_DAYS_DEFAULT or None


def validate_attachment_types(value: str) -> None:
    """Only types the server can tell from a file's content: any other would never match."""
    unknown = sorted(set(value.replace(",", "\n").split()) - ALL_TYPES)
    if unknown:
        raise ValidationError(
            f"Not a type the server recognises: {', '.join(unknown)}. Known: {', '.join(sorted(ALL_TYPES))}."
        )


validate_widget_color = RegexValidator(r"^#[0-9a-fA-F]{6}$", "A colour as #RRGGBB, e.g. #4338ca.")


class WidgetPosition(models.TextChoices):
    RIGHT = "right", "Bottom right"
    LEFT = "left", "Bottom left"


class PrechatMode(models.TextChoices):
    """How the pre-chat form asks one question before a first chat."""

    OFF = "off", "Not asked"
    OPTIONAL = "optional", "Optional"
    REQUIRED = "required", "Required"


# The pre-chat form's questions, in the order the widget asks them.
PRECHAT_FIELDS = ("name", "email", "phone", "question")


class BusinessLine(models.Model):
    name = models.CharField(max_length=100, unique=True)
    key = models.SlugField(
        max_length=64,
        unique=True,
        default=new_widget_key,
        help_text="Public widget key, written into the site's <script> tag (data-business-line).",
    )
    identity_secret = models.CharField(
        max_length=128,
        default=new_identity_secret,
        help_text="Secret for HMAC-SHA256(external_id) identity verification. Never shown to customers.",
    )
    identity_requires_expiry = models.BooleanField(
        default=False,
        help_text="Accept only expiring identities (identity_expires, hashed with the external id), never the plain "
        "HMAC of the external id, which works for ever once seen.",
    )
    greeting = models.TextField(blank=True, default="Hello! How can we help you today?")
    time_zone = models.CharField(max_length=64, default="UTC")
    business_hours = models.JSONField(
        default=dict,
        blank=True,
        help_text='Weekly schedule: {"mon": [["09:00", "18:00"]], ...}; days left out are closed. '
        "Empty means always open.",
    )
    wait_timeout = models.PositiveIntegerField(
        default=default_wait_timeout, help_text="Seconds a customer waits before the chat is missed."
    )
    agent_reply_timeout = models.PositiveIntegerField(
        default=default_agent_reply_timeout, help_text="Seconds an assigned agent has to answer."
    )
    disconnect_grace = models.PositiveIntegerField(
        default=default_disconnect_grace,
        help_text="Seconds an agent may be without any live connection before their chats are requeued.",
    )
    idle_timeout = models.PositiveIntegerField(
        default=default_idle_timeout, help_text="Seconds of customer silence before the chat is closed."
    )
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=default_retention_days,
        help_text="Days a conversation's transcript and files are kept after it ended; then they are deleted, "
        "with customers not seen for as long. Empty or 0: kept forever.",
    )
    attachment_max_bytes = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Largest file a chat may carry, in bytes. Empty: ATTACHMENT_MAX_BYTES."
    )
    attachment_types = models.TextField(
        blank=True,
        default="",
        validators=[validate_attachment_types],
        help_text="File types chats may carry, one MIME type per line (image/png, application/pdf, ...), decided "
        "from each file's content. Empty: ATTACHMENT_ALLOWED_TYPES.",
    )
    inbox_email = models.EmailField(
        blank=True,
        default="",
        help_text="The team's inbox: every message a customer leaves is emailed here too (agents also find it in "
        "the workbench's missed list). Empty: not emailed.",
    )
    language = models.CharField(
        max_length=16,
        choices=settings.LANGUAGES,
        default="en",
        help_text="Language of the emails to customers whose own language is not known.",
    )
    widget_color = models.CharField(
        max_length=7, default="#4338ca", validators=[validate_widget_color], help_text="The widget's colour, #RRGGBB."
    )
    widget_position = models.CharField(
        max_length=8, choices=WidgetPosition.choices, default=WidgetPosition.RIGHT, help_text="Where the launcher sits."
    )
    widget_title = models.CharField(
        max_length=100, blank=True, default="", help_text="The chat's title. Empty: the business line's name."
    )
    team_name = models.CharField(
        max_length=100, blank=True, default="", help_text='Who answers, shown under the title ("Acme support team").'
    )
    team_picture = models.TextField(
        blank=True,
        default="",
        help_text="The team's picture, stored as a small PNG (a data: URL, so it needs no file storage).",
    )
    launcher_text = models.CharField(
        max_length=40,
        blank=True,
        default="",
        help_text='Text beside the launcher button ("Chat with us"). Empty: the icon only.',
    )
    prechat_name = models.CharField(
        max_length=8, choices=PrechatMode.choices, default=PrechatMode.OFF, help_text="Pre-chat form: the name."
    )
    prechat_email = models.CharField(
        max_length=8, choices=PrechatMode.choices, default=PrechatMode.OFF, help_text="Pre-chat form: the email."
    )
    prechat_phone = models.CharField(
        max_length=8, choices=PrechatMode.choices, default=PrechatMode.OFF, help_text="Pre-chat form: the phone number."
    )
    prechat_question = models.CharField(
        max_length=8,
        choices=PrechatMode.choices,
        default=PrechatMode.OFF,
        help_text="Pre-chat form: the first question, which becomes the conversation's first message.",
    )
    allowed_origins = models.TextField(
        blank=True,
        default="",
        help_text="Sites that may embed the widget, one origin per line (https://www.example.com).",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def allowed_origin_list(self) -> list[str]:
        return [line.strip().rstrip("/") for line in self.allowed_origins.splitlines() if line.strip()]

    @property
    def prechat_form(self) -> dict[str, str]:
        """Each pre-chat question and how it is asked (`off`, `optional`, `required`)."""
        return {field: getattr(self, f"prechat_{field}") for field in PRECHAT_FIELDS}
