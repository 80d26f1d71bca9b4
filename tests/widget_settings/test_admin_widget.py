"""The business line's widget in the admin: the team picture becomes a small PNG data URL, and the change page
embeds the widget in preview mode, in the admin reader's language."""

import base64
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext
from PIL import Image

from routing.admin import BusinessLineForm
from tests.factories import BusinessLineFactory, UserFactory

pytestmark = pytest.mark.django_db


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (15, 118, 110)).save(out, format="PNG")
    return out.getvalue()


def form_for(line, **files):
    data = {"name": line.name}
    form = BusinessLineForm(data=data, files=files, instance=line)
    form.fields = {name: form.fields[name] for name in ("name", "team_picture_upload", "team_picture_clear")}
    return form


def test_an_uploaded_team_picture_is_kept_as_a_small_png_data_url():
    line = BusinessLineFactory()
    form = form_for(line, team_picture_upload=SimpleUploadedFile("team.png", png(600, 300), "image/png"))

    assert form.is_valid(), form.errors
    form.save()
    line.refresh_from_db()
    prefix = "data:image/png;base64,"
    assert line.team_picture.startswith(prefix)
    with Image.open(io.BytesIO(base64.b64decode(line.team_picture[len(prefix) :]))) as kept:
        assert (kept.format, kept.size) == ("PNG", (128, 64))


def test_a_file_that_is_not_an_image_is_refused_and_changes_nothing():
    line = BusinessLineFactory(team_picture="data:image/png;base64,AAAA")
    form = form_for(line, team_picture_upload=SimpleUploadedFile("team.png", b"<svg onload=alert(1)>", "image/png"))

    assert not form.is_valid()
    assert "team_picture_upload" in form.errors
    line.refresh_from_db()
    assert line.team_picture == "data:image/png;base64,AAAA"


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_change_page_previews_the_widget_in_preview_mode_in_the_readers_language(client, language):
    with translation.override(language):
        help_text = gettext("The launcher in the corner of this page is the widget as customers see it.")
        alt = gettext("Team picture")
    line = BusinessLineFactory(team_picture="data:image/png;base64,AAAA")
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    client.cookies["django_language"] = language  # the admin's language switch

    html = client.get(reverse("admin:routing_businessline_change", args=[line.pk])).content.decode()

    assert (
        f'<p class="help">{help_text}</p><script src="/static/widget/widget.js" data-business-line="{line.key}" '
        f'data-lang="{language}" data-preview="1" defer></script>'
    ) in html
    assert f'<img src="data:image/png;base64,AAAA" alt="{alt}" width="64" height="64">' in html
