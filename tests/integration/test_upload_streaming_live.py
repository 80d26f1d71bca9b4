"""Uploads to a real Daphne worker, whose request bodies reach Django from Daphne's spooled file on demand
(cs_platform/daphne_body.py): what is stored is what was sent, with a length or chunked."""

import json
import os
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from tests.integration.chatflows import customer_socket, customer_token, make_team, play, start_conversation
from tests.integration.test_attachments_live import download, fetch
from tests.integration.wsclient import Clients

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

MIB = 1024 * 1024


def multipart(boundary: str, name: str, content: bytes) -> tuple[bytes, bytes]:
    """The bytes before and after the file in a multipart body with one `file` part."""
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    return head, f"\r\n--{boundary}--\r\n".encode()


def in_pieces(parts: list[bytes], size: int) -> Iterator[bytes]:
    """The body as a client streaming it would send it: no length known, pieces of `size` (sent chunked)."""
    for part in parts:
        for start in range(0, len(part), size):
            yield part[start : start + size]


def test_files_of_several_mib_sent_with_a_length_or_chunked_are_stored_byte_for_byte(workers):
    worker, _ = workers
    team = make_team(worker)
    token = customer_token(worker, team)
    # A PDF by its signature, then bytes no compression or pattern could stand in for
    with_length = b"%PDF-1.4\n" + os.urandom(6 * MIB)
    chunked = b"%PDF-1.4\n" + os.urandom(3 * MIB + 12345)

    async def a_conversation() -> int:
        async with Clients() as clients:
            customer = await customer_socket(clients, worker, token)
            return (await start_conversation(customer))["id"]

    conversation_id = play(a_conversation(), timeout=30)
    url = f"{worker.url}/api/conversations/{conversation_id}/attachments/"

    for name, content, send_chunked in (("report.pdf", with_length, False), ("streamed.pdf", chunked, True)):
        boundary = uuid.uuid4().hex
        head, tail = multipart(boundary, name, content)
        headers = {
            "Authorization": f"Token {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Accept": "application/json",
        }
        data = in_pieces([head, content, tail], 64 * 1024) if send_chunked else head + content + tail

        # When the customer uploads it
        status, _, raw = fetch(urllib.request.Request(url, data=data, headers=headers, method="POST"))

        # Then it is stored whole, and downloads as the same bytes
        assert status == 201, raw[:500]
        uploaded = json.loads(raw)
        assert (uploaded["name"], uploaded["content_type"], uploaded["size"]) == (
            name,
            "application/pdf",
            len(content),
        )
        status, _, stored = download(worker, uploaded["url"], token)
        assert status == 200
        assert stored == content, name

    # ... through Daphne's spooled file: the worker installed the on-demand body
    assert "daphne 4.2.3: request bodies are read from the spooled file as the application asks" in (worker.log_text())
