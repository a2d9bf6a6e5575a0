"""The one place errors become exit codes and a one-line message (or problem+json with --json)."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

from pydantic import ValidationError

from charter.core.errors import CharterError, ErrorCode, ErrorKind

EXIT_NO = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_FORBIDDEN = 4
EXIT_UNREACHABLE = 5

EXIT_BY_STATUS = {400: 2, 401: 4, 403: 4, 404: 3, 409: 1, 413: 2, 422: 2, 429: 1, 503: 5}
EXIT_BY_KIND = {
    ErrorKind.INVALID: 2,
    ErrorKind.UNAUTHENTICATED: 4,
    ErrorKind.FORBIDDEN: 4,
    ErrorKind.NOT_FOUND: 3,
    ErrorKind.CONFLICT: 1,
    ErrorKind.TOO_LARGE: 2,
    ErrorKind.RATE_LIMITED: 1,
    ErrorKind.UNAVAILABLE: 5,
    ErrorKind.FAILED: 1,
}


class CliError(Exception):
    """An error to report and exit with; `problem` is the problem+json body when there is one."""

    def __init__(self, code: str, message: str, exit_code: int, problem: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.exit_code = exit_code
        self.problem = problem or {"code": code, "detail": message}

    @classmethod
    def from_charter(cls, exc: CharterError) -> CliError:
        return cls(exc.code, exc.message, EXIT_BY_KIND[exc.kind], {"code": exc.code, "detail": exc.message})


def usage(code: str, message: str) -> CliError:
    """A usage error (exit 2): a bad flag, file or value, named in `message` with how to fix it."""
    return CliError(code, message, EXIT_USAGE)


def fail(err: CliError, as_json: bool) -> NoReturn:
    if as_json:
        sys.stdout.write(json.dumps(err.problem, default=str) + "\n")
    else:
        sys.stderr.write(f"error: {err.code}: {err.message}\n")
    sys.exit(err.exit_code)


def settings_error(exc: ValidationError) -> CliError:
    """A `Settings` validation failure as one line per bad setting, named as the user sets it."""
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"]) or "settings"
        parts.append(f"CHARTER_{field.upper()}={err.get('input')!r}: {err['msg']}")
    message = "; ".join(parts) + " (fix the environment variable or its key in charter.toml)"
    return CliError(
        ErrorCode.INVALID_SETTING, message, EXIT_USAGE, {"code": ErrorCode.INVALID_SETTING, "detail": message}
    )
