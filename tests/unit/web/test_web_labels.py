"""License names and true state, and audit entries as readable history (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from charter.licenses.model import LicenseState
from charter.licenses.schemas import LicenseRead
from charter.web import history
from charter.web.labels import effective_state, label, standing, version_standing

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def lic(
    state: str, *, env: str = "production", exp_in: timedelta | None = timedelta(days=30), **kw: Any
) -> LicenseRead:
    base: dict[str, Any] = {
        "id": "lic_01abcdefghijklmnopqrstuvwx",
        "state": LicenseState(state),
        "version": 3,
        "model": "credit-scoring@1.1.0",
        "system": "credit-scoring",
        "model_version": "1.1.0",
        "digest": "sha256:" + "0" * 64,
        "env": env,
        "purposes": ["credit-decisioning"],
        "callers": ["app:loan-portal"],
        "tools": [],
        "regions": [],
        "conditions": [],
        "conditions_digest": "sha256:" + "1" * 64,
        "days": 90,
        "risk_tier": "high",
        "required_signoffs": ["ml-lead"],
        "stage": "issue",
        "requested_by": "user:eve",
        "created_at": NOW - timedelta(days=60),
        "updated_at": NOW - timedelta(days=1),
        "nbf": NOW - timedelta(days=59) if exp_in is not None else None,
        "exp": NOW + exp_in if exp_in is not None else None,
    }
    return LicenseRead.model_validate({**base, **kw})


def test_a_license_is_named_system_version_env() -> None:
    assert label(lic("active")) == "credit-scoring@1.1.0 · production"


def test_only_an_active_license_in_its_validity_reads_valid() -> None:
    assert standing(lic("active"), NOW).text == "valid until" and standing(lic("active"), NOW).serving
    for state in ("suspended", "revoked", "expired", "rejected", "requested", "approved"):
        s = standing(lic(state), NOW)
        assert not s.serving and "valid until" not in s.text, state
    assert standing(lic("revoked"), NOW).until is None  # nothing to count down to


def test_a_live_license_past_its_expiry_reads_expired_before_the_scheduler_ran() -> None:
    late = lic("active", exp_in=-timedelta(minutes=1))
    assert effective_state(late, NOW) == "expired"
    assert standing(late, NOW).state == "expired" and not standing(late, NOW).serving
    assert effective_state(lic("suspended", exp_in=-timedelta(days=1)), NOW) == "expired"


def test_a_version_shows_the_state_that_matters_per_environment() -> None:
    rows = [lic("revoked"), lic("active", id="lic_2"), lic("rejected", env="staging", exp_in=None)]
    assert version_standing(rows, NOW) == [
        {"env": "production", "state": "active", "id": "lic_2"},
        {"env": "staging", "state": "rejected", "id": "lic_01abcdefghijklmnopqrstuvwx"},
    ]


def test_history_reads_as_sentences_never_json() -> None:
    details = {
        "model": "m@1",
        "env": "production",
        "purposes": ["faq"],
        "callers": ["app:helpdesk"],
        "days": 30,
        "conditions": [{"metric": "drift.psi_max", "op": "<", "value": 0.25, "action": "suspend", "after": 1}],
        "required_signoffs": ["ml-lead", "security"],
    }
    e = history.event(7, "2026-11-01T03:00:00Z", "user:eve", "license.request", "success", details)
    assert e.title == "Requested" and e.at == "2026-11-01 03:00:00 UTC"
    assert ("Conditions", "drift.psi_max < 0.25 => suspend") in e.facts
    assert ("Sign-offs needed", "ml-lead, security") in e.facts
    evidence = {"metric": "drift.psi_max", "op": "<", "observed": 2.4112, "threshold": 0.25, "rows": 4000}
    s = history.event(
        9,
        "2026-11-02T00:00:00Z",
        "system:charter",
        "license.suspend",
        "success",
        {"reason": "drift", "category": "drift", "evidence": evidence, "from": "active"},
    )
    assert s.kind == "warn" and s.reason == "drift"
    assert ("Breach", "drift.psi_max = 2.41 (condition: drift.psi_max < 0.25), 4,000 rows") in s.facts
    odd = history.event(10, "", "user:x", "license.something_new", "success", {"a": {"b": [1, 2]}, "version": 3})
    assert odd.facts == [("a", "b: 1, 2")] and "{" not in odd.title
