"""A real SMTP server for the email tests (aiosmtpd), on a loopback port: what the product sends arrives here over
SMTP exactly as at a mail provider, and the tests read the parsed messages."""

from __future__ import annotations

import email
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller

from cs_platform.stack import free_port


@dataclass
class Received:
    """One accepted message: the envelope's recipients and the parsed message."""

    rcpt_tos: list[str]
    message: EmailMessage

    def part(self, content_type: str) -> str:
        """The text of the body part of `content_type` (`text/plain`, `text/html`)."""
        found = self.message.get_body(preferencelist=(content_type.split("/")[1],))
        assert found is not None and found.get_content_type() == content_type, self.message
        return str(found.get_content()).replace("\r\n", "\n")


@dataclass
class SmtpInbox:
    """`start()` listens on `port` (again after `stop()`); every message accepted is in `received`. Before
    `start()`, connecting to `port` is refused."""

    port: int = field(default_factory=free_port)
    received: list[Received] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)
    controller: Controller | None = None

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        """Recipients in `refused` are refused for good (550), like a mailbox that does not exist."""
        if address in self.refused:
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(rcpt_tos=list(envelope.rcpt_tos), message=message))
        return "250 Message accepted for delivery"

    def start(self) -> None:
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[Received]:
        return [item for item in self.received if address in item.rcpt_tos]

    def wait_for(self, what: str, found: Callable[[Received], bool], timeout: float = 30) -> Received:
        """The first message for which `found` holds, polling until it arrives; fails with what did arrive."""
        deadline = time.monotonic() + timeout
        while True:
            for item in list(self.received):
                if found(item):
                    return item
            if time.monotonic() > deadline:
                seen = [(item.rcpt_tos, item.message["Subject"]) for item in self.received]
                raise AssertionError(f"no email: {what}; received {seen}")
            time.sleep(0.05)
