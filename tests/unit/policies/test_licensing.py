"""Licensing requirements: sign-offs per tier, validity caps, re-audit interval, reinstatement."""

from __future__ import annotations

import pytest

from charter.core.errors import InvalidInput
from charter.policies.errors import NotLicensable, PolicyError
from charter.policies.licensing import builtin_licensing, load_licensing

DOC = """\
apiVersion: charter.dev/v1
kind: Licensing
metadata: {name: strict}
functions: [ml-lead, security, legal, privacy, ethics]
tiers:
  prohibited: {licensable: false}
  high: {signoffs: [ml-lead, security, legal, ethics], personal_data_signoffs: [privacy], max_validity_days: 90}
  limited: {signoffs: [ml-lead, security], personal_data_signoffs: [privacy], max_validity_days: 180}
  minimal: {signoffs: [ml-lead], max_validity_days: 365}
reaudit_interval_days: 90
reinstatement:
  signoffs: [ml-lead]
  by_reason: {fairness: [ethics, legal]}
  default: [security]
"""


def test_builtin_signoffs_per_tier() -> None:
    lic = builtin_licensing()
    assert lic.required_signoffs("minimal", personal_data=False) == ("ml-lead",)
    assert lic.required_signoffs("limited", personal_data=False) == ("ml-lead", "security")
    assert lic.required_signoffs("high", personal_data=False) == ("ml-lead", "security", "legal", "ethics")
    assert lic.required_signoffs("high", personal_data=True) == ("ml-lead", "security", "legal", "ethics", "privacy")
    assert lic.required_signoffs("minimal", personal_data=True) == ("ml-lead",)


def test_builtin_validity_reaudit_and_reinstatement() -> None:
    lic = builtin_licensing()
    assert [lic.max_validity_days(t) for t in ("high", "limited", "minimal")] == [180, 365, 365]
    assert lic.reaudit_interval_days == 182
    assert lic.reinstatement_functions("fairness") == ("ml-lead", "ethics")
    assert lic.reinstatement_functions("security") == ("ml-lead", "security")
    assert lic.reinstatement_functions("drift") == ("ml-lead",)
    assert lic.reinstatement_functions("something-else") == ("ml-lead", "legal")
    assert lic.reinstatement_functions(None) == ("ml-lead", "legal")
    assert len(lic.digest) == 64


def test_prohibited_and_unknown_tiers() -> None:
    lic = builtin_licensing()
    with pytest.raises(NotLicensable) as err:
        lic.required_signoffs("prohibited", personal_data=False)
    assert err.value.code == "tier_not_licensable"
    with pytest.raises(InvalidInput) as bad:
        lic.max_validity_days("medium")
    assert bad.value.code == "unknown_risk_tier"


def test_validity_cap() -> None:
    lic = builtin_licensing()
    lic.check_validity("high", 180)
    with pytest.raises(InvalidInput) as err:
        lic.check_validity("high", 181)
    assert err.value.code == "validity_too_long"
    assert "180-day cap" in err.value.message
    with pytest.raises(InvalidInput):
        lic.check_validity("minimal", 0)


def test_custom_document() -> None:
    lic = load_licensing(DOC)
    assert lic.name == "strict"
    assert lic.required_signoffs("limited", personal_data=True) == ("ml-lead", "security", "privacy")
    assert lic.max_validity_days("high") == 90
    assert lic.reinstatement_functions("fairness") == ("ml-lead", "ethics", "legal")
    assert lic.reinstatement_functions("drift") == ("ml-lead", "security")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "[ml-lead, security, legal, ethics]",
            "[ml-lead, security, lawyer, ethics]",
            "l.yaml:7:40: tiers.high.signoffs: unknown function 'lawyer'",
        ),
        (
            "max_validity_days: 90}",
            "max_validity_days: ninety}",
            "l.yaml:7:110: tiers.high.max_validity_days must be an integer",
        ),
        (
            "  minimal: {signoffs: [ml-lead], max_validity_days: 365}\n",
            "",
            "l.yaml:6:3: tiers is missing required field 'minimal'",
        ),
        (
            "reaudit_interval_days: 90",
            "reaudit_interval_days: 0",
            "l.yaml:10:24: reaudit_interval_days must be at least 1",
        ),
        ("kind: Licensing", "kind: Policy", "l.yaml:2:7: kind must be 'Licensing'"),
        (
            "  default: [security]",
            "  defualt: [security]",
            "l.yaml:14:3: unknown field 'defualt' in reinstatement (did you mean 'default'?)",
        ),
        (
            "{licensable: false}",
            "{licensable: maybe}",
            "l.yaml:6:28: tiers.prohibited.licensable must be true or false",
        ),
        (
            "  limited: {signoffs: [ml-lead, security], personal_data_signoffs: [privacy], max_validity_days: 180}",
            "  limited: {signoffs: [ml-lead, security]}",
            "l.yaml:8:12: tiers.limited is licensable, so it needs signoffs and max_validity_days",
        ),
    ],
)
def test_invalid_licensing_is_located(old: str, new: str, expected: str) -> None:
    assert old in DOC
    with pytest.raises(PolicyError) as err:
        load_licensing(DOC.replace(old, new), source="l.yaml")
    messages = [str(p) for p in err.value.problems]
    assert any(m.startswith(expected) for m in messages), messages
