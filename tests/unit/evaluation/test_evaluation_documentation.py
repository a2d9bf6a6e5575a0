"""Model card parsing (HF front matter + markdown) and Annex IV documentation completeness."""

from __future__ import annotations

import pytest

from charter.core.errors import InvalidInput
from charter.evaluation.documentation import REQUIRED_FIELDS, assess_documentation, card_fields, parse_model_card

HF_CARD = """---
license: apache-2.0
language:
- en
datasets:
- acme/loans-2024
metrics:
- accuracy
model-index:
- name: credit
  results:
  - task: {type: tabular-classification}
    dataset: {name: holdout, type: acme/loans-holdout}
    metrics:
    - {type: accuracy, value: 0.81}
date: 2024-05-01
---

# Model Card for credit

## Model Details

### Model Description

- **Developed by:** ACME Risk Team
- **Model type:** gradient boosting
- **License:** [More Information Needed]

## Uses

### Direct Use

Scores consumer loan applications.

### Out-of-Scope Use

[More Information Needed]

## Bias, Risks, and Limitations

Underestimates risk for thin-file applicants.

```python
# Not a heading: code fences are skipped
```

## Training Details

### Training Data

[More Information Needed]
"""


def test_parse_hf_card() -> None:
    card = parse_model_card(HF_CARD)
    assert card["metadata"]["license"] == "apache-2.0"
    assert card["metadata"]["date"] == "2024-05-01"  # dates stay strings (JSON-friendly)
    sections = card["sections"]
    assert sections["Direct Use"] == "Scores consumer loan applications."
    assert sections["Uses"] == ""  # only subsections
    assert "Not a heading" in sections["Bias, Risks, and Limitations"]
    assert "Not a heading: code fences are skipped" not in sections


def test_hf_card_completeness() -> None:
    report = assess_documentation(parse_model_card(HF_CARD))
    assert set(report.present) == {
        "license", "training_data", "metrics", "evaluation_data", "intended_purpose", "limitations", "contact",
    }  # fmt: skip
    # Placeholders do not count: out-of-scope section and the "Training Data" body are "[More Information Needed]".
    assert "out_of_scope_uses" in report.missing
    assert report.completeness == round(7 / 15, 6)
    assert list(report.present) + list(report.missing) != []
    assert set(report.present) | set(report.missing) == set(REQUIRED_FIELDS)
    assert report.to_dict() == {
        "completeness": report.completeness,
        "present": list(report.present),
        "missing": list(report.missing),
    }


def test_flat_dict_and_aliases() -> None:
    full = {field: f"text for {field}" for field in REQUIRED_FIELDS}
    assert assess_documentation(full).completeness == 1.0
    report = assess_documentation(
        {"Intended Use": "x", "provider": "ACME", "model-version": "1.2", "human_oversight": True, "logging": ""}
    )
    assert report.present == ("intended_purpose", "human_oversight", "contact", "version")
    assert "logging" in report.missing
    assert assess_documentation(None).completeness == 0.0
    assert assess_documentation({}).missing == REQUIRED_FIELDS


@pytest.mark.parametrize(
    ("heading", "field"),
    [
        ("Intended uses & limitations", "intended_purpose"),
        ("Intended uses & limitations", "limitations"),
        ("Out-of-Scope Use", "out_of_scope_uses"),
        ("Training data", "training_data"),
        ("Evaluation data", "evaluation_data"),
        ("Testing Data, Factors & Metrics", "evaluation_data"),
        ("Evaluation results", "metrics"),
        ("Intended users", "intended_users"),
        ("Human oversight", "human_oversight"),
        ("Risk management", "risk_management"),
        ("Cybersecurity", "cybersecurity"),
        ("Accuracy and robustness", "accuracy_robustness"),
        ("Logging", "logging"),
        ("Model Card Contact", "contact"),
        ("Version", "version"),
        ("License", "license"),
    ],
)
def test_heading_mapping(heading: str, field: str) -> None:
    card = parse_model_card(f"# Card\n\n## {heading}\n\nSome real content.\n")
    assert field in assess_documentation(card).present
    assert card_fields(card)[field] == ["Some real content."]


def test_front_matter_errors_point_at_line_and_column() -> None:
    with pytest.raises(InvalidInput) as err:
        parse_model_card("---\nlicense: mit\ntags: [a, b\n---\n# x\n", source="MODEL_CARD.md")
    assert str(err.value).startswith("MODEL_CARD.md:3:12: invalid YAML front matter: expected ',' or ']'")
    assert err.value.details == {"line": 3, "column": 12}
    with pytest.raises(InvalidInput, match=r"MODEL_CARD.md:3:6: invalid YAML front matter: mapping values"):
        parse_model_card("---\nlicense: mit\nbad: : x\n---\n", source="MODEL_CARD.md")
    with pytest.raises(InvalidInput, match="never closed"):
        parse_model_card("---\nlicense: mit\n")
    with pytest.raises(InvalidInput, match="must be a mapping"):
        parse_model_card("---\n- a\n- b\n---\n")
    with pytest.raises(InvalidInput, match="aliases"):
        parse_model_card("---\na: &x [1, 2]\nb: *x\n---\n")


def test_card_without_front_matter() -> None:
    card = parse_model_card("Intro text\n\n## License\nMIT\n")
    assert card == {"metadata": {}, "sections": {"License": "MIT"}}
