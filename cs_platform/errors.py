"""Every error code the product answers with: WebSocket `error` frames, REST error bodies and the operators'
erasure command say `code` from this one enum. docs/protocol.md ("Errors") documents each member, and a test
keeps the two equal both ways.

A code is a stable snake_case string that clients branch on; the `message` beside it is for people and may change.
"""

from enum import StrEnum


class ErrorCode(StrEnum):
    # Frames: a refused frame (the socket stays open) or a refused socket (closed with a 4xxx code)
    INVALID_JSON = "invalid_json"
    UNKNOWN_TYPE = "unknown_type"
    INVALID_FIELD = "invalid_field"
    FRAME_TOO_LARGE = "frame_too_large"
    REPLY_TOO_LARGE = "reply_too_large"
    BODY_TOO_LONG = "body_too_long"
    RATE_LIMITED = "rate_limited"
    NOT_FOUND = "not_found"
    CONVERSATION_CLOSED = "conversation_closed"
    CONVERSATION_OPEN = "conversation_open"
    NOT_ASSIGNED = "not_assigned"
    AGENT_UNAVAILABLE = "agent_unavailable"
    ALREADY_ANSWERED = "already_answered"
    UNAUTHENTICATED = "unauthenticated"
    ORIGIN_FORBIDDEN = "origin_forbidden"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    INTERNAL_ERROR = "internal_error"
    # REST (`not_found`, `rate_limited` and `origin_forbidden` above serve it too)
    INVALID_REQUEST = "invalid_request"
    PARSE_ERROR = "parse_error"
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATION_FAILED = "authentication_failed"
    PERMISSION_DENIED = "permission_denied"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    INVALID_CREDENTIALS = "invalid_credentials"
    NOT_AN_AGENT = "not_an_agent"
    NOT_A_SUPERVISOR = "not_a_supervisor"
    BUSINESS_LINE_NOT_FOUND = "business_line_not_found"
    IDENTITY_INVALID = "identity_invalid"
    IDENTITY_EXPIRED = "identity_expired"
    FORBIDDEN = "forbidden"
    FILE_TOO_LARGE = "file_too_large"
    FILE_TYPE_NOT_ALLOWED = "file_type_not_allowed"
    FILE_REJECTED = "file_rejected"
    # Erasing a customer (`manage.py erase_customer`, the admin's action)
    CUSTOMER_NOT_FOUND = "customer_not_found"
    CUSTOMER_HAS_OPEN_CONVERSATION = "customer_has_open_conversation"
    REASON_REQUIRED = "reason_required"
