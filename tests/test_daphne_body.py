"""The input queue that hands Daphne's spooled request body to the application on demand (cs_platform/daphne_body.py).

Daphne's side is played as Daphne 4.2.3's `WebRequest.process` does it (`daphne_puts_the_body`); a real Daphne
process serves uploads in tests/integration/test_upload_streaming_live.py.
"""

import asyncio
import io
import logging
import tempfile
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import IO, Any

import daphne
import pytest
from daphne.http_protocol import WebRequest
from daphne.server import Server

from cs_platform.daphne_body import LazyBodyQueue, install, scope_with_length

CHUNK = 8


def daphne_puts_the_body(queue: LazyBodyQueue, content: IO[bytes]) -> None:
    """What Daphne 4.2.3 does once the application exists: chunks of its buffer size until a short read."""
    while True:
        chunk = content.read(CHUNK)
        more_body = not (len(chunk) < CHUNK)
        queue.put_nowait({"type": "http.request", "body": chunk, "more_body": more_body})
        if not more_body:
            break


@pytest.fixture
def spooled() -> Iterator[Callable[[bytes], IO[bytes]]]:
    """Twisted's spooled body past 100,000 bytes: a temporary file, at its start."""
    with ExitStack() as files:

        def spool(body: bytes) -> IO[bytes]:
            content = files.enter_context(tempfile.TemporaryFile())
            content.write(body)
            content.seek(0)
            return content

        yield spool


async def received(queue: LazyBodyQueue, count: int) -> list[dict[str, Any]]:
    return [await asyncio.wait_for(queue.get(), 5) for _ in range(count)]


async def test_a_body_of_several_chunks_arrives_in_order_and_ends_with_more_body_false(spooled):
    content = spooled(b"0123456789abcdefghijKLMNOPQRST")
    queue = LazyBodyQueue(content, CHUNK)

    daphne_puts_the_body(queue, content)

    assert await received(queue, 4) == [
        {"type": "http.request", "body": b"01234567", "more_body": True},
        {"type": "http.request", "body": b"89abcdef", "more_body": True},
        {"type": "http.request", "body": b"ghijKLMN", "more_body": True},
        {"type": "http.request", "body": b"OPQRST", "more_body": False},
    ]


async def test_the_body_past_the_first_chunk_is_read_from_the_file_only_when_asked_for(spooled):
    content = spooled(b"first---second--third")
    queue = LazyBodyQueue(content, CHUNK)
    daphne_puts_the_body(queue, content)
    # Daphne's loop is over: what it read of the file is one chunk, and its position is at the end
    assert content.tell() == 21
    assert (await queue.get())["body"] == b"first---"

    # When the file's rest changes after Daphne's loop, before the application asks for it
    content.seek(8)
    content.write(b"SECOND--THIRD")

    # Then the application reads the file as it is now: nothing of it was read ahead
    assert await received(queue, 2) == [
        {"type": "http.request", "body": b"SECOND--", "more_body": True},
        {"type": "http.request", "body": b"THIRD", "more_body": False},
    ]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"abcdefgh", [(b"abcdefgh", True), (b"", False)]),
        (b"abcdefghABCDEFGH", [(b"abcdefgh", True), (b"ABCDEFGH", False)]),
        (b"abcdefghABCDEFGH12345678", [(b"abcdefgh", True), (b"ABCDEFGH", True), (b"12345678", False)]),
    ],
    ids=["one-chunk", "two-chunks", "three-chunks"],
)
async def test_a_body_of_an_exact_multiple_of_the_chunk_size_ends_once(body, expected, spooled):
    content = spooled(body)
    queue = LazyBodyQueue(content, CHUNK)

    daphne_puts_the_body(queue, content)

    messages = await received(queue, len(expected))
    assert [(message["body"], message["more_body"]) for message in messages] == expected
    # ... and nothing more comes until the request ends
    queue.put_nowait({"type": "http.disconnect"})
    assert await queue.get() == {"type": "http.disconnect"}


@pytest.mark.parametrize(("body"), [b"", b"short"], ids=["empty", "under-one-chunk"])
async def test_an_empty_or_small_body_in_memory_is_one_message(body):
    content = io.BytesIO(body)
    queue = LazyBodyQueue(content, CHUNK)

    daphne_puts_the_body(queue, content)

    assert await queue.get() == {"type": "http.request", "body": body, "more_body": False}
    queue.put_nowait({"type": "http.disconnect"})
    assert await queue.get() == {"type": "http.disconnect"}


async def test_a_disconnect_comes_after_the_body_to_an_application_waiting_for_it(spooled):
    content = spooled(b"0123456789abcdef!")
    queue = LazyBodyQueue(content, CHUNK)
    daphne_puts_the_body(queue, content)
    assert [message["more_body"] for message in await received(queue, 3)] == [True, True, False]

    # Given the application waits for the next message (Django listens for the client leaving)
    waiting = asyncio.ensure_future(queue.get())
    await asyncio.sleep(0)
    assert not waiting.done()

    # When Daphne says the client left
    queue.put_nowait({"type": "http.disconnect"})

    # Then the application gets it
    assert await asyncio.wait_for(waiting, 5) == {"type": "http.disconnect"}


async def test_a_request_over_before_its_body_was_read_ends_with_the_disconnect(spooled):
    content = spooled(b"0123456789abcdefghij")
    queue = LazyBodyQueue(content, CHUNK)
    daphne_puts_the_body(queue, content)
    assert (await queue.get())["body"] == b"01234567"

    # When the client leaves: Daphne queues the disconnect, then Twisted closes the spooled file
    queue.put_nowait({"type": "http.disconnect"})
    content.close()

    # Then the application gets the disconnect, not a read of a closed file
    assert await asyncio.wait_for(queue.get(), 5) == {"type": "http.disconnect"}


def test_a_chunked_request_says_the_length_of_its_spooled_body():
    scope = {"type": "http", "headers": [(b"host", b"x"), (b"transfer-encoding", b"chunked")]}

    assert scope_with_length(scope, 1234) == {
        "type": "http",
        "headers": [(b"host", b"x"), (b"content-length", b"1234")],
    }


def test_a_request_with_its_length_keeps_its_headers():
    scope = {"type": "http", "headers": [(b"content-length", b"5"), (b"content-type", b"text/plain")]}

    assert scope_with_length(scope, 5) is scope


def test_installed_only_for_the_daphne_version_it_was_checked_against(caplog):
    class CheckedServer(Server):
        pass

    class CheckedRequest(WebRequest):
        pass

    class OtherServer(Server):
        pass

    class OtherRequest(WebRequest):
        pass

    assert daphne.__version__ == "4.2.3"
    with caplog.at_level(logging.WARNING, logger="cs_platform.daphne_body"):
        assert install(CheckedServer, CheckedRequest) is True
        assert install(CheckedServer, CheckedRequest) is True
        assert install(OtherServer, OtherRequest, version="4.3.0") is False

    assert getattr(CheckedServer.create_application, "lazy_body", False) is True
    assert CheckedRequest.__init__ is not WebRequest.__init__
    assert OtherServer.create_application is Server.create_application
    assert OtherRequest.__init__ is WebRequest.__init__
    assert [record.getMessage() for record in caplog.records] == [
        "daphne 4.3.0 is not what cs_platform/daphne_body.py was checked against (4.2.3): request bodies are read "
        "whole into memory before the application runs (django/daphne#483)"
    ]
