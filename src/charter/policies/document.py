"""Policy documents and rules (the validated, compiled form of a YAML policy)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from charter.core.canonical import canonical_json
from charter.core.hashing import sha256_hex
from charter.policies.cel import Compiled
from charter.policies.errors import Location

API_VERSION = "charter.dev/v1"
KIND = "Policy"


class Severity(StrEnum):
    BLOCKER = "blocker"  # a failure blocks licensing
    MAJOR = "major"
    MINOR = "minor"

    @property
    def rank(self) -> int:
        """0 for blocker, 1 for major, 2 for minor."""
        return _RANK[self]


_RANK = {Severity.BLOCKER: 0, Severity.MAJOR: 1, Severity.MINOR: 2}


@dataclass(frozen=True, slots=True)
class Rule:
    """One rule: applies when `when` is true; passes only when `check` evaluates to exactly true."""

    id: str
    title: str
    severity: Severity
    check: Compiled = field(compare=False)
    when: Compiled | None = field(compare=False)
    controls: tuple[str, ...]
    remediation: str
    evidence: tuple[str, ...] = ()
    location: Location | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The rule as written (expressions as source text)."""
        out: dict[str, Any] = {"id": self.id, "title": self.title, "severity": self.severity.value}
        if self.when is not None:
            out["when"] = self.when.source
        out["check"] = self.check.source
        out["controls"] = list(self.controls)
        out["remediation"] = self.remediation
        if self.evidence:
            out["evidence"] = list(self.evidence)
        return out


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """A validated policy, identified by the sha256 of the canonical JSON of its parsed document."""

    name: str
    description: str
    rules: tuple[Rule, ...]
    digest: str
    source: str
    document: Mapping[str, Any] = field(compare=False, repr=False)

    def rule(self, rule_id: str) -> Rule | None:
        """The rule with this id, if any."""
        return next((r for r in self.rules if r.id == rule_id), None)

    def to_dict(self) -> dict[str, Any]:
        """The parsed document (what the digest covers)."""
        out: dict[str, Any] = _copy(self.document)
        return out

    def canonical(self) -> bytes:
        """RFC 8785 bytes of the parsed document."""
        return canonical_json(self.document)


def document_digest(document: Mapping[str, Any]) -> str:
    """sha256 (hex) of the RFC 8785 canonical JSON of a parsed policy document."""
    return sha256_hex(canonical_json(document))


def policy_set_digest(policies: Iterable[PolicyDocument]) -> str:
    """Digest of a set of policies: order-independent, over their document digests."""
    return sha256_hex(canonical_json(sorted({p.digest for p in policies})))


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value
