"""Business lines: each has its own widget key, team, greeting, hours, timeouts and identity secret."""

import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

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
            gettext("Not a type the server recognises: %(unknown)s. Known: %(known)s.")
            % {"unknown": ", ".join(unknown), "known": ", ".join(sorted(ALL_TYPES))}
        )


validate_widget_color = RegexValidator(r"^#[0-9a-fA-F]{6}$", _("A colour as #RRGGBB, e.g. #4338ca."))


class WidgetPosition(models.TextChoices):
    RIGHT = "right", _("Bottom right")
    LEFT = "left", _("Bottom left")


class PrechatMode(models.TextChoices):
    """How the pre-chat form asks one question before a first chat."""

    OFF = "off", _("Not asked")
    OPTIONAL = "optional", _("Optional")
    REQUIRED = "required", _("Required")


# The pre-chat form's questions, in the order the widget asks them.
PRECHAT_FIELDS = ("name", "email", "phone", "question")


class BusinessLine(models.Model):
    name = models.CharField(max_length=100, unique=True, verbose_name=_("name"))
    key = models.SlugField(
        max_length=64,
        unique=True,
        default=new_widget_key,
        help_text=_("Public widget key, written into the site's <script> tag (data-business-line)."),
        verbose_name=_("key"),
    )
    identity_secret = models.CharField(
        max_length=128,
        default=new_identity_secret,
        help_text=_("Secret for HMAC-SHA256(external_id) identity verification. Never shown to customers."),
        verbose_name=_("identity secret"),
    )
    identity_requires_expiry = models.BooleanField(
        default=False,
        help_text=_(
            "Accept only expiring identities (identity_expires, hashed with the external id), never the plain "
            "HMAC of the external id, which works for ever once seen."
        ),
        verbose_name=_("identity requires expiry"),
    )
    greeting = models.TextField(blank=True, default="Hello! How can we help you today?", verbose_name=_("greeting"))
    time_zone = models.CharField(max_length=64, default="UTC", verbose_name=_("time zone"))
    business_hours = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            'Weekly schedule: {"mon": [["09:00", "18:00"]], ...}; days left out are closed. Empty means always open.'
        ),
        verbose_name=_("business hours"),
    )
    wait_timeout = models.PositiveIntegerField(
        default=default_wait_timeout,
        help_text=_("Seconds a customer waits before the chat is missed."),
        verbose_name=_("wait timeout"),
    )
    agent_reply_timeout = models.PositiveIntegerField(
        default=default_agent_reply_timeout,
        help_text=_("Seconds an assigned agent has to answer."),
        verbose_name=_("agent reply timeout"),
    )
    disconnect_grace = models.PositiveIntegerField(
        default=default_disconnect_grace,
        help_text=_("Seconds an agent may be without any live connection before their chats are requeued."),
        verbose_name=_("disconnect grace"),
    )
    idle_timeout = models.PositiveIntegerField(
        default=default_idle_timeout,
        help_text=_("Seconds of customer silence before the chat is closed."),
        verbose_name=_("idle timeout"),
    )
    retention_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        default=default_retention_days,
        help_text=_(
            "Days a conversation's transcript and files are kept after it ended; then they are deleted, "
            "with customers not seen for as long. Empty or 0: kept forever."
        ),
        verbose_name=_("retention days"),
    )
    attachment_max_bytes = models.PositiveBigIntegerField(
        null=True,
        blank=True,
        help_text=_("Largest file a chat may carry, in bytes. Empty: ATTACHMENT_MAX_BYTES."),
        verbose_name=_("attachment max bytes"),
    )
    attachment_types = models.TextField(
        blank=True,
        default="",
        validators=[validate_attachment_types],
        help_text=_(
            "File types chats may carry, one MIME type per line (image/png, application/pdf, ...), decided "
            "from each file's content. Empty: ATTACHMENT_ALLOWED_TYPES."
        ),
        verbose_name=_("attachment types"),
    )
    inbox_email = models.EmailField(
        blank=True,
        default="",
        help_text=_(
            "The team's inbox: every message a customer leaves is emailed here too (agents also find it in "
            "the workbench's missed list). Empty: not emailed."
        ),
        verbose_name=_("inbox email"),
    )
    language = models.CharField(
        max_length=16,
        choices=settings.LANGUAGES,
        default="en",
        help_text=_("Language of the emails to customers whose own language is not known."),
        verbose_name=_("language"),
    )
    widget_color = models.CharField(
        max_length=7,
        default="#4338ca",
        validators=[validate_widget_color],
        help_text=_("The widget's colour, #RRGGBB."),
        verbose_name=_("widget color"),
    )
    widget_position = models.CharField(
        max_length=8,
        choices=WidgetPosition.choices,
        default=WidgetPosition.RIGHT,
        help_text=_("Where the launcher sits."),
        verbose_name=_("widget position"),
    )
    widget_title = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text=_("The chat's title. Empty: the business line's name."),
        verbose_name=_("widget title"),
    )
    team_name = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text=_('Who answers, shown under the title ("Acme support team").'),
        verbose_name=_("team name"),
    )
    team_picture = models.TextField(
        blank=True,
        default="",
        help_text=_("The team's picture, stored as a small PNG (a data: URL, so it needs no file storage)."),
        verbose_name=_("team picture"),
    )
    launcher_text = models.CharField(
        max_length=40,
        blank=True,
        default="",
        help_text=_('Text beside the launcher button ("Chat with us"). Empty: the icon only.'),
        verbose_name=_("launcher text"),
    )
    prechat_name = models.CharField(
        max_length=8,
        choices=PrechatMode.choices,
        default=PrechatMode.OFF,
        help_text=_("Pre-chat form: the name."),
        verbose_name=_("prechat name"),
    )
    prechat_email = models.CharField(
        max_length=8,
        choices=PrechatMode.choices,
        default=PrechatMode.OFF,
        help_text=_("Pre-chat form: the email."),
        verbose_name=_("prechat email"),
    )
    prechat_phone = models.CharField(
        max_length=8,
        choices=PrechatMode.choices,
        default=PrechatMode.OFF,
        help_text=_("Pre-chat form: the phone number."),
        verbose_name=_("prechat phone"),
    )
    prechat_question = models.CharField(
        max_length=8,
        choices=PrechatMode.choices,
        default=PrechatMode.OFF,
        help_text=_("Pre-chat form: the first question, which becomes the conversation's first message."),
        verbose_name=_("prechat question"),
    )
    allowed_origins = models.TextField(
        blank=True,
        default="",
        help_text=_("Sites that may embed the widget, one origin per line (https://www.example.com)."),
        verbose_name=_("allowed origins"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("business line")
        verbose_name_plural = _("business lines")
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
