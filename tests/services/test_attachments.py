"""Attachments in the services: what a file is (from its content), what it is called, and sending it once."""

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from chat.errors import ChatError
from chat.files import clean_name, content_type_of
from chat.models import Attachment, ConversationStatus, Message
from chat.payloads import message_payload
from chat.permissions import Participant
from chat.services import attachment_upload, attachments_unsent_delete, message_send
from cs_platform.errors import ErrorCode
from privacy.services import customer_erase
from tests.attachment_storage import attachment_storage, tiny_png
from tests.factories import AgentFactory, BusinessLineFactory, ConversationFactory

pytestmark = pytest.mark.django_db

PNG = tiny_png()
PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


@pytest.fixture(autouse=True)
def _files_in_a_folder_of_their_own(attachment_storage):
    return attachment_storage


@pytest.fixture
def active():
    line = BusinessLineFactory()
    agent = AgentFactory(business_lines=[line])
    return ConversationFactory(customer__business_line=line, status=ConversationStatus.ACTIVE, agent=agent)


def upload(participant, conversation, content, name="file.bin"):
    return attachment_upload(
        participant=participant,
        conversation_id=conversation.id,
        upload=SimpleUploadedFile(name, content, content_type="image/png"),
    )


def stored_files(root):
    return sorted(path.name for path in root.rglob("*") if path.is_file())


@pytest.mark.parametrize(
    ("content", "name", "expected"),
    [
        (PNG, "x.txt", "image/png"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "x.png", "image/jpeg"),
        (b"GIF89a\x01\x00\x01\x00", "x", "image/gif"),
        (PDF, "invoice.png", "application/pdf"),
        (b"PK\x03\x04" + b"\x00" * 26, "x.docx", "application/zip"),
        ("Привет, 世界\nline two\n".encode(), "notes.png", "text/plain"),
        (b"a,b\n1,2\n", "table.csv", "text/csv"),
        (b"<!doctype html><script>alert(1)</script>", "photo.png", None),
        (b'  <svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>', "photo.png", None),
        (b'<?xml version="1.0"?><x/>', "data.txt", None),
        (b"MZ\x90\x00\x03\x00\x00\x00", "setup.pdf", None),
        (b"text then a NUL \x00 byte", "x.txt", None),
        (b"\xc3\x28 not utf-8", "x.txt", None),
        (b"", "empty.txt", None),
    ],
)
def test_the_type_comes_from_the_content_never_the_name(content, name, expected):
    assert content_type_of([content], name) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\Desktop\\счёт.pdf", "счёт.pdf"),
        ("報告\u202egpj.exe", "報告gpj.exe"),
        ("a\x00b\r\nc.txt", "abc.txt"),
        ("..", "file"),
        (".hidden", "hidden"),
        ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
        ("", "file"),
    ],
)
def test_names_lose_paths_and_control_characters_and_keep_any_script(name, expected):
    assert clean_name(name) == expected


def test_an_upload_is_stored_under_a_name_of_its_own(active, attachment_storage):
    attachment = upload(Participant(kind="customer", id=active.customer_id), active, PNG, name="../../x.png")
    assert (attachment.name, attachment.content_type, attachment.size, attachment.uploader) == (
        "x.png",
        "image/png",
        len(PNG),
        "customer",
    )
    assert stored_files(attachment_storage) == [attachment.file.name.rsplit("/", 1)[-1]]
    assert ".." not in attachment.file.name and "x.png" not in attachment.file.name


def test_an_image_gets_its_dimensions_and_a_thumbnail_and_loses_its_exif(active):
    customer = Participant(kind="customer", id=active.customer_id)
    # Orientation 6: the camera was turned; the upright picture is 1 wide and 2 high
    photo = tiny_png((2, 1), exif={0x0112: 6, 0x010F: "Phone of Ada", 0x8825: {2: (51.0, 30.0, 0.0)}})
    attachment = upload(customer, active, photo, "photo.png")
    stored = attachment.file.open("rb").read()
    assert (attachment.width, attachment.height, attachment.size, b"Phone of Ada" in photo) == (1, 2, len(stored), True)
    assert b"Phone of Ada" not in stored and not Image.open(io.BytesIO(stored)).getexif()
    assert Image.open(attachment.thumbnail.open("rb")).format == "WEBP"
    plain = upload(customer, active, PNG, "plain.png")
    assert plain.file.open("rb").read() == PNG  # no EXIF: kept byte for byte


@pytest.mark.parametrize(
    "content",
    [
        PNG[:33] + b"<html><script>alert(1)</script></html>",  # a PNG's header on a page
        b"GIF89a" + b"\xff" * 20,
    ],
)
def test_an_image_that_does_not_decode_is_refused(active, attachment_storage, content):
    with pytest.raises(ChatError) as refused:
        upload(Participant(kind="customer", id=active.customer_id), active, content, "x.png")
    assert refused.value.code == ErrorCode.FILE_TYPE_NOT_ALLOWED
    assert (Attachment.objects.count(), stored_files(attachment_storage)) == (0, [])


def test_a_decompression_bomb_is_refused(active, settings):
    settings.ATTACHMENT_IMAGE_MAX_PIXELS = 100
    with pytest.raises(ChatError) as refused:
        upload(Participant(kind="customer", id=active.customer_id), active, tiny_png((20, 20)), "bomb.png")
    assert refused.value.code == ErrorCode.FILE_TYPE_NOT_ALLOWED


def test_the_exact_limit_is_accepted_and_one_byte_more_refused_storing_nothing(active, attachment_storage):
    active.business_line.attachment_max_bytes = 64
    active.business_line.save()
    customer = Participant(kind="customer", id=active.customer_id)
    assert upload(customer, active, b"a" * 64, "exact.txt").size == 64
    with pytest.raises(ChatError) as refused:
        upload(customer, active, b"a" * 65, "over.txt")
    assert refused.value.code == ErrorCode.FILE_TOO_LARGE
    assert (Attachment.objects.count(), len(stored_files(attachment_storage))) == (1, 1)


def test_a_type_the_line_does_not_allow_is_refused_storing_nothing(active, attachment_storage):
    active.business_line.attachment_types = "image/png\napplication/pdf"
    active.business_line.save()
    customer = Participant(kind="customer", id=active.customer_id)
    assert upload(customer, active, PDF).content_type == "application/pdf"
    with pytest.raises(ChatError) as refused:
        upload(customer, active, b"plain text", "a.txt")
    assert refused.value.code == ErrorCode.FILE_TYPE_NOT_ALLOWED
    assert (Attachment.objects.count(), len(stored_files(attachment_storage))) == (1, 1)


class TestSending:
    def test_a_message_carries_its_attachments_and_its_payload_shows_them(self, active):
        customer = Participant(kind="customer", id=active.customer_id)
        first, second = upload(customer, active, PNG, "a.png"), upload(customer, active, PDF, "b.pdf")
        message, created = message_send(
            participant=customer,
            conversation_id=active.id,
            client_msg_id="m1",
            body="",
            attachment_ids=[second.id, first.id],
        )
        payload = message_payload(message)
        assert created and [(a["id"], a["name"], a["size"]) for a in payload["attachments"]] == [
            (first.id, "a.png", len(PNG)),
            (second.id, "b.pdf", len(PDF)),
        ]
        assert payload["attachments"][0]["url"].startswith(f"/api/attachments/{first.id}/download/?sig=")
        assert list(Attachment.objects.filter(message=message).values_list("id", flat=True)) == [first.id, second.id]

    @pytest.mark.parametrize("whose", ["sent_before", "someone_else", "other_conversation", "unknown"])
    def test_an_attachment_is_sent_once_by_its_uploader_in_its_conversation(self, active, whose):
        customer = Participant(kind="customer", id=active.customer_id)
        mine = upload(customer, active, PNG)
        if whose == "sent_before":
            message_send(
                participant=customer, conversation_id=active.id, client_msg_id="m0", body="x", attachment_ids=[mine.id]
            )
            other = mine
        elif whose == "someone_else":
            other = upload(Participant(kind="agent", id=active.agent_id), active, PNG)
        elif whose == "other_conversation":
            elsewhere = ConversationFactory(customer__business_line=active.business_line)
            other = upload(Participant(kind="customer", id=elsewhere.customer_id), elsewhere, PNG)
        else:
            other = Attachment(id=10**9)
        before = Message.objects.count()
        ids = [other.id] if whose == "sent_before" else [mine.id, other.id]
        with pytest.raises(ChatError) as refused:
            message_send(
                participant=customer, conversation_id=active.id, client_msg_id="m1", body="x", attachment_ids=ids
            )
        assert refused.value.code == ErrorCode.INVALID_FIELD
        assert Message.objects.count() == before
        if whose != "sent_before":
            assert Attachment.objects.get(id=mine.id).message_id is None

    def test_more_than_ten_or_repeated_ids_are_refused(self, active):
        customer = Participant(kind="customer", id=active.customer_id)
        for ids in (list(range(1, 12)), [1, 1]):
            with pytest.raises(ChatError) as refused:
                message_send(
                    participant=customer, conversation_id=active.id, client_msg_id="m", body="x", attachment_ids=ids
                )
            assert refused.value.code == ErrorCode.INVALID_FIELD
        assert Message.objects.count() == 0

    def test_a_retry_acks_the_original_with_its_attachments(self, active):
        customer = Participant(kind="customer", id=active.customer_id)
        mine = upload(customer, active, PNG)
        first, _ = message_send(
            participant=customer, conversation_id=active.id, client_msg_id="m1", body="", attachment_ids=[mine.id]
        )
        again, created = message_send(
            participant=customer, conversation_id=active.id, client_msg_id="m1", body="", attachment_ids=[mine.id]
        )
        assert (created, again.id, [a["id"] for a in message_payload(again)["attachments"]]) == (
            False,
            first.id,
            [mine.id],
        )


def test_erasing_a_customer_deletes_their_attachments_files(
    active, attachment_storage, django_capture_on_commit_callbacks
):
    upload(Participant(kind="customer", id=active.customer_id), active, PNG)
    upload(Participant(kind="agent", id=active.agent_id), active, PDF)
    active.status, active.closed_at = ConversationStatus.CLOSED, active.started_at
    active.save()
    with django_capture_on_commit_callbacks(execute=True):
        deleted = customer_erase(customer_id=active.customer_id, reason="Request #1")
    # The picture, its thumbnail and the PDF
    assert (deleted.files, Attachment.objects.count(), stored_files(attachment_storage)) == (3, 0, [])


def refuse_eicar(upload, content_type):
    """A virus scanner's test double: refuses files holding the EICAR test string."""
    return "EICAR test file" if b"EICAR" in upload.read() else None


def test_the_scanner_hook_may_refuse_a_file_storing_nothing(active, attachment_storage, settings):
    settings.ATTACHMENT_SCANNER = "tests.services.test_attachments.refuse_eicar"
    customer = Participant(kind="customer", id=active.customer_id)
    kept = upload(customer, active, b"a clean note", "note.txt")
    with pytest.raises(ChatError) as refused:
        upload(customer, active, b"X5O!P%@AP EICAR-STANDARD-ANTIVIRUS-TEST-FILE", "eicar.txt")
    assert refused.value.code == ErrorCode.FILE_REJECTED
    assert (list(Attachment.objects.values_list("id", flat=True)), len(stored_files(attachment_storage))) == (
        [kept.id],
        1,
    )
    assert kept.file.open("rb").read() == b"a clean note"


def test_uploads_never_sent_are_deleted_after_a_day(
    active, attachment_storage, settings, django_capture_on_commit_callbacks
):
    customer = Participant(kind="customer", id=active.customer_id)
    old_unsent, old_sent, new_unsent = (upload(customer, active, PNG) for _ in range(3))
    message_send(
        participant=customer, conversation_id=active.id, client_msg_id="m", body="", attachment_ids=[old_sent.id]
    )
    day_ago = timezone.now() - timedelta(seconds=settings.ATTACHMENT_UNSENT_MAX_AGE + 1)
    Attachment.objects.filter(id__in=[old_unsent.id, old_sent.id]).update(created_at=day_ago)

    with django_capture_on_commit_callbacks(execute=True):
        deleted = attachments_unsent_delete(batch_size=1)

    assert (deleted, sorted(Attachment.objects.values_list("id", flat=True))) == (1, [old_sent.id, new_unsent.id])
    assert stored_files(attachment_storage) == sorted(a.file.name.rsplit("/", 1)[-1] for a in (old_sent, new_unsent))


def test_beat_runs_the_clean_up_task(active, settings, django_capture_on_commit_callbacks):
    from cs_platform.celery import app

    app.loader.import_default_modules()
    unsent = upload(Participant(kind="customer", id=active.customer_id), active, PNG)
    Attachment.objects.filter(id=unsent.id).update(created_at=timezone.now() - timedelta(days=2))
    scheduled = {entry["task"]: entry["schedule"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}

    with django_capture_on_commit_callbacks(execute=True):
        app.tasks["chat.tasks.attachments_cleanup"].delay()

    assert scheduled["chat.tasks.attachments_cleanup"] == settings.ATTACHMENT_CLEANUP_INTERVAL
    assert not Attachment.objects.filter(id=unsent.id).exists()
