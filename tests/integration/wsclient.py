"""A small asyncio WebSocket client for the chat protocol, speaking JSON frames only (docs/protocol.md).

`expect` returns the first frame of a type and keeps every other frame for later calls, so a test can wait
for frames that arrive in any order; `received` keeps every frame in arrival order for invariant checks.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

Frame = dict[str, Any]
_refs = itertools.count(1)


class Client:
    """One socket: send frames, wait for frames of a type, remember everything received."""

    def __init__(self, connection: ClientConnection, *, name: str) -> None:
        self.connection = connection
        self.name = name
        self.received: list[Frame] = []
        self._pending: list[Frame] = []
        self.close_code: int | None = None

    async def send(self, frame: Frame) -> None:
        await self.connection.send(json.dumps(frame))

    async def send_raw(self, data: str | bytes) -> None:
        await self.connection.send(data)

    async def request(self, frame: Frame, reply_type: str | None = None, timeout: float = 5.0) -> Frame:
        """Sends `frame` with a fresh `ref`; returns the frame that echoes it (of `reply_type`, or an error)."""
        ref = f"r{next(_refs)}"
        await self.send({**frame, "ref": ref})
        types = None if reply_type is None else (reply_type, "error")
        return await self.expect(types, lambda reply: reply.get("ref") == ref, timeout=timeout)

    async def expect(
        self,
        type_: str | tuple[str, ...] | None,
        predicate: Callable[[Frame], bool] | None = None,
        timeout: float = 5.0,
    ) -> Frame:
        """The first frame (already buffered or still to come) of this type (None: any) that satisfies `predicate`."""
        types = (type_,) if isinstance(type_, str) else type_
        wanted = "any" if types is None else "/".join(types)

        def matches(frame: Frame) -> bool:
            return (types is None or frame.get("type") in types) and (predicate is None or predicate(frame))

        for index, frame in enumerate(self._pending):
            if matches(frame):
                return self._pending.pop(index)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    frame = await self._receive()
                    if matches(frame):
                        return frame
                    self._pending.append(frame)
        except TimeoutError:
            raise AssertionError(
                f"{self.name}: no {wanted} frame matching within {timeout}s; unclaimed frames: {self._pending}"
            ) from None
        except ConnectionClosed as closed:
            self.close_code = closed.rcvd.code if closed.rcvd else None
            raise AssertionError(
                f"{self.name}: closed (code {self.close_code}) while waiting for {wanted}; "
                f"unclaimed frames: {self._pending}"
            ) from None

    async def receive(self, timeout: float) -> Frame | None:
        """The next frame off the wire, or None after `timeout`; raises ConnectionClosed when the socket ends."""
        try:
            async with asyncio.timeout(timeout):
                return await self._receive()
        except TimeoutError:
            return None

    async def closed(self, timeout: float = 5.0) -> int | None:
        """Reads (and keeps) frames until the server closes the socket; returns the close code."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    self._pending.append(await self._receive())
        except ConnectionClosed as closed:
            self.close_code = closed.rcvd.code if closed.rcvd else None
            return self.close_code
        except TimeoutError:
            raise AssertionError(f"{self.name}: still open after {timeout}s; frames: {self._pending}") from None

    def unclaimed(self, type_: str | None = None) -> list[Frame]:
        return [frame for frame in self._pending if type_ is None or frame.get("type") == type_]

    def frames(self, type_: str) -> list[Frame]:
        return [frame for frame in self.received if frame.get("type") == type_]

    async def close(self) -> None:
        await self.connection.close()

    async def _receive(self) -> Frame:
        raw = await self.connection.recv()
        frame = json.loads(raw)
        self.received.append(frame)
        return frame


async def connect(
    url: str, *, origin: str | None = None, headers: dict[str, str] | None = None, name: str | None = None
) -> Client:
    connection = await ws_connect(
        url,
        origin=origin,
        additional_headers=headers,
        proxy=None,
        open_timeout=5,
        close_timeout=2,
        compression=None,
        max_queue=None,
    )
    return Client(connection, name=name or url)


@dataclass
class Refusal:
    """How the server refused a socket: at the handshake (HTTP status) or after accepting (close code)."""

    http_status: int | None
    close_code: int | None
    frames: list[Frame]

    @property
    def refused(self) -> bool:
        at_handshake = self.http_status is not None and 400 <= self.http_status < 500
        after_accept = self.close_code is not None and 4000 <= self.close_code <= 4999
        greeted = any(frame.get("type") == "hello" for frame in self.frames)
        return (at_handshake or after_accept) and not greeted


async def attempt(
    url: str, *, origin: str | None = None, headers: dict[str, str] | None = None, timeout: float = 5.0
) -> Refusal:
    """Opens a socket expecting refusal; the result says how it ended (neither status nor code: left open)."""
    try:
        client = await connect(url, origin=origin, headers=headers, name=f"refused {url}")
    except InvalidStatus as error:
        return Refusal(http_status=error.response.status_code, close_code=None, frames=[])
    try:
        code = await client.closed(timeout=timeout)
    except AssertionError:
        code = None  # left open: not refused
    finally:
        await client.close()
    return Refusal(http_status=None, close_code=code, frames=client.received)


class Clients:
    """Every socket a scenario opens, all closed when it ends (so workers hold no database connection)."""

    def __init__(self) -> None:
        self.all: list[Client] = []

    async def connect(
        self, url: str, *, origin: str | None = None, headers: dict[str, str] | None = None, name: str | None = None
    ) -> Client:
        client = await connect(url, origin=origin, headers=headers, name=name)
        self.all.append(client)
        return client

    async def __aenter__(self) -> Clients:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await asyncio.gather(*(client.close() for client in self.all), return_exceptions=True)


def messages_seen(client: Client, conversation_id: int) -> dict[int, Frame]:
    """Every message of a conversation a client was given (acks, pushes, sync results, assignments), by seq."""
    seen: dict[int, Frame] = {}
    for frame in client.received:
        kind = frame.get("type")
        if kind in ("message.new", "message.ack"):
            found = [frame["message"]]
        elif kind in ("sync.result", "conversation.assigned"):
            found = frame.get("messages", [])
        else:
            found = []
        for message in found:
            if message["conversation_id"] == conversation_id:
                seen[message["seq"]] = message
    return seen
