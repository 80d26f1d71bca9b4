"""A refused change of the agent's tools, with its code from the one enum (`cs_platform.errors`)."""

from cs_platform.errors import ErrorCode


class DeskError(Exception):
    def __init__(self, code: ErrorCode, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
