"""The license state machine table."""

from __future__ import annotations

import pytest

from charter.core.errors import Conflict
from charter.licenses.model import FINAL, TRANSITIONS, LicenseState, Transition, next_state, status_value

S, T = LicenseState, Transition


def test_happy_path() -> None:
    state = S.REQUESTED
    for t in (T.APPROVE, T.ACTIVATE, T.SUSPEND, T.REINSTATE, T.REVOKE):
        state = next_state(state, t)
    assert state is S.REVOKED


@pytest.mark.parametrize("final", sorted(FINAL))
def test_final_states_have_no_way_out(final: LicenseState) -> None:
    for t in Transition:
        with pytest.raises(Conflict) as err:
            next_state(final, t, "lic_x")
        assert err.value.code == "license_invalid_transition"
        assert "final" in err.value.message


def test_only_an_approved_license_activates() -> None:
    sources = {s for (s, t) in TRANSITIONS if t is T.ACTIVATE}
    assert sources == {S.APPROVED}
    with pytest.raises(Conflict) as err:
        next_state(S.REQUESTED, T.ACTIVATE, "lic_x")
    assert "approve" in err.value.message  # names what is allowed instead


def test_status_values() -> None:
    assert [status_value(s) for s in (S.ACTIVE, S.SUSPENDED, S.REVOKED, S.EXPIRED)] == [0, 1, 2, 2]
