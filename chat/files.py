"""What an uploaded file is, what it is called and how it is linked to: decided by the server, never the client.

The type comes from the file's content only: the first bytes through `filetype`'s signature matchers (raster
images, PDF, office documents, zip), or, for a file with no signature, a check that it is plain UTF-8 text that
does not open like markup. A file's name and the client's `Content-Type` are never consulted for the type, so an
HTML or SVG page named `.png` is refused. (The one exception is cosmetic: text named `.csv` is labelled
`text/csv`; both are served as downloads.)
"""

from __future__ import annotations

import codecs
import re
import time
import unicodedata
from collections.abc import Iterable

import filetype
from django.conf import settings
from django.core import signing

# filetype reads no more than this of a file's start.
_HEAD_BYTES = 8192
TEXT_TYPES = ("text/plain", "text/csv")
# Every type `content_type_of` can answer; a business line allows a subset (ATTACHMENT_ALLOWED_TYPES).
SIGNATURE_TYPES = frozenset(
    {
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
        "application/zip",
    }
)
ALL_TYPES = SIGNATURE_TYPES | set(TEXT_TYPES)
# Served `inline` (a browser shows them as images, never runs them); everything else is a download.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
# Control characters a text file may hold: tab, line feed, form feed, carriage return.
_TEXT_CONTROLS = frozenset("\t\n\f\r")
# Text opening like markup (HTML, SVG, XML) could be a page; it is refused, not stored as text.
_MARKUP_START = re.compile(r"\s*<")
# Characters that reorder or hide text around them: a name could show `gpj.exe` as `exe.jpg`.
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MAX_NAME_CHARS = 200
LINK_SALT = "chat.attachment-link"
# A download link stays the same for up to an hour, so the browser's cache (`Cache-Control` of an hour) serves it.
LINK_PERIOD = 3600


def content_type_of(chunks: Iterable[bytes], name: str) -> str | None:
    """The MIME type the content shows, or None when it is none `ALL_TYPES` knows. Reads the chunks once."""
    iterator = iter(chunks)
    head = b""
    for chunk in iterator:
        head += chunk
        if len(head) >= _HEAD_BYTES:
            break
    kind = filetype.guess(head[:_HEAD_BYTES]) if head else None
    if kind is not None:
        return kind.mime if kind.mime in SIGNATURE_TYPES else None
    if not _is_plain_text(head, iterator):
        return None
    return "text/csv" if name.lower().endswith(".csv") else "text/plain"


def _is_plain_text(head: bytes, rest: Iterable[bytes]) -> bool:
    """UTF-8 text without NUL or other control characters, not opening like a page."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    try:
        text = decoder.decode(head)
        if not text.strip() or _MARKUP_START.match(text):
            return False
        if _has_controls(text):
            return False
        for chunk in rest:
            if _has_controls(decoder.decode(chunk)):
                return False
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _has_controls(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" and c not in _TEXT_CONTROLS for c in text)


def clean_name(name: str) -> str:
    """The name to show and offer for download: its last path part, without control or reordering characters,
    in NFC, at most `MAX_NAME_CHARS` (the extension kept); any script is kept as it is."""
    name = unicodedata.normalize("NFC", name or "")
    name = re.split(r"[/\\]", name)[-1]
    name = "".join(c for c in name if unicodedata.category(c) != "Cc" and c not in _BIDI_CONTROLS)
    name = " ".join(name.split()).lstrip(".").strip()
    if len(name) > MAX_NAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 16:
            name = stem[: MAX_NAME_CHARS - len(extension) - 1] + "." + extension
        else:
            name = name[:MAX_NAME_CHARS]
    return name or "file"


class _LinkSigner(signing.TimestampSigner):
    """Signs with the start of the current period rather than the second: a history rendered again, on any
    worker, hands out the same links, and the browser does not fetch the same picture twice."""

    def timestamp(self) -> str:
        period = max(1, min(LINK_PERIOD, settings.ATTACHMENT_LINK_MAX_AGE // 2))
        return signing.b62_encode(int(time.time()) // period * period)


def link_signature(attachment_id: int) -> str:
    """The `sig` of a download link: the id signed with the start of the hour, valid `ATTACHMENT_LINK_MAX_AGE`
    seconds from then."""
    signed = _LinkSigner(salt=LINK_SALT).sign(str(attachment_id))
    return signed.split(":", 1)[1]


def link_signature_valid(attachment_id: int, signature: str) -> bool:
    try:
        _LinkSigner(salt=LINK_SALT).unsign(f"{attachment_id}:{signature}", max_age=settings.ATTACHMENT_LINK_MAX_AGE)
    except signing.BadSignature:
        return False
    return True
