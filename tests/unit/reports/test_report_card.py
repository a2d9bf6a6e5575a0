"""Annex IV facts looked up in model cards: flat keys, front matter, section headings; placeholders say nothing."""

from __future__ import annotations

import pytest

from charter.reports.card import card_value, text_of


def test_flat_keys_front_matter_and_headings() -> None:
    assert card_value({"harmonised_standards": "EN 1234"}, "standards") == "EN 1234"
    assert card_value({"metadata": {"Harmonised-Standards": "EN 1"}}, "standards") == "EN 1"
    card = {"sections": {"Post-market monitoring": "Monthly drift review.", "Hardware": "1 GPU"}}
    assert card_value(card, "post_market_monitoring") == "Monthly drift review."
    assert card_value(card, "hardware") == "1 GPU"
    assert card_value({"base_model": ["bert-base", "tok-v2"]}, "base_model") == "bert-base; tok-v2"
    # documentation fields come from the evaluation domain's own card reading
    assert card_value({"sections": {"Limitations": "Not for minors."}}, "limitations") == "Not for minors."
    assert card_value({"developed_by": "ACME"}, "contact") == "ACME"


@pytest.mark.parametrize("value", [None, "", "  ", "TODO", "tbd", "[More Information Needed]", "N/A", [], {}, False])
def test_placeholders_and_empties_are_missing(value: object) -> None:
    assert text_of(value) is None
    assert card_value({"declaration_of_conformity": value}, "declaration_of_conformity") is None


def test_absent_card() -> None:
    assert card_value(None, "standards") is None
    assert card_value({}, "limitations") is None
    assert card_value({"unrelated": "x"}, "standards") is None
