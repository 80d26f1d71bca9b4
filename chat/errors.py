"""The refusal of the live chat's services: a code from the product's one enum (`cs_platform.errors`), a
message for people and, when one field of the frame is to blame, its dotted path for clients to point at."""

from cs_platform.errors import ErrorCode


class ChatError(Exception):
    """A refusal a client can act on; consumers turn it into an `error` frame, and nothing has changed."""

    def __init__(self, code: ErrorCode, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
