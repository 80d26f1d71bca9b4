"""The refusal of the live chat's services: a code from the product's one enum (`cs_platform.errors`) and a
message for people."""

from cs_platform.errors import ErrorCode


class ChatError(Exception):
    """A refusal a client can act on; consumers turn it into an `error` frame, and nothing has changed."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
