"""Agents: the people who answer customers, each with a capacity and a presence."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class Presence(models.TextChoices):
    ONLINE = "online", _("Online")
    AWAY = "away", _("Away")
    OFFLINE = "offline", _("Offline")


class Agent(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent", verbose_name=_("user")
    )
    display_name = models.CharField(max_length=100, verbose_name=_("display name"))
    capacity = models.PositiveSmallIntegerField(
        default=3, help_text=_("Most open conversations at once."), verbose_name=_("capacity")
    )
    presence = models.CharField(
        max_length=8,
        choices=Presence.choices,
        default=Presence.OFFLINE,
        help_text=_("What the agent chose. They only receive chats while online and connected."),
        verbose_name=_("presence"),
    )
    presence_changed_at = models.DateTimeField(auto_now_add=True, verbose_name=_("presence changed at"))
    last_assigned_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last assigned at"))
    business_lines = models.ManyToManyField(
        "routing.BusinessLine", related_name="agents", blank=True, verbose_name=_("business lines")
    )

    class Meta:
        verbose_name = _("agent")
        verbose_name_plural = _("agents")
        ordering = ["display_name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(presence__in=[p.value for p in Presence]), name="agent_presence_valid"),
        ]
        indexes = [models.Index(fields=["presence"], name="agent_presence_idx")]

    def __str__(self) -> str:
        return self.display_name


class TeamMembership(Agent.business_lines.through):  # type: ignore[name-defined]  # a class Django builds
    """One agent in one business line's team: Django's own row of the relation (no table of its own), named after
    the agent, so the business line's team in the admin lists agents rather than "Agent_business_lines object"."""

    class Meta:
        proxy = True
        verbose_name = _("team member")
        verbose_name_plural = _("team")

    def __str__(self) -> str:
        return str(self.agent)


class ApiToken(models.Model):
    """A bearer token for the REST API and `/ws/agent/?token=` (`POST /api/auth/token/`).

    Only the token's SHA-256 is kept, so a copy of the database holds no usable token. It is valid for
    `AGENT_TOKEN_TTL` seconds from `created_at`, while the user is active and while the password stays the one it
    was issued under (`password_fingerprint`, an HMAC of the password hash: any password change revokes it).
    """

    digest = models.CharField(
        max_length=64, unique=True, help_text=_("SHA-256 of the token, hex."), verbose_name=_("digest")
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens", verbose_name=_("user")
    )
    created_at = models.DateTimeField(default=timezone.now, verbose_name=_("created at"))
    password_fingerprint = models.CharField(max_length=64, verbose_name=_("password fingerprint"))

    class Meta:
        verbose_name = _("API token")
        verbose_name_plural = _("API tokens")
        ordering = ["-created_at", "id"]
        indexes = [models.Index(fields=["user", "created_at"], name="apitoken_user_created_idx")]

    def __str__(self) -> str:
        return gettext("API token of %(user)s from %(created)s") % {
            "user": self.user,
            "created": f"{self.created_at:%Y-%m-%d %H:%M}",
        }
