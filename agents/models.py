"""Agents: the people who answer customers, each with a capacity and a presence."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Presence(models.TextChoices):
    ONLINE = "online", "Online"
    AWAY = "away", "Away"
    OFFLINE = "offline", "Offline"


class Agent(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent")
    display_name = models.CharField(max_length=100)
    capacity = models.PositiveSmallIntegerField(default=3, help_text="Most open conversations at once.")
    presence = models.CharField(
        max_length=8, choices=Presence.choices, default=Presence.OFFLINE,
        help_text="What the agent chose. They only receive chats while online and connected.",
    )
    presence_changed_at = models.DateTimeField(auto_now_add=True)
    last_assigned_at = models.DateTimeField(null=True, blank=True)
    business_lines = models.ManyToManyField("routing.BusinessLine", related_name="agents", blank=True)

    class Meta:
        ordering = ["display_name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(presence__in=[p.value for p in Presence]), name="agent_presence_valid"
            ),
        ]
        indexes = [models.Index(fields=["presence"], name="agent_presence_idx")]

    def __str__(self) -> str:
        return self.display_name
