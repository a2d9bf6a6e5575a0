"""Domain errors with stable snake_case codes.

Every error Charter raises on purpose is a `CharterError`. Entrypoints map `kind` to an HTTP status
(api/gateway) or an exit code (cli) in exactly one place each.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorKind(StrEnum):
    INVALID = "invalid"  # 400/422, exit 2
    UNAUTHENTICATED = "unauthenticated"  # 401, exit 4
    FORBIDDEN = "forbidden"  # 403, exit 4
    NOT_FOUND = "not_found"  # 404, exit 3
    CONFLICT = "conflict"  # 409, exit 1
    TOO_LARGE = "too_large"  # 413, exit 2
    RATE_LIMITED = "rate_limited"  # 429, exit 1
    UNAVAILABLE = "unavailable"  # 503, exit 5
    FAILED = "failed"  # 422 verdict-type failure, exit 1


class CharterError(Exception):
    """Base of every deliberate error. `code` is stable; `message` names the field and the fix."""

    kind: ErrorKind = ErrorKind.INVALID
    code: str = "invalid_request"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        kind: ErrorKind | None = None,
        field: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if kind is not None:
            self.kind = kind
        self.field = field
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code, "detail": self.message}
        if self.field:
            out["field"] = self.field
        if self.details:
            out["details"] = self.details
        return out


class InvalidInput(CharterError):
    kind = ErrorKind.INVALID
    code = "invalid_input"


class NotFound(CharterError):
    kind = ErrorKind.NOT_FOUND
    code = "not_found"


class Conflict(CharterError):
    kind = ErrorKind.CONFLICT
    code = "conflict"


class Unauthenticated(CharterError):
    kind = ErrorKind.UNAUTHENTICATED
    code = "unauthenticated"


class Forbidden(CharterError):
    kind = ErrorKind.FORBIDDEN
    code = "forbidden"


class Unavailable(CharterError):
    kind = ErrorKind.UNAVAILABLE
    code = "unavailable"


class TooLarge(CharterError):
    kind = ErrorKind.TOO_LARGE
    code = "payload_too_large"
