"""The audit log: who did what to which record, when and from where. Entries are written, never changed.

An entry names its target by model and id only, never by a name or an email: it must stay true, and free of
personal data, after the customer it names has been erased.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    TRANSCRIPT_EXPORT = "transcript.export", _("Exported transcripts")
    CUSTOMER_ERASE = "customer.erase", _("Erased a customer")
    RETENTION_PURGE = "retention.purge", _("Deleted transcripts past retention")
    ADMIN_ADD = "admin.add", _("Added in the admin")
    ADMIN_CHANGE = "admin.change", _("Changed in the admin")
    ADMIN_DELETE = "admin.delete", _("Deleted in the admin")


class AuditEntry(models.Model):
    at = models.DateTimeField(default=timezone.now, verbose_name=_("at"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Empty for the system (retention) and the command line."),
        verbose_name=_("actor"),
    )
    actor_label = models.CharField(
        max_length=150,
        blank=True,
        help_text=_("The username at the time, or who ran a command: kept when the user is deleted."),
        verbose_name=_("actor label"),
    )
    action = models.CharField(max_length=32, choices=AuditAction.choices, verbose_name=_("action"))
    target_type = models.CharField(
        max_length=100, blank=True, help_text=_("app_label.model"), verbose_name=_("target type")
    )
    target_id = models.CharField(max_length=64, blank=True, verbose_name=_("target id"))
    address = models.GenericIPAddressField(
        null=True, blank=True, help_text=_("The client address of the request."), verbose_name=_("address")
    )
    details = models.JSONField(default=dict, blank=True, verbose_name=_("details"))

    class Meta:
        verbose_name = _("audit entry")
        ordering = ["-at", "-id"]
        verbose_name_plural = _("audit entries")
        # Nobody may add, change or delete an entry, not even through a granted permission.
        default_permissions = ("view",)
        constraints = [
            models.CheckConstraint(condition=Q(action__in=[a.value for a in AuditAction]), name="audit_action_valid"),
        ]
        indexes = [
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
            models.Index(fields=["action", "-at"], name="audit_action_idx"),
            models.Index(fields=["-at"], name="audit_at_idx"),
        ]

    def __str__(self) -> str:
        actor = self.actor_label or gettext("the system")
        if not self.target_id:
            return gettext("%(action)s by %(actor)s") % {"action": self.get_action_display(), "actor": actor}
        return gettext("%(action)s %(type)s #%(id)s by %(actor)s") % {
            "action": self.get_action_display(),
            "type": self.target_type,
            "id": self.target_id,
            "actor": actor,
        }
