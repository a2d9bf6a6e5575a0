"""What every Annex IV point reads: the facts of the version the dossier describes, and card lookups."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from charter.reports.card import card_value
from charter.reports.facts import LicenseFacts, SystemFacts, VersionFacts

CARD = "model card"
PERFORMANCE_KEYS = ("accuracy", "precision", "recall", "f1", "roc_auc", "calibration_error")
CARD_HINT = "add `{field}` to the model card (charter model register … --card README.md)"


def card_hint(field: str) -> str:
    """How to fill a missing card element."""
    return CARD_HINT.format(field=field)


class Ctx:
    """Shortcuts over the facts for the version the dossier describes."""

    def __init__(self, facts: SystemFacts) -> None:
        self.facts = facts
        self.system = facts.system
        self.version: VersionFacts | None = facts.current
        self.card: Mapping[str, Any] = self.version.model.card if self.version is not None else {}
        detail = self.version.latest if self.version is not None else None
        self.detail = detail
        self.evidence: Mapping[str, Any] = detail.evidence if detail is not None else {}
        self.live: list[LicenseFacts] = [lf for lf in facts.licenses if lf.live]

    def section(self, name: str) -> Mapping[str, Any]:
        """One section of the latest assessment's evidence ({} when absent)."""
        value = self.evidence.get(name)
        return value if isinstance(value, Mapping) else {}


def card(ctx: Ctx, field: str) -> str | None:
    """What the described version's model card states for `field`, or None."""
    return card_value(ctx.card, field)
