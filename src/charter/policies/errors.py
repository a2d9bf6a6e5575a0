"""Located problems in policy, fixture and licensing documents."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from charter.core.errors import CharterError, ErrorCode, ErrorKind, InvalidInput


@dataclass(frozen=True, slots=True, order=True)
class Location:
    """A 1-based position in a source file."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One reason a document was rejected, with where it is."""

    location: Location
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON form: file, line, column, message."""
        loc = self.location
        return {"file": loc.file, "line": loc.line, "column": loc.column, "message": self.message}


class PolicyError(InvalidInput):
    """A policy (or fixture, or licensing) document is invalid; `problems` says where and why."""

    code = ErrorCode.POLICY_INVALID

    def __init__(self, problems: Sequence[Problem]) -> None:
        ordered = tuple(sorted(problems, key=lambda p: (p.location, p.message)))
        if not ordered:
            raise ValueError("PolicyError needs at least one problem")
        shown = "\n".join(str(p) for p in ordered[:20])
        more = f"\n(+{len(ordered) - 20} more)" if len(ordered) > 20 else ""
        super().__init__(shown + more, details={"problems": [p.to_dict() for p in ordered]})
        self.problems = ordered


class NotLicensable(CharterError):
    """The risk tier may never receive a license (EU AI Act Art. 5 prohibited practices)."""

    kind = ErrorKind.FAILED
    code = ErrorCode.TIER_NOT_LICENSABLE
