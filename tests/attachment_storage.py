"""A fixture keeping the files a test uploads in its own temporary folder (and out of the data folder)."""

import pytest
from django.core.files.storage import FileSystemStorage

from chat.models import Attachment


@pytest.fixture
def attachment_storage(monkeypatch, tmp_path):
    """The folder attachments are stored in during the test (the field's storage is fixed when models load)."""
    monkeypatch.setattr(Attachment._meta.get_field("file"), "storage", FileSystemStorage(location=str(tmp_path)))
    return tmp_path
