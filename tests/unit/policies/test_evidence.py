"""The declared evidence document: keys, defaults, paths, missing evidence, type checks."""

from __future__ import annotations

import math
from typing import Any

from charter.policies import evidence as ev

AGREED = (
    "system",
    "model",
    "datasets",
    "provenance",
    "performance",
    "fairness",
    "fairness_summary",
    "scan",
    "genai",
    "documentation",
    "evaluation",
    "thresholds",
)


def test_top_level_keys_are_exactly_the_agreed_ones() -> None:
    assert ev.TOP_LEVEL == AGREED


def test_fill_defaults_makes_every_declared_field_present() -> None:
    filled = ev.fill_defaults({})
    assert set(filled) == set(AGREED)
    assert filled["system"]["risk_tier"] is None
    assert filled["system"]["personal_data"] is False
    assert filled["datasets"] == []
    assert filled["performance"] is None
    assert filled["fairness"] == {}
    assert filled["scan"] == {"performed": False, "safe": False, "formats": [], "findings": []}
    assert filled["thresholds"] == dict(ev.DEFAULT_THRESHOLDS)
    assert filled["model"]["card"] == {}
    assert filled["genai"]["red_teamed"] is False and filled["genai"]["attack_success_rate"] is None
    assert filled["genai"]["garak"] == {} and filled["genai"]["task_accuracy"] == {}


def test_fill_defaults_fills_nested_items_and_normalises_numbers() -> None:
    raw: dict[str, Any] = {
        "datasets": [{"name": "a", "lawful_basis": "legal_obligation"}],
        "fairness": {"sex": {"dp_diff": 0, "groups": {"f": {"n": 3}}}},
        "performance": {"accuracy": 1, "roc_auc": math.nan},
        "thresholds": {"accuracy_min": 0.9},
        "system": {"extra": "kept"},
    }
    filled = ev.fill_defaults(raw)
    assert filled["datasets"][0]["personal_data"] is False
    assert filled["datasets"][0]["lawful_basis"] == "legal-obligation"
    assert filled["fairness"]["sex"]["dp_diff"] == 0.0 and isinstance(filled["fairness"]["sex"]["dp_diff"], float)
    assert filled["fairness"]["sex"]["eo_diff"] is None
    assert filled["performance"]["accuracy"] == 1.0 and isinstance(filled["performance"]["accuracy"], float)
    assert filled["performance"]["roc_auc"] is None
    assert filled["thresholds"]["accuracy_min"] == 0.9
    assert filled["thresholds"]["dp_diff_max"] == 0.1
    assert filled["system"]["extra"] == "kept"
    assert raw["datasets"][0]["lawful_basis"] == "legal_obligation"  # input untouched


def test_declared_paths() -> None:
    for path in ("system.risk_tier", "datasets[].lawful_basis", "fairness.*.dp_diff", "scan.findings[].severity"):
        assert path in ev.DECLARED_PATHS
    assert "system.risk_teir" not in ev.DECLARED_PATHS


def test_check_path() -> None:
    assert ev.check_path("system.dpia_reference") is None
    assert ev.check_path("fairness.sex.dp_diff") is None  # a concrete attribute name is allowed
    assert ev.check_path("model.card.intended_use") is None  # the card is free-form
    assert "no 'dpia_ref'" in (ev.check_path("system.dpia_ref") or "")
    assert ev.check_path("datasets.lawful_basis") is not None  # list items need []
    assert ev.check_path("system..x") is not None


def test_missing_names_concrete_paths() -> None:
    raw = {"datasets": [{"lawful_basis": "consent"}, {"lawful_basis": None}, {}], "system": {"name": "x"}}
    assert ev.missing(raw, "datasets[].lawful_basis") == ["datasets[1].lawful_basis", "datasets[2].lawful_basis"]
    assert ev.missing(raw, "system.name") == []
    assert ev.missing(raw, "system.dpia_reference") == ["system.dpia_reference"]
    assert ev.missing(raw, "performance.accuracy") == ["performance.accuracy"]
    assert ev.missing({"fairness": {"sex": {"dp_diff": 0.1}, "age": {}}}, "fairness.*.dp_diff") == [
        "fairness.age.dp_diff"
    ]
    assert ev.missing({"fairness": {}}, "fairness.sex") == ["fairness.sex"]
    assert ev.missing({}, "datasets") == ["datasets"]


def test_type_problems() -> None:
    problems = dict(
        ev.type_problems(
            {
                "system": {"risk_tier": "medium", "gpai": "yes", "risk_teir": "high"},
                "datasets": [{"lawful_basis": "legal_obligation"}, {"personal_data": 1}],
                "performance": {"accuracy": True},
            }
        )
    )
    assert "not one of" in problems["system.risk_tier"]
    assert "must be a bool" in problems["system.gpai"]
    assert "did you mean 'risk_tier'" in problems["system.risk_teir"]
    assert "datasets[0].lawful_basis" not in problems
    assert "must be a bool" in problems["datasets[1].personal_data"]
    assert "must be a float" in problems["performance.accuracy"]
    assert ev.type_problems(ev.fill_defaults({})) == []
