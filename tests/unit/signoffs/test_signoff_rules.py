"""Separation of duties: the requester never signs, one person counts once, a function is decided once."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from charter.core.errors import CharterError
from charter.signoffs.model import Decision, SignOff, SubjectRef, check_eligible, tally

SUBJECT = SubjectRef("license", "lic_1", "sha256:ab")
REQUIRED = ("ml-lead", "security", "legal")
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _so(fn: str, who: str, decision: Decision = Decision.APPROVE) -> SignOff:
    return SignOff(fn, decision, f"prn_{who}", f"user:{who}", "", T0)


def _code(**kw: object) -> str:
    args: dict[str, object] = {
        "subject": SUBJECT,
        "required": REQUIRED,
        "existing": [],
        "principal_id": "prn_bob",
        "requester_id": "prn_alice",
        "function": "security",
    }
    args.update(kw)
    with pytest.raises(CharterError) as err:
        check_eligible(**args)  # type: ignore[arg-type]
    return err.value.code


def test_eligible_reviewer_passes() -> None:
    check_eligible(
        subject=SUBJECT,
        required=REQUIRED,
        existing=[_so("ml-lead", "carol")],
        principal_id="prn_bob",
        requester_id="prn_alice",
        function="security",
    )


def test_requester_never_signs() -> None:
    assert _code(principal_id="prn_alice") == "signoff_by_requester"


def test_unrequired_function_is_refused() -> None:
    assert _code(function="privacy") == "signoff_not_required"


def test_one_person_counts_once_across_functions() -> None:
    assert _code(existing=[_so("ml-lead", "bob")]) == "signoff_same_person"


def test_a_function_is_decided_once() -> None:
    assert _code(existing=[_so("security", "carol")]) == "signoff_already_given"
    assert _code(existing=[_so("security", "carol", Decision.REJECT)]) == "signoff_already_given"


def test_tally() -> None:
    t = tally(REQUIRED, [_so("ml-lead", "a"), _so("security", "b")])
    assert t.missing == ("legal",) and not t.complete
    t = tally(REQUIRED, [_so("ml-lead", "a"), _so("security", "b"), _so("legal", "c")])
    assert t.complete and t.approved == {"ml-lead": "user:a", "security": "user:b", "legal": "user:c"}
    t = tally(REQUIRED, [_so("ml-lead", "a"), _so("security", "b"), _so("legal", "c", Decision.REJECT)])
    assert not t.complete and t.rejected == {"legal": "user:c"} and t.missing == ("legal",)
