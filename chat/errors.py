"""Error codes of the live chat protocol: one enum, documented in docs/protocol.md."""

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_JSON = "invalid_json"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FIELD = "invalid_field"
    FRAME_TOO_LARGE = "frame_too_large"
    REPLY_TOO_LARGE = "reply_too_large"
    BODY_TOO_LONG = "body_too_long"
    RATE_LIMITED = "rate_limited"
    NOT_FOUND = "not_found"
    CONVERSATION_CLOSED = "conversation_closed"
    NOT_ASSIGNED = "not_assigned"
    AGENT_UNAVAILABLE = "agent_unavailable"
    UNAUTHENTICATED = "unauthenticated"
    ORIGIN_FORBIDDEN = "origin_forbidden"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    INTERNAL_ERROR = "internal_error"


class ChatError(Exception):
    """A refusal a client can act on; consumers turn it into an `error` frame, and nothing has changed."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
