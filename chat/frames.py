"""The wire's framing rules, both ways (docs/protocol.md, "Conventions" and "Limits").

A client frame is JSON text. Whatever its fields, it may hold nothing the rest of the server cannot carry: no
nesting deeper than `MAX_DEPTH`, no NUL character (PostgreSQL refuses it in text), no lone surrogate (UTF-8
cannot encode it, so echoing it would fail on the way out), no integer outside a signed 64-bit range (the
database's ids), no NaN or infinity. Checking this once, here, keeps every handler from meeting it later.

A server frame goes out as UTF-8 text of at most `CHAT_MAX_OUTGOING_FRAME_BYTES`: Daphne closes a socket with
1011 when a frame exceeds its own limit (1 MiB by default), and the client would meet the same frame again on
every reconnect.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from django.conf import settings

from chat.errors import ChatError
from cs_platform.errors import ErrorCode

MAX_DEPTH = 32
MAX_INT = 2**63 - 1
MAX_REF_CHARS = 64
# Longer digit strings are out of range anyway; not parsing them keeps a 4,000-digit number cheap.
_MAX_INT_DIGITS = len(str(MAX_INT)) + 1
_BAD_CHARACTER = re.compile("[\x00\ud800-\udfff]")


class _OutOfRange:
    """Stands for an integer literal too long to be in range, so it is refused as a field, not as JSON."""


_OUT_OF_RANGE = _OutOfRange()


class FrameRefused(ChatError):
    """A client frame refused before any handler saw it; `ref` is the frame's own when that one is usable."""

    def __init__(self, code: ErrorCode, message: str, ref: Any = None) -> None:
        super().__init__(code, message)
        self.ref = ref


class FrameUnsendable(Exception):
    """A server frame that cannot go on the wire; `code` is what the client is told instead."""

    def __init__(self, code: ErrorCode, reason: str) -> None:
        super().__init__(reason)
        self.code = code


def _parse_int(digits: str) -> int | _OutOfRange:
    return int(digits) if len(digits) <= _MAX_INT_DIGITS else _OUT_OF_RANGE


def frame_decode(text: str) -> dict[str, Any]:
    """The JSON object a client sent, once it is known to hold only what the server can carry."""
    try:
        frame = json.loads(text, parse_int=_parse_int)
    except (ValueError, RecursionError):
        raise FrameRefused(ErrorCode.INVALID_JSON, "Frame is not valid JSON") from None
    if not isinstance(frame, dict):
        raise FrameRefused(ErrorCode.INVALID_JSON, "Frame must be a JSON object")
    ref = frame_ref(frame)
    problem = _problem(frame)
    if problem is not None:
        code, message = problem
        raise FrameRefused(code, message, ref)
    return frame


def frame_ref(frame: dict[str, Any]) -> Any:
    """The frame's `ref` if it is one the server may echo (docs/protocol.md, "Conventions"), else None."""
    value = frame.get("ref")
    if isinstance(value, str):
        return value if len(value) <= MAX_REF_CHARS and not _BAD_CHARACTER.search(value) else None
    if isinstance(value, int) and not isinstance(value, bool) and len(str(value)) <= MAX_REF_CHARS:
        return value
    return None


def _problem(frame: dict[str, Any]) -> tuple[ErrorCode, str] | None:
    """What in the frame the server cannot carry, walked without recursion (a deep frame is the attack)."""
    pending: list[tuple[Any, int]] = [(frame, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, (dict, list)):
            if depth > MAX_DEPTH:
                return ErrorCode.INVALID_JSON, f"Frames may nest at most {MAX_DEPTH} levels deep"
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str) and _BAD_CHARACTER.search(key):
                    return ErrorCode.INVALID_FIELD, "Field names must be text without NUL or lone surrogates"
                pending.append((item, depth + 1))
        elif isinstance(value, str):
            if _BAD_CHARACTER.search(value):
                return ErrorCode.INVALID_FIELD, "Strings must be valid Unicode text without NUL characters"
        elif value is _OUT_OF_RANGE or (isinstance(value, int) and not -MAX_INT <= value <= MAX_INT):
            return ErrorCode.INVALID_FIELD, "Integers must be within a signed 64-bit range"
        elif isinstance(value, float) and not math.isfinite(value):
            return ErrorCode.INVALID_FIELD, "Numbers must be finite"
    return None


def wire_text(value: Any) -> str:
    """The JSON text of a server frame (or a part of one), as it goes on the wire."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def wire_size(value: Any) -> int:
    """Bytes `value` takes in a server frame."""
    return len(wire_text(value).encode())


def frame_encode(frame: dict[str, Any]) -> str:
    """The frame's text, or FrameUnsendable if it is over the outgoing limit or not encodable as UTF-8."""
    text = wire_text(frame)
    try:
        size = len(text.encode())
    except UnicodeEncodeError as error:
        raise FrameUnsendable(ErrorCode.INTERNAL_ERROR, f"not encodable as UTF-8 ({error.reason})") from None
    if size > settings.CHAT_MAX_OUTGOING_FRAME_BYTES:
        raise FrameUnsendable(
            ErrorCode.REPLY_TOO_LARGE,
            f"{size} bytes, over CHAT_MAX_OUTGOING_FRAME_BYTES ({settings.CHAT_MAX_OUTGOING_FRAME_BYTES})",
        )
    return text
