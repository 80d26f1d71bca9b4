"""Admin for business lines: settings, team, and an identity secret that only superusers may read."""

import base64
import io
from collections.abc import Sequence
from typing import Any

from django import forms
from django.contrib import admin
from django.core.files.uploadedfile import UploadedFile
from django.db.models import ForeignKey, QuerySet
from django.http import HttpRequest
from django.templatetags.static import static
from django.utils import translation
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.text import capfirst
from django.utils.translation import gettext, gettext_lazy
from PIL import Image, UnidentifiedImageError

from agents.models import Agent, TeamMembership
from audit.admin import AuditedModelAdmin
from routing.models import BusinessLine

SECRET_MASK = "•" * 12
# The team's picture is kept small: a square PNG of at most this many pixels a side, inside the business line's row.
TEAM_PICTURE_PIXELS = 128
TEAM_PICTURE_MAX_UPLOAD = 2 * 1024 * 1024


def team_picture_data_url(upload: UploadedFile) -> str:
    """An uploaded image as a small PNG `data:` URL (the widget shows it without file storage, and the pages'
    Content-Security-Policy allows `data:` images); refuses anything Pillow cannot decode."""
    if (upload.size or 0) > TEAM_PICTURE_MAX_UPLOAD:
        raise forms.ValidationError(gettext("The picture must be under 2 MB."))
    try:
        with Image.open(upload) as image:
            image.load()
            picture = image.convert("RGBA")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError):
        raise forms.ValidationError(gettext("Not an image: upload a PNG, JPEG, GIF or WebP picture.")) from None
    picture.thumbnail((TEAM_PICTURE_PIXELS, TEAM_PICTURE_PIXELS))
    out = io.BytesIO()
    picture.save(out, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(out.getvalue()).decode()


class BusinessLineForm(forms.ModelForm):
    team_picture_upload = forms.ImageField(
        required=False,
        label=gettext_lazy("Team picture"),
        help_text=gettext_lazy("A square picture works best; it is shrunk to 128 pixels."),
    )
    team_picture_clear = forms.BooleanField(required=False, label=gettext_lazy("Remove the team picture"))

    class Meta:
        model = BusinessLine
        # The admin's fieldsets decide the form's fields; the picture is never a field (only its upload is).
        fields = ["name"]

    def clean(self) -> dict:
        cleaned = super().clean() or {}
        upload = cleaned.get("team_picture_upload")
        if upload:
            try:
                self.instance.team_picture = team_picture_data_url(upload)
            except forms.ValidationError as error:
                self.add_error("team_picture_upload", error)
        elif cleaned.get("team_picture_clear"):
            self.instance.team_picture = ""
        return cleaned


class TeamMemberInline(admin.TabularInline):
    """The business line's team, edited from this side of the agent <-> business line relation."""

    model = TeamMembership
    extra = 0
    autocomplete_fields = ["agent"]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).select_related("agent")

    def formfield_for_foreignkey(self, db_field: ForeignKey, request: HttpRequest, **kwargs: Any) -> Any:
        """Django's own model for the relation names its column after the field ("agent"), in no language: the
        column is labelled with the agent model's name, translated."""
        if db_field.name == "agent":
            kwargs["label"] = capfirst(Agent._meta.verbose_name)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(BusinessLine)
class BusinessLineAdmin(AuditedModelAdmin):
    form = BusinessLineForm
    list_display = ["name", "key", "time_zone", "team_size", "retention_days", "created_at"]
    search_fields = ["name", "key"]
    readonly_fields = ["created_at", "team_picture_shown", "widget_preview"]
    inlines = [TeamMemberInline]
    fieldsets = [
        (
            None,
            {"fields": ["name", "key", "identity_secret", "identity_requires_expiry", "greeting", "allowed_origins"]},
        ),
        (gettext_lazy("Business hours"), {"fields": ["time_zone", "business_hours"]}),
        (
            gettext_lazy("Timeouts (seconds)"),
            {"fields": ["wait_timeout", "agent_reply_timeout", "disconnect_grace", "idle_timeout"]},
        ),
        (gettext_lazy("Attachments"), {"fields": ["attachment_max_bytes", "attachment_types"]}),
        (gettext_lazy("Email"), {"fields": ["inbox_email", "language"]}),
        (
            gettext_lazy("Widget"),
            {
                "fields": [
                    "widget_color",
                    "widget_position",
                    "widget_title",
                    "team_name",
                    "team_picture_shown",
                    "team_picture_upload",
                    "team_picture_clear",
                    "launcher_text",
                    "widget_preview",
                ],
                "description": gettext_lazy(
                    "How the chat looks on the line's sites; the greeting is above. "
                    "Save to see a change in the preview."
                ),
            },
        ),
        (
            gettext_lazy("Pre-chat form"),
            {
                "fields": ["prechat_name", "prechat_email", "prechat_phone", "prechat_question"],
                "description": gettext_lazy(
                    "Asked before a customer's chat starts; the answers go on the customer and open the conversation "
                    "as its first message."
                ),
            },
        ),
        (gettext_lazy("Data protection"), {"fields": ["retention_days"]}),
        (None, {"fields": ["created_at"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("agents")

    @admin.display(description=gettext_lazy("Team"))
    def team_size(self, obj: BusinessLine) -> int:
        return len(obj.agents.all())

    @admin.display(description=gettext_lazy("Current team picture"))
    def team_picture_shown(self, obj: BusinessLine) -> SafeString | str:
        if not obj.team_picture:
            return "-"
        return format_html('<img src="{}" alt="{}" width="64" height="64">', obj.team_picture, gettext("Team picture"))

    @admin.display(description=gettext_lazy("Preview"))
    def widget_preview(self, obj: BusinessLine) -> SafeString | str:
        """The line's widget as saved, embedded in this page the way a site embeds it, in preview mode: its chat
        page opens no session, so nothing here reaches the agents."""
        if obj.pk is None:
            return gettext("Save the business line to preview its widget.")
        return format_html(
            '<p class="help">{}</p><script src="{}" data-business-line="{}" data-lang="{}" data-preview="1" defer>'
            "</script>",
            gettext("The launcher in the corner of this page is the widget as customers see it."),
            static("widget/widget.js"),
            obj.key,
            translation.get_language(),  # the admin reader's language (the switch), not only the browser's
        )

    @admin.display(description=gettext_lazy("Identity secret"))
    def identity_secret_masked(self, obj: BusinessLine) -> str:
        return SECRET_MASK if obj.identity_secret else "-"

    def get_fieldsets(self, request: HttpRequest, obj: BusinessLine | None = None):
        """Anyone but a superuser sees the secret masked and cannot change it (it signs customer identities)."""
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        return [(name, {**options, "fields": _masked(options["fields"])}) for name, options in fieldsets]

    def get_readonly_fields(self, request: HttpRequest, obj: BusinessLine | None = None):
        readonly = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            readonly.append("identity_secret_masked")
        return readonly

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        """No `?identity_secret__startswith=` in the changelist URL: it would guess the secret letter by letter."""
        if lookup.split("__", 1)[0] == "identity_secret" and not request.user.is_superuser:
            return False
        return super().lookup_allowed(lookup, value, request)


def _masked(fields: Sequence[str | Sequence[str]]) -> list[str | Sequence[str]]:
    """A fieldset's fields, the secret's swapped for its masked display."""
    return ["identity_secret_masked" if field == "identity_secret" else field for field in fields]
