"""Attachments across two real Daphne workers, through the contract only: upload on one worker, the message and
the download on the other, and what strangers and disguised files get (docs/protocol.md, "Attachments")."""

import asyncio
import io
import json
import urllib.error
import urllib.request
import uuid
from typing import Any

import pytest
from PIL import Image

from cs_platform.stack import WebWorker
from tests.integration.chatflows import (
    customer_socket,
    customer_token,
    make_team,
    new_client_msg_id,
    open_chat,
    play,
    start_conversation,
)
from tests.integration.wsclient import Clients

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
HTML_PAGE = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>"


def png_bytes() -> bytes:
    image = io.BytesIO()
    Image.new("RGB", (8, 6), (200, 30, 30)).save(image, format="PNG")
    return image.getvalue()


def fetch(request: urllib.request.Request) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request; the status, headers and raw body, whatever the status."""
    try:
        with _opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def upload(worker: WebWorker, conversation_id: int, token: str, name: str, content: bytes) -> tuple[int, Any]:
    """`POST /api/conversations/{id}/attachments/`, multipart with one `file` part; the status and the JSON."""
    boundary = uuid.uuid4().hex
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: image/png\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    request = urllib.request.Request(
        f"{worker.url}/api/conversations/{conversation_id}/attachments/",
        data=body,
        headers={
            "Authorization": f"Token {token}",
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Accept": "application/json",
        },
        method="POST",
    )
    status, _, raw = fetch(request)
    return status, json.loads(raw)


def download(worker: WebWorker, path: str, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Authorization": f"Token {token}"} if token else {}
    return fetch(urllib.request.Request(f"{worker.url}{path}", headers=headers))


def unsigned(attachments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The attachment objects without their links' signatures, which change with the hour they were made in."""
    return [
        {key: value.split("?", 1)[0] if key.endswith("url") else value for key, value in attachment.items()}
        for attachment in attachments
    ]


def test_an_image_uploaded_on_one_worker_reaches_the_agent_on_the_other_and_only_them(workers):
    worker1, worker2 = workers
    team = make_team(worker1)
    image = png_bytes()

    async def scenario():
        async with Clients() as clients:
            # Given a chat with the customer on worker 1, the agent on worker 2
            chat = await open_chat(clients, worker1, worker2, team)
            # ... and a stranger: another customer of the line with a conversation of their own, on worker 2
            stranger_token = await asyncio.to_thread(customer_token, worker1, team)
            stranger = await customer_socket(clients, worker2, stranger_token, name="stranger")
            stranger_conversation = await start_conversation(stranger)

            # When the customer uploads an image on worker 1
            status, uploaded = await asyncio.to_thread(
                upload, worker1, chat.conversation_id, chat.customer_token, "screenshot.png", image
            )

            # Then it is stored, typed from its content
            assert status == 201, uploaded
            assert uploaded == {
                **uploaded,
                "name": "screenshot.png",
                "content_type": "image/png",
                "size": len(image),
            }
            assert uploaded["url"].startswith(f"/api/attachments/{uploaded['id']}/download/")
            assert (uploaded["width"], uploaded["height"]) == (8, 6)

            # When the stranger names it in a message of their own conversation
            refused = await stranger.request(
                {
                    "type": "message.send",
                    "conversation_id": stranger_conversation["id"],
                    "client_msg_id": new_client_msg_id(),
                    "body": "Look at this",
                    "attachment_ids": [uploaded["id"]],
                }
            )

            # Then it is refused
            assert (refused["type"], refused["code"]) == ("error", "invalid_field")

            # When the customer sends it on worker 1
            client_msg_id = new_client_msg_id()
            ack = await chat.customer.request(
                {
                    "type": "message.send",
                    "conversation_id": chat.conversation_id,
                    "client_msg_id": client_msg_id,
                    "body": "This is what I see",
                    "attachment_ids": [uploaded["id"]],
                },
                "message.ack",
            )
            assert ack["type"] == "message.ack", ack
            assert unsigned(ack["message"]["attachments"]) == unsigned([uploaded])

            # Then the agent on worker 2 gets the message with the attachment object
            new = await chat.agent.expect("message.new", lambda frame: frame["message"]["id"] == ack["message"]["id"])
            assert unsigned(new["message"]["attachments"]) == unsigned([uploaded])
            assert new["message"]["body"] == "This is what I see"

            # When the agent downloads its url from worker 2
            status, headers, content = await asyncio.to_thread(download, worker2, uploaded["url"], team.token)

            # Then the bytes are the uploaded ones, never to be sniffed into anything else
            assert status == 200
            assert content == image
            assert headers["X-Content-Type-Options"] == "nosniff"

            # When the stranger downloads it with their token, beside the link's signature or without it
            for path in (uploaded["url"], uploaded["url"].split("?", 1)[0]):
                status, _, content = await asyncio.to_thread(download, worker2, path, stranger_token)

                # Then they get nothing
                assert status in (403, 404), path
                assert content != image

            # When the agent uploads an HTML page named .png on worker 2
            status, answer = await asyncio.to_thread(
                upload, worker2, chat.conversation_id, team.token, "invoice.png", HTML_PAGE
            )

            # Then it is refused for its content
            assert (status, answer["code"]) == (415, "file_type_not_allowed")

    play(scenario(), timeout=30)
