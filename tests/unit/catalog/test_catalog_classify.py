"""Questionnaire → tier, GPAI flags and obligations (with why), over the real control catalogs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from charter.catalog import applies_when, controls
from charter.catalog.classify import classify
from charter.catalog.questionnaire import PROHIBITED_CONTROLS, Questionnaire, example, questions
from charter.core.errors import CharterError, InvalidInput
from charter.settings import Settings


def answers(**sections: dict[str, Any]) -> Questionnaire:
    doc = example()
    for section, values in sections.items():
        doc[section].update(values)
    return Questionnaire.model_validate(doc)


def ids(q: Questionnaire) -> set[str]:
    return {o.id for o in classify(q).obligations}


def test_every_catalog_condition_is_in_the_grammar() -> None:
    conditions = [c.applies_when for c in controls.controls() if c.applies_when]
    assert len(conditions) > 30
    for text in conditions:
        applies_when.evaluate(text, {})
    assert len(controls.controls()) == len(controls.by_id()) >= 180


def test_nothing_answered_is_minimal_with_literacy_and_no_high_risk_duties() -> None:
    result = classify(answers())
    assert result.tier == "minimal" and not result.is_prohibited
    got = ids(answers())
    assert "EUAIA-ART4" in got and "EUAIA-ART9" not in got and "GDPR-ART6" not in got


@pytest.mark.parametrize("point", sorted(PROHIBITED_CONTROLS))
def test_any_art5_practice_is_prohibited_and_names_its_control(point: str) -> None:
    result = classify(answers(prohibited={point: True}, annex_iii={"point": "4(a)"}))
    assert result.tier == "prohibited" and result.is_prohibited
    assert [o.id for o in result.obligations] == [PROHIBITED_CONTROLS[point]]
    assert "prohibited" in result.reasons[0] and point in result.reasons[0]


def test_annex_iii_credit_scoring_is_high_with_area_fria_and_gdpr() -> None:
    q = answers(
        annex_iii={"point": "5(b)"},
        context={"decisions_about_persons": True},
        data={"personal_data": True},
    )
    result = classify(q)
    assert result.tier == "high" and result.annex_iii_area == "5(b)"
    got = {o.id: o.why for o in result.obligations}
    assert "EUAIA-ANNEXIII-5" in got and "EUAIA-ANNEXIII-4" not in got
    assert "EUAIA-ART6-2" in got and "EUAIA-ART6-1" not in got
    assert "5(b)" in got["EUAIA-ART27"] and "annex_iii_point=5(b)" in got["EUAIA-ART27"]
    assert "personal_data=true" in got["GDPR-ART6"]
    assert "EUAIA-ART26-7" not in got  # not deployed at the workplace
    assert "EUAIA-ART6-3" not in got


def test_art_6_3_derogation_lowers_tier_unless_the_system_profiles() -> None:
    derogated = classify(
        answers(annex_iii={"point": "4(a)", "derogation": "preparatory_task", "derogation_rationale": "ranks CVs only"})
    )
    assert derogated.tier == "minimal"
    assert "EUAIA-ART6-3" in {o.id for o in derogated.obligations}
    profiled = classify(answers(annex_iii={"point": "4(a)", "derogation": "preparatory_task", "profiling": True}))
    assert profiled.tier == "high"
    assert "profiles natural persons" in " ".join(profiled.reasons)


def test_derogation_without_an_annex_iii_point_is_refused() -> None:
    with pytest.raises(InvalidInput) as err:
        classify(answers(annex_iii={"derogation": "preparatory_task"}))
    assert err.value.field == "answers.annex_iii.derogation"


def test_annex_i_needs_safety_component_and_third_party_assessment() -> None:
    partial = classify(answers(annex_i={"product_legislation": "medical devices", "safety_component": True}))
    assert partial.tier == "minimal" and "not high-risk via Art. 6(1)" in partial.reasons[0]
    full = answers(
        annex_i={"product_legislation": "medical devices", "safety_component": True, "third_party_assessment": True}
    )
    assert classify(full).tier == "high"
    assert "EUAIA-ART6-1" in ids(full) and "EUAIA-ART6-2" not in ids(full)


def test_transparency_only_is_limited_with_the_matching_art50_duties() -> None:
    q = answers(transparency={"interacts_with_natural_persons": True, "biometric_categorisation": True})
    result = classify(q)
    assert result.tier == "limited"
    got = ids(q)
    assert {"EUAIA-ART50-1", "EUAIA-ART50-3", "EUAIA-ART50-5"} <= got and "EUAIA-ART50-2" not in got


def test_workplace_context_adds_worker_information() -> None:
    q = answers(annex_iii={"point": "4(a)"}, context={"deployment_context": "workplace"})
    assert "EUAIA-ART26-7" in ids(q)


def test_gpai_systemic_by_compute() -> None:
    small = classify(answers(gpai={"general_purpose": True, "training_compute_flops": 1e24}))
    big = classify(answers(gpai={"general_purpose": True, "training_compute_flops": 2e25}))
    assert small.gpai and not small.gpai_systemic
    assert big.gpai_systemic
    assert "EUAIA-ART55-1A" in {o.id for o in big.obligations}
    assert "EUAIA-ART55-1A" not in {o.id for o in small.obligations}
    assert "EUAIA-ART53-1A" in {o.id for o in small.obligations}


def test_prohibited_section_must_be_answered_in_full() -> None:
    doc = example()
    del doc["prohibited"]["csam"]
    with pytest.raises(ValidationError) as err:
        Questionnaire.model_validate(doc)
    assert err.value.errors()[0]["loc"] == ("prohibited", "csam")
    with pytest.raises(ValidationError):
        Questionnaire.model_validate({**example(), "nope": 1})
    with pytest.raises(ValidationError):
        answers(annex_iii={"point": "9(z)"})


def test_questions_cover_every_answer() -> None:
    asked = {(s, f) for s, f, _, _ in questions()}
    doc = example()
    assert asked == {(s, f) for s, fields in doc.items() for f in fields}
    assert all(default is ... for s, _, _, default in questions() if s == "prohibited")


@given(
    tier=st.sampled_from(["high", "limited", "minimal"]),
    point=st.one_of(st.none(), st.sampled_from(["1(a)", "2", "4(a)", "5(b)", "5(c)", "8"])),
    deployer=st.sampled_from(["public_authority", "public_service_provider", "private"]),
)
def test_art27_condition_matches_a_direct_reading(tier: str, point: str | None, deployer: str) -> None:
    text = next(c.applies_when for c in controls.controls() if c.id == "EUAIA-ART27")
    assert text is not None
    got = applies_when.evaluate(text, {"tier": tier, "annex_iii_point": point, "deployer_type": deployer}).holds
    public = deployer in ("public_authority", "public_service_provider")
    expected = (public and point is not None and not point.startswith("2")) or point in ("5(b)", "5(c)")
    assert got == expected


def test_grammar_rejects_garbage() -> None:
    for bad in ("a ==", "a in b", "(a == b", "a ~ b", "a is nothing"):
        with pytest.raises(applies_when.ConditionError):
            applies_when.evaluate(bad, {})
    assert applies_when.evaluate("capability in {x, y}", {"capability": ["y"]}).holds
    assert not applies_when.evaluate("capability in {x}", {"capability": []}).holds


def test_catalog_location_can_be_overridden_and_missing_is_clear(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny = tmp_path / "control-catalogs.yaml"
    tiny.write_text(
        "frameworks:\n- id: fw\n  controls:\n"
        "  - {id: FW-1, ref: '1', title: One, applies_to_risk_tiers: [minimal]}\n"
        "  - {id: FW-2, ref: '2', title: Two, applies_to_risk_tiers: [minimal], applies_when: personal_data == true}\n"
    )
    settings = Settings(home=tmp_path, control_catalogs=tiny)  # CHARTER_CONTROL_CATALOGS, applied by bootstrap
    monkeypatch.setattr(controls, "_override", None)
    controls.configure(settings.control_catalogs)
    assert controls.catalog_path() == tiny
    result = classify(answers())
    assert [o.id for o in result.obligations] == ["FW-1"]
    assert [o.id for o in classify(answers(data={"personal_data": True})).obligations] == ["FW-1", "FW-2"]
    monkeypatch.setattr(controls, "candidates", lambda: [tmp_path / "nowhere.yaml"])
    with pytest.raises(CharterError) as err:
        controls.catalog_path()
    assert err.value.code == "control_catalogs_missing" and "nowhere.yaml" in err.value.message
