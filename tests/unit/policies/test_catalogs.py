"""Built-in control catalogs: all 182 controls, typed, looked up by id."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from charter.core.errors import NotFound
from charter.policies.catalogs import builtin_catalog

REFERENCE = Path("/work/shared/reference/control-catalogs.yaml")
SHIPPED = Path(__file__).parents[3] / "src/charter/policies/builtin/control-catalogs.yaml"


def test_catalog_has_182_controls_in_six_frameworks() -> None:
    cat = builtin_catalog()
    assert len(cat) == 182
    assert [fw.id for fw in cat.frameworks] == [
        "eu-ai-act",
        "gdpr",
        "nist-ai-rmf-1.0",
        "nist-ai-rmf-trustworthiness",
        "nist-ai-600-1",
        "iso-iec-42001-2023",
    ]
    assert sum(len(fw.controls) for fw in cat.frameworks) == 182
    assert len({c.id for c in cat}) == 182


def test_control_fields_are_typed() -> None:
    control = builtin_catalog().get("EUAIA-ART14")
    assert control.framework == "eu-ai-act"
    assert control.title == "Human oversight"
    assert control.applies_to_risk_tiers == ("high",)
    assert control.automatable_evidence and all(isinstance(e, str) for e in control.automatable_evidence)
    assert "ISO42001-A.9.2" in control.maps_to
    assert control.to_dict()["id"] == "EUAIA-ART14"


def test_every_control_has_tiers_and_evidence() -> None:
    for control in builtin_catalog():
        assert control.applies_to_risk_tiers, control.id
        assert control.automatable_evidence, control.id
        assert control.summary, control.id


def test_nist_subcategory_ids_resolve_to_their_category() -> None:
    cat = builtin_catalog()
    control = cat.get("NIST-RMF-MEASURE-2.11")
    assert control.id == "NIST-RMF-MEASURE-2"
    assert "NIST-RMF-MEASURE-2.11" in {s.id for s in control.subcategories}
    assert "NIST-RMF-MEASURE-2.11" in cat
    assert "NIST-RMF-MEASURE-2.99" not in cat
    assert len([s for c in cat for s in c.subcategories]) == 72


@pytest.mark.parametrize(
    ("written", "suggested"),
    [
        ("eu-ai-act:art-10", "EUAIA-ART10"),
        ("gdpr:art-6", "GDPR-ART6"),
        ("nist-ai-rmf:MEASURE-2.11", "NIST-RMF-MEASURE-2.11"),
        ("iso-42001:A.7.4", "ISO42001-A.7.4"),
        ("EUAIA-ART-14", "EUAIA-ART14"),
        ("GDPR-ART35X", "GDPR-ART35"),
    ],
)
def test_suggestions_for_other_spellings(written: str, suggested: str) -> None:
    cat = builtin_catalog()
    assert cat.find(written) is None
    assert cat.suggest(written) == suggested


def test_unknown_control_is_not_found_with_hint() -> None:
    with pytest.raises(NotFound) as err:
        builtin_catalog().get("eu-ai-act:art-14")
    assert err.value.code == "unknown_control"
    assert "EUAIA-ART14" in err.value.message


def test_framework_aliases_and_unknown_framework() -> None:
    cat = builtin_catalog()
    assert cat.framework("nist-ai-rmf").id == "nist-ai-rmf-1.0"
    assert cat.framework("iso-42001").id == "iso-iec-42001-2023"
    assert len(cat.framework("iso-42001").controls) == 38
    with pytest.raises(NotFound) as err:
        cat.framework("eu-ai-akt")
    assert "eu-ai-act" in err.value.message


# Controls where the shipped catalog deliberately differs from the shared reference (docs/regulation.md says why).
KEPT_DIFFERENCES = {
    "EUAIA-ART4A": "legal status stated; '[Digital Omnibus 2026]' dropped from ref",
    "EUAIA-ART5-1BA": "legal status stated; '[Digital Omnibus 2026]' dropped from ref",
    "EUAIA-ART5-1BB": "legal status stated; '[Digital Omnibus 2026]' dropped from ref",
    "EUAIA-ART25": "Art. 25 concerns high-risk systems: tier high only",
    "EUAIA-ART50-5": "Art. 50(5) only where one of Art. 50(1)-(4) applies",
    "EUAIA-ART53-1A": "Art. 53(2) open-source exemption",
    "EUAIA-ART53-1B": "Art. 53(2) open-source exemption",
    "EUAIA-ART54": "Art. 54(1) providers established outside the Union; Art. 54(6) open-source exemption",
    "EUAIA-ART86": "Art. 86(1): not Annex III point 2; legal or similarly significant effect",
}


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared reference not present")
def test_shipped_catalog_differs_from_the_reference_only_where_documented() -> None:
    def by_id(path: Path) -> dict[str, object]:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        return {c["id"]: c for fw in doc["frameworks"] for c in fw["controls"]}

    shipped, reference = by_id(SHIPPED), by_id(REFERENCE)
    assert shipped.keys() == reference.keys()
    assert {k for k in shipped if shipped[k] != reference[k]} == set(KEPT_DIFFERENCES)
    documented = (Path(__file__).parents[3] / "docs/regulation.md").read_text(encoding="utf-8")
    assert all(cid in documented for cid in KEPT_DIFFERENCES)


@pytest.mark.skipif(not REFERENCE.exists(), reason="shared reference not present")
def test_condition_fields_added_to_the_reference_are_documented() -> None:
    """Beyond controls, the shipped catalog only adds `applies_when_fields` (the new conditions' inputs), each named
    in docs/regulation.md's table of differences."""
    shipped = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    reference = yaml.safe_load(REFERENCE.read_text(encoding="utf-8"))
    top = {k for k in shipped.keys() | reference.keys() if k != "frameworks" and shipped.get(k) != reference.get(k)}
    assert top == {"applies_when_fields"}
    added = {k for k, v in shipped["applies_when_fields"].items() if reference["applies_when_fields"].get(k) != v}
    documented = (Path(__file__).parents[3] / "docs/regulation.md").read_text(encoding="utf-8")
    table = next(line for line in documented.splitlines() if line.startswith("| `applies_when_fields`"))
    assert added and all(f"`{name}`" in table for name in added), (added, table)
