"""Helpers for attachment tests: a fixture keeping uploaded files in a temporary folder (out of the data folder),
and real images."""

import io

import pytest
from django.core.files.storage import FileSystemStorage
from PIL import Image

from chat.models import Attachment


@pytest.fixture
def attachment_storage(monkeypatch, tmp_path):
    """The folder attachments are stored in during the test (the field's storage is fixed when models load)."""
    monkeypatch.setattr(Attachment._meta.get_field("file"), "storage", FileSystemStorage(location=str(tmp_path)))
    return tmp_path


def tiny_png(size: tuple[int, int] = (2, 1), exif: dict[int, object] | None = None) -> bytes:
    """A real PNG (the server decodes images), with EXIF tags when given."""
    out = io.BytesIO()
    options = {}
    if exif:
        tags = Image.Exif()
        for tag, value in exif.items():
            tags[tag] = value
        options["exif"] = tags.tobytes()
    Image.new("RGB", size, "red").save(out, format="PNG", **options)
    return out.getvalue()
