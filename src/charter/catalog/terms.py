"""Usage terms of upstream model licenses: which purposes a license forbids (`restricted_purposes`).

Purposes are stable slugs that license scopes are compared with. The lists paraphrase the use-restriction
attachments of responsible-AI licenses (OpenRAIL family, Llama and Gemma acceptable-use policies) and the
non-commercial clause of CC *-NC-*; they are not legal text. Licenses Charter does not know restrict nothing
by themselves: add `restricted_purposes` explicitly for them.
"""

from __future__ import annotations

from dataclasses import dataclass

_OPENRAIL = (
    "unlawful-use",
    "harm-to-minors",
    "disinformation",
    "personal-information-misuse",
    "harassment-and-defamation",
    "fully-automated-decisions-affecting-legal-rights",
    "social-scoring",
    "exploiting-vulnerabilities",
    "discrimination-protected-characteristics",
)
_BIGSCIENCE = (*_OPENRAIL, "undisclosed-machine-generated-content", "medical-advice", "law-enforcement-and-justice")
_LLAMA = (
    "unlawful-use",
    "harm-to-minors",
    "violence-and-weapons",
    "military-and-warfare",
    "critical-infrastructure-operation",
    "unlicensed-professional-practice",
    "discrimination-protected-characteristics",
    "disinformation",
    "impersonation",
    "self-harm",
)
_GEMMA = (
    "unlawful-use",
    "harm-to-minors",
    "violence-and-weapons",
    "disinformation",
    "impersonation",
    "harassment-and-defamation",
    "unlicensed-professional-practice",
    "sexually-explicit-content",
)

# Hugging Face license identifiers that are not SPDX ids, with the source of their restrictions.
KNOWN_MODEL_LICENSES: dict[str, tuple[str, tuple[str, ...]]] = {
    "openrail": ("OpenRAIL use restrictions (Attachment A)", _OPENRAIL),
    "openrail++": ("OpenRAIL++-M use restrictions (Attachment A)", _OPENRAIL),
    "creativeml-openrail-m": ("CreativeML OpenRAIL-M use restrictions (Attachment A)", _OPENRAIL),
    "bigscience-openrail-m": ("BigScience OpenRAIL-M use restrictions (Attachment A)", _BIGSCIENCE),
    "bigscience-bloom-rail-1.0": ("BigScience BLOOM RAIL 1.0 use restrictions (Attachment A)", _BIGSCIENCE),
    "llama2": ("Llama 2 Acceptable Use Policy", _LLAMA),
    "llama3": ("Llama 3 Acceptable Use Policy", _LLAMA),
    "llama3.1": ("Llama 3.1 Acceptable Use Policy", _LLAMA),
    "llama3.2": ("Llama 3.2 Acceptable Use Policy", _LLAMA),
    "llama3.3": ("Llama 3.3 Acceptable Use Policy", _LLAMA),
    "llama4": ("Llama 4 Acceptable Use Policy", _LLAMA),
    "gemma": ("Gemma Prohibited Use Policy", _GEMMA),
    "other": ("license 'other': read the model card's license text", ()),
}


@dataclass(frozen=True, slots=True)
class UsageTerms:
    """What a license allows: the purposes it restricts and where that list comes from."""

    license: str | None
    source: str | None
    restricted_purposes: tuple[str, ...]

    def to_dict(self) -> dict[str, object]:
        return {"license": self.license, "source": self.source, "restricted_purposes": list(self.restricted_purposes)}


def terms_for(license_expr: str | None) -> UsageTerms:
    """Restricted purposes implied by a (normalised) license expression: the union over its ids."""
    if not license_expr:
        return UsageTerms(None, None, ())
    sources: list[str] = []
    purposes: set[str] = set()
    for token in license_expr.replace("(", " ").replace(")", " ").split():
        key = token.lower()
        if key in KNOWN_MODEL_LICENSES:
            source, restricted = KNOWN_MODEL_LICENSES[key]
            sources.append(source)
            purposes.update(restricted)
        elif key.startswith("cc-by-nc"):
            sources.append(f"{token}: non-commercial use only")
            purposes.add("commercial-use")
    return UsageTerms(license_expr, "; ".join(sources) or None, tuple(sorted(purposes)))
