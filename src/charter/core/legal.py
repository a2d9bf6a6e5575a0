"""The legal status of a catalog control: law in force, an adopted amendment (with its OJ reference), a proposal,
or a voluntary framework. Shown next to every control so nothing reads as law that is not.

A control may state `legal_status` / `legal_source` in the catalog; otherwise they are derived from its framework,
its reference and its notes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

IN_FORCE = "in_force"
ADOPTED_AMENDMENT = "adopted_amendment"
PROPOSAL = "proposal"
VOLUNTARY = "voluntary_framework"
STATUSES = (IN_FORCE, ADOPTED_AMENDMENT, PROPOSAL, VOLUNTARY)

AI_ACT = "Regulation (EU) 2024/1689, OJ L, 12.7.2024"
AI_ACT_OMNIBUS = "Regulation (EU) 2026/1744 (Digital Omnibus on AI), OJ L, 24.7.2026, in force 2026-07-27"
GDPR = "Regulation (EU) 2016/679, OJ L 119, 4.5.2016"

_LAWS: Mapping[str, str] = {"eu-ai-act": AI_ACT, "gdpr": GDPR}
_AMENDED_MARKS = ("digital omnibus", "2026/1744")
_AMENDED_VERBS = ("inserted by", "replaced by", "amended by", "as amended")


@dataclass(frozen=True, slots=True)
class LegalStatus:
    """Whether a control is law, and where it comes from."""

    status: str
    source: str

    def to_dict(self) -> dict[str, str]:
        return {"legal_status": self.status, "legal_source": self.source}


def legal_status(framework: str, raw: Mapping[str, Any]) -> LegalStatus:
    """The status of one control (`raw` is its catalog mapping: ref, notes, legal_status, legal_source)."""
    explicit = raw.get("legal_status")
    if explicit:
        return LegalStatus(str(explicit), str(raw.get("legal_source") or _LAWS.get(framework, framework)))
    law = _LAWS.get(framework)
    if law is None:
        return LegalStatus(VOLUNTARY, str(raw.get("legal_source") or framework))
    ref = str(raw.get("ref") or "").lower()
    notes = str(raw.get("notes") or "").lower()
    if framework == "eu-ai-act" and (
        any(m in ref for m in _AMENDED_MARKS)
        or ("2026/1744" in notes and any(v in notes for v in _AMENDED_VERBS) and "did not amend" not in notes)
    ):
        return LegalStatus(ADOPTED_AMENDMENT, AI_ACT_OMNIBUS)
    return LegalStatus(IN_FORCE, law)
