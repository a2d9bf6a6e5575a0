"""Sign-off rules: who may sign, what counts, what is still missing. Pure: no database, no framework."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from charter.core.errors import Conflict, ErrorCode, Forbidden, InvalidInput


class Decision(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class SubjectRef:
    """What is signed off, by reference: e.g. ("license", "lic_…", "sha256:…"). Stage separates rounds."""

    kind: str
    id: str
    digest: str
    stage: str = "issue"

    @property
    def ref(self) -> str:
        return f"{self.kind}:{self.id}"


@dataclass(frozen=True, slots=True)
class SignOff:
    """One decision by one person for one function."""

    function: str
    decision: Decision
    principal_id: str
    principal: str
    comment: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Tally:
    """Where a subject stands against its required functions."""

    required: tuple[str, ...]
    approved: dict[str, str]  # function -> principal ref
    rejected: dict[str, str]  # function -> principal ref

    @property
    def missing(self) -> tuple[str, ...]:
        return tuple(f for f in self.required if f not in self.approved)

    @property
    def complete(self) -> bool:
        """All required functions approved and nobody rejected."""
        return not self.missing and not self.rejected


def tally(required: Iterable[str], signoffs: Iterable[SignOff]) -> Tally:
    """Count approvals and rejections against the required functions."""
    req = tuple(dict.fromkeys(required))
    approved: dict[str, str] = {}
    rejected: dict[str, str] = {}
    for s in signoffs:
        target = approved if s.decision is Decision.APPROVE else rejected
        target.setdefault(s.function, s.principal)
    return Tally(req, approved, rejected)


def check_eligible(
    *,
    subject: SubjectRef,
    required: Iterable[str],
    existing: Iterable[SignOff],
    principal_id: str,
    requester_id: str,
    function: str,
) -> None:
    """Raise unless this principal may record a decision for `function` now.

    The requester never signs; one person counts once per subject and stage (across functions);
    a function is decided once.
    """
    req = tuple(required)
    if principal_id == requester_id:
        raise Forbidden(
            f"you requested {subject.ref}, so you cannot sign it off; ask a reviewer with function '{function}'",
            code=ErrorCode.SIGNOFF_BY_REQUESTER,
        )
    if function not in req:
        raise InvalidInput(
            f"{subject.ref} needs sign-off from {', '.join(req) or 'nobody'} at this stage, not '{function}'",
            code=ErrorCode.SIGNOFF_NOT_REQUIRED,
            field="function",
        )
    for s in existing:
        if s.principal_id == principal_id:
            raise Conflict(
                f"{s.principal} already signed {subject.ref} as {s.function}; one person counts once",
                code=ErrorCode.SIGNOFF_SAME_PERSON,
            )
        if s.function == function:
            raise Conflict(
                f"{subject.ref} already has a {s.decision} from {s.principal} for {function}",
                code=ErrorCode.SIGNOFF_ALREADY_GIVEN,
            )
