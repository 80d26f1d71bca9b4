"""Under Daphne, an HTTP request's body reaches the application chunk by chunk, as the application asks for it.

Why: Daphne 4.2.3 holds every request body whole in memory, twice over for a form. Twisted spools the body to a
temporary file (`request.content`, a `BytesIO` under 100,000 bytes), and then:
- Twisted's `Request.requestReceived` reads a `multipart/form-data` or URL-encoded body whole and parses it into
  `request.args` (https://github.com/twisted/twisted/issues/4519, open), which Daphne never uses;
- Daphne's `WebRequest.process` reads the whole file and puts every chunk into the application's unbounded input
  queue at once, before the application has read any of it (https://github.com/django/daphne/issues/483, open).
Each 10 MiB upload in flight cost the worker 25-60 MiB (docs/performance.md, "Uploads"). `install()` turns the
first off (`parsePOSTFormSubmission=False`, Twisted's own switch, for Daphne's requests) and replaces
`Server.create_application` for HTTP requests so that the input queue, a `LazyBodyQueue`, takes Daphne's first
chunk and then serves the rest from the spooled file on demand, one chunk per `receive()`. Django then streams
the body on (to its own spooled file, the multipart file part to a temporary upload file past
`FILE_UPLOAD_MAX_MEMORY_SIZE`, then to storage).

How it fits Daphne's loop: Daphne reads `request_buffer_size` bytes at a time until a short read. After its first
(full) chunk the queue moves the file's position to the end, so Daphne's next read is empty and its loop ends;
that empty last chunk is dropped, and the queue reads the rest itself from where Daphne's first chunk ended.
`http.disconnect` passes through, after the body; a file Twisted has closed (the request finished or the client
left) ends the body, and Daphne has queued `http.disconnect` by then.

A body sent chunked (`Transfer-Encoding: chunked`) is whole in Twisted's file before the application starts, so
its scope says its length (`content-length`) as a buffering proxy would: Django's multipart parser reads nothing
of a body of unknown length.

Remove this module, and its call in cs_platform/asgi.py, once a Daphne release reads the body from the spooled
file on demand and leaves form bodies unparsed itself (daphne#483 closed). Until then `install()` refuses, with a
warning, any Daphne version other than the ones this was checked against (`CHECKED_VERSIONS`), leaving Daphne's
own behaviour.
"""

from __future__ import annotations

import asyncio
import inspect
import io
import logging
from collections.abc import Callable
from functools import partial
from typing import IO, Any

logger = logging.getLogger(__name__)

# Daphne versions whose `WebRequest.process` and `Server.create_application` this module was read against.
CHECKED_VERSIONS = frozenset({"4.2.3"})

# The body past Daphne's first chunk is served in chunks of this size (Django's upload handlers read 64 KiB at a
# time): fewer `receive()` calls than Daphne's 8 KiB, at 64 KiB of memory per request being read.
CHUNK_BYTES = 64 * 1024

Message = dict[str, Any]
# In the queue after Daphne's first chunk: the rest of the body is read from the file when asked for.
_REST_IN_FILE: Message = {"type": "http.request", "body": b"", "more_body": True}


class LazyBodyQueue(asyncio.Queue[Message]):
    """The application's input queue for one HTTP request under Daphne (whose `receive` is this queue's `get`).

    Daphne `put_nowait`s the body's chunks and `http.disconnect`; the body beyond its first chunk is read from
    `content` only when the application asks for it."""

    def __init__(self, content: IO[bytes], chunk_size: int) -> None:
        super().__init__()
        self._content = content
        self._chunk_size = chunk_size
        self._taken_over = False
        self._reading = False
        self._offset = 0
        self._length = 0

    def put_nowait(self, item: Message) -> None:
        if item.get("type") == "http.request":
            if self._taken_over:
                # Daphne's empty read after the position was moved to the end: not the body's end.
                return
            if item.get("more_body"):
                self._taken_over = True
                self._offset = self._content.tell()
                self._length = self._content.seek(0, io.SEEK_END)
                super().put_nowait(item)
                super().put_nowait(_REST_IN_FILE)
                return
        super().put_nowait(item)

    async def get(self) -> Message:
        while True:
            if self._reading:
                chunk = self._next_chunk()
                if chunk is not None:
                    return chunk
            item = await super().get()
            if item is not _REST_IN_FILE:
                return item
            self._reading = True

    def _next_chunk(self) -> Message | None:
        """The body's next chunk from the file; None once the file is closed (the request is over)."""
        if self._content.closed:
            self._reading = False
            return None
        self._content.seek(self._offset)
        body = self._content.read(self._chunk_size)
        self._offset += len(body)
        more_body = bool(body) and self._offset < self._length
        self._reading = more_body
        return {"type": "http.request", "body": body, "more_body": more_body}


def scope_with_length(scope: Message, length: int) -> Message:
    """A chunked request's scope with the length of the body Twisted has whole (`content-length`, no
    `transfer-encoding`); any other scope as it is."""
    headers = scope["headers"]
    names = {name for name, _ in headers}
    if b"transfer-encoding" not in names or b"content-length" in names:
        return scope
    kept = [(name, value) for name, value in headers if name != b"transfer-encoding"]
    return {**scope, "headers": [*kept, (b"content-length", str(length).encode("ascii"))]}


def _lazy_create_application(
    daphne_create_application: Callable[[Any, Any, Message], Any], server: Any, protocol: Any, scope: Message
) -> asyncio.Queue[Message] | None:
    """Daphne 4.2.3's `Server.create_application` with a `LazyBodyQueue` for HTTP requests; WebSockets, and a
    request without a spooled body, go to Daphne's own."""
    content = getattr(protocol, "content", None)
    if scope.get("type") != "http" or content is None or content.closed:
        return daphne_create_application(server, protocol, scope)
    assert "application_instance" not in server.connections[protocol]
    position = content.tell()
    length = content.seek(0, io.SEEK_END)
    content.seek(position)
    input_queue = LazyBodyQueue(content, max(server.request_buffer_size, CHUNK_BYTES))
    scope = scope_with_length(scope, length)
    scope.setdefault("asgi", {"version": "3.0"})
    application_instance = server.application(
        scope=scope, receive=input_queue.get, send=partial(server.handle_reply, protocol)
    )
    if protocol not in server.connections:
        return None
    server.connections[protocol]["application_instance"] = asyncio.ensure_future(
        application_instance, loop=asyncio.get_event_loop()
    )
    return input_queue


def install(server_class: type | None = None, request_class: type | None = None, version: str | None = None) -> bool:
    """Serve request bodies on demand in Daphne's `Server`, and have its `WebRequest` leave form bodies unparsed
    (the classes: Daphne's own by default), if `version` (the installed Daphne's by default) is one this module
    was checked against; True once installed."""
    import daphne
    from daphne.http_protocol import WebRequest
    from daphne.server import Server
    from twisted.web.http import Request

    server: Any = server_class or Server
    request: Any = request_class or WebRequest
    version = version or daphne.__version__
    create_application = getattr(server, "create_application", None)
    if getattr(server.__dict__.get("create_application"), "lazy_body", False):
        return True
    expected = (
        version in CHECKED_VERSIONS
        and callable(create_application)
        and list(inspect.signature(create_application).parameters) == ["self", "protocol", "scope"]
        and "request_buffer_size" in inspect.signature(server.__init__).parameters
        and callable(getattr(request, "process", None))
        and "parsePOSTFormSubmission" in inspect.signature(Request.__init__).parameters
    )
    if not expected:
        logger.warning(
            "daphne %s is not what cs_platform/daphne_body.py was checked against (%s): request bodies are read "
            "whole into memory before the application runs (django/daphne#483)",
            version,
            ", ".join(sorted(CHECKED_VERSIONS)),
        )
        return False
    assert create_application is not None
    daphne_request_init = request.__init__

    def lazy_create_application(self: Any, protocol: Any, scope: Message) -> asyncio.Queue[Message] | None:
        return _lazy_create_application(create_application, self, protocol, scope)

    def request_init(self: Any, *args: Any, **kwargs: Any) -> None:
        # Twisted parses a form's whole body into `request.args`, which Daphne never reads (twisted#4519).
        kwargs.setdefault("parsePOSTFormSubmission", False)
        daphne_request_init(self, *args, **kwargs)

    lazy_create_application.lazy_body = True  # type: ignore[attr-defined]  # installed once per class
    server.create_application = lazy_create_application
    request.__init__ = request_init
    logger.info("daphne %s: request bodies are read from the spooled file as the application asks", version)
    return True
