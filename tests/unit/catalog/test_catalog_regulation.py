"""Each EU AI Act condition the classifier applies, tested against the article that sets it (issue 23)."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from charter.catalog import controls
from charter.catalog.classify import classify
from charter.catalog.questionnaire import Questionnaire, example
from charter.core.errors import InvalidInput
from charter.core.legal import ADOPTED_AMENDMENT, IN_FORCE, VOLUNTARY
from charter.policies.catalogs import builtin_catalog
from charter.policies.coverage import coverage


def answers(**sections: dict[str, Any]) -> Questionnaire:
    doc = example()
    for section, values in sections.items():
        doc[section].update(values)
    return Questionnaire.model_validate(doc)


def ids(q: Questionnaire) -> set[str]:
    return {o.id for o in classify(q).obligations}


DECIDES = {"decisions_about_persons": True, "effect": "legal"}


def test_art_86_1_right_to_explanation_needs_a_legal_or_similarly_significant_effect() -> None:
    """Art. 86(1): only decisions producing legal or similarly significant effects."""
    assert "EUAIA-ART86" in ids(answers(annex_iii={"point": "5(b)"}, context=DECIDES))
    assert "EUAIA-ART86" in ids(
        answers(annex_iii={"point": "5(b)"}, context={**DECIDES, "effect": "similarly_significant"})
    )
    assert "EUAIA-ART86" not in ids(answers(annex_iii={"point": "5(b)"}, context={**DECIDES, "effect": "none"}))


def test_art_86_1_excludes_annex_iii_point_2_critical_infrastructure() -> None:
    """Art. 86(1): 'with the exception of systems listed under point 2 of that Annex'."""
    assert "EUAIA-ART86" not in ids(answers(annex_iii={"point": "2"}, context=DECIDES))
    why = {o.id: o.why for o in classify(answers(annex_iii={"point": "4(a)"}, context=DECIDES)).obligations}
    assert "Art. 86(1)" in why["EUAIA-ART86"]


SECTION_B = {"product_legislation": "Regulation (EU) 2018/858 motor vehicles", "safety_component": True}


def test_art_2_2_annex_i_section_b_product_gets_only_art_6_1() -> None:
    """Art. 2(2): for Annex I Section B products only Art. 6(1), 102-109 and 112 apply."""
    q = answers(annex_i={**SECTION_B, "third_party_assessment": True})
    result = classify(q)
    assert result.tier == "high" and "art-2-2" in result.routes
    euaia = {o.id for o in result.obligations if o.framework == "eu-ai-act"}
    assert euaia == {"EUAIA-ART6-1"}
    assert any("Art. 2(2)" in r for r in result.reasons)
    section_a = answers(annex_i={**SECTION_B, "third_party_assessment": True, "section": "A"})
    assert {"EUAIA-ART9", "EUAIA-ART73"} <= ids(section_a)


def test_art_2_2_does_not_hide_an_annex_iii_route() -> None:
    """Art. 2(2) limits the Section B route only; an Annex III use case keeps the full high-risk set (Art. 6(2))."""
    q = answers(annex_i={**SECTION_B, "third_party_assessment": True}, annex_iii={"point": "4(a)"})
    assert {"EUAIA-ART9", "EUAIA-ART6-2"} <= ids(q)


def test_art_50_5_only_where_one_of_art_50_1_to_4_applies() -> None:
    """Art. 50(5): governs how the information of Art. 50(1)-(4) is given; a spam filter has none."""
    assert "EUAIA-ART50-5" not in ids(answers())
    assert "EUAIA-ART50-5" in ids(answers(transparency={"generates_synthetic_content": True}))
    assert "EUAIA-ART50-5" in ids(answers(transparency={"deepfake_output": True}))


def test_art_6_4_derogation_without_documented_assessment_is_refused() -> None:
    """Art. 6(4): the provider documents its assessment before placing the system on the market."""
    for rationale in (None, "", "   "):
        with pytest.raises(InvalidInput) as err:
            classify(
                answers(
                    annex_iii={"point": "4(a)", "derogation": "preparatory_task", "derogation_rationale": rationale}
                )
            )
        assert err.value.field == "answers.annex_iii.derogation_rationale" and "Art. 6(4)" in err.value.message


def test_annex_iii_1c_emotion_recognition_not_prohibited_is_high_risk() -> None:
    """Annex III point 1(c) (via Art. 6(2)): non-prohibited emotion recognition is high-risk."""
    result = classify(answers(transparency={"emotion_recognition": True}))
    assert result.tier == "high" and result.annex_iii_area == "1(c)"
    assert "EUAIA-ANNEXIII-1" in {o.id for o in result.obligations}
    assert any("1(c) derived" in r for r in result.reasons)


def test_annex_iii_1a_realtime_rbi_is_high_risk_and_verification_is_carved_out() -> None:
    """Annex III point 1(a): remote biometric identification, not biometric verification."""
    assert classify(answers(transparency={"realtime_rbi": True})).annex_iii_area == "1(a)"
    verify = classify(answers(transparency={"biometric_verification": True}))
    assert verify.tier == "minimal" and any("carved out" in r for r in verify.reasons)
    assert "biometric_verification" in verify.facts["capability"]


def test_annex_iii_exclusion_reason_is_recorded_and_stops_the_derivation() -> None:
    """Annex III carve-outs (e.g. 5(b) financial fraud): the reason is asked for and shown."""
    fraud = classify(answers(annex_iii={"excluded_point": "5(b)", "exclusion_reason": "detects financial fraud"}))
    assert fraud.tier == "minimal" and any("outside Annex III point 5(b)" in r for r in fraud.reasons)
    kept = classify(
        answers(
            transparency={"emotion_recognition": True},
            annex_iii={"excluded_point": "1(c)", "exclusion_reason": "infers fatigue for medical reasons"},
        )
    )
    assert kept.tier == "limited" and any(r.startswith("warning:") for r in kept.reasons)
    with pytest.raises(ValidationError, match="exclusion_reason"):
        answers(annex_iii={"excluded_point": "5(b)"})


def test_facial_recognition_db_warns_about_art_5_1_e() -> None:
    """Art. 5(1)(e): untargeted scraping to build facial-recognition databases is prohibited."""
    result = classify(answers(transparency={"facial_recognition_db": True}))
    assert any("Art. 5(1)(e)" in r for r in result.reasons)


GPAI = {"general_purpose": True, "training_compute_flops": 1e23}


def test_art_54_only_for_gpai_providers_established_outside_the_union() -> None:
    """Art. 54(1): providers established in third countries appoint an authorised representative."""
    assert "EUAIA-ART54" not in ids(answers(gpai=GPAI))
    assert "EUAIA-ART54" in ids(answers(gpai={**GPAI, "established_outside_union": True}))


def test_art_53_2_open_source_exemption_unless_systemic_risk() -> None:
    """Art. 53(2) and 54(6): open-source models are exempt from 53(1)(a)-(b) and 54, unless systemic risk."""
    open_model = {**GPAI, "established_outside_union": True, "open_source": True}
    got = ids(answers(gpai=open_model))
    assert not {"EUAIA-ART53-1A", "EUAIA-ART53-1B", "EUAIA-ART54"} & got
    assert {"EUAIA-ART53-1C", "EUAIA-ART53-1D"} <= got  # copyright policy and training summary still apply
    systemic = ids(answers(gpai={**open_model, "training_compute_flops": 2e25}))
    assert {"EUAIA-ART53-1A", "EUAIA-ART54"} <= systemic


def test_art_25_value_chain_is_not_attached_to_minimal_or_limited() -> None:
    """Art. 25: responsibilities along the value chain of high-risk AI systems."""
    assert "EUAIA-ART25" not in ids(answers())
    assert "EUAIA-ART25" not in ids(answers(transparency={"interacts_with_natural_persons": True}))
    assert "EUAIA-ART25" in ids(answers(annex_iii={"point": "4(a)"}))


def test_art_3_role_attaches_only_provider_or_deployer_duties() -> None:
    """Art. 3(3)/(4): provider duties (Art. 16) and deployer duties (Art. 26) attach by role."""
    high = {"point": "4(a)"}
    deployer = ids(answers(annex_iii=high, context={"role": "deployer"}))
    provider = ids(answers(annex_iii=high, context={"role": "provider"}))
    both = ids(answers(annex_iii=high))
    assert "EUAIA-ART26-1" in deployer and "EUAIA-ART9" not in deployer
    assert "EUAIA-ART9" in provider and "EUAIA-ART26-1" not in provider
    assert {"EUAIA-ART9", "EUAIA-ART26-1"} <= both
    with pytest.raises(ValidationError, match="role"):
        answers(context={"role": "importer"})


def test_legal_status_on_every_control_and_obligation() -> None:
    """Legal status: Omnibus items are adopted amendments (Reg. (EU) 2026/1744) with their OJ reference."""
    by_id = controls.by_id()
    assert by_id["EUAIA-ART5-1BA"].legal.status == ADOPTED_AMENDMENT
    assert "2026/1744" in by_id["EUAIA-ART4A"].legal.source and "OJ L" in by_id["EUAIA-ART4A"].legal.source
    assert "Omnibus" not in by_id["EUAIA-ART4A"].ref
    assert by_id["EUAIA-ART9"].legal.status == IN_FORCE and by_id["GDPR-ART6"].legal.status == IN_FORCE
    assert by_id["EUAIA-ART6-3"].legal.status == IN_FORCE  # notes say the Omnibus did NOT amend it
    assert by_id["NIST-RMF-GOVERN-1"].legal.status == VOLUNTARY
    assert all(c.legal.status and c.legal.source for c in by_id.values())
    obligations = classify(answers()).explanation()["obligations"]
    assert all(o["legal_status"] and o["legal_source"] for o in obligations)
    report = coverage([], "eu-ai-act", catalog=builtin_catalog()).to_dict()
    assert all(c["legal_status"] for c in report["uncovered"])


def test_art_49_registration_binds_providers_and_only_public_authority_deployers() -> None:
    """Art. 49(1): providers register Annex III systems; Art. 49(3): deployers only when they are public authorities
    (or Union bodies, or act on their behalf). A private deployer of a 5(b) system has nothing to register."""
    high = {"point": "5(b)"}
    assert "EUAIA-ART49" in ids(answers(annex_iii=high, context={"role": "provider"}))
    assert "EUAIA-ART49" not in ids(answers(annex_iii=high, context={"role": "deployer", "deployer_type": "private"}))
    public = answers(annex_iii=high, context={"role": "deployer", "deployer_type": "public_authority"})
    why = {o.id: o.why for o in classify(public).obligations}
    assert "Art. 49(3)" in why["EUAIA-ART49"]
