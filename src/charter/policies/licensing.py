"""Licensing requirements from policy: sign-off functions per risk tier, validity caps, re-audit, reinstatement."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType

from charter.core.errors import ErrorCode, InvalidInput
from charter.policies._yaml import Checker, YNode, parse_yaml
from charter.policies.catalogs import builtin_catalog
from charter.policies.document import API_VERSION, document_digest
from charter.policies.errors import NotLicensable

KIND = "Licensing"
TIERS = ("prohibited", "high", "limited", "minimal")
FUNCTION = re.compile(r"[a-z][a-z0-9-]{0,63}")
MAX_VALIDITY_DAYS = 3650
_TOP = (
    "apiVersion",
    "kind",
    "metadata",
    "functions",
    "tiers",
    "reaudit_interval_days",
    "reinstatement",
    "obligation_documents",
    "attestations",
)
_OPTIONAL = ("obligation_documents", "attestations")
DOCUMENT_KINDS = ("fria", "post_market_plan")
_TIER_FIELDS = ("licensable", "signoffs", "personal_data_signoffs", "max_validity_days")
_REINSTATE_FIELDS = ("signoffs", "by_reason", "default")
_ATTEST_FIELDS = ("expired_blocks", "required")


@dataclass(frozen=True, slots=True)
class TierRequirements:
    """What a license for a system of one risk tier needs."""

    tier: str
    licensable: bool
    signoffs: tuple[str, ...]
    personal_data_signoffs: tuple[str, ...]
    max_validity_days: int | None


@dataclass(frozen=True, slots=True)
class LicensingPolicy:
    """Typed view of a licensing document."""

    name: str
    digest: str
    functions: tuple[str, ...]
    tiers: Mapping[str, TierRequirements]
    reaudit_interval_days: int
    reinstatement_signoffs: tuple[str, ...]
    reinstatement_by_reason: Mapping[str, tuple[str, ...]]
    reinstatement_default: tuple[str, ...]
    obligation_documents: tuple[str, ...] = ()  # fria, post_market_plan: required for activation where they apply
    expired_attestations_block: bool = False  # an expired attestation of an applicable control blocks activation
    required_attestations: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: MappingProxyType({}))

    def attestations_required(self, tier: str) -> tuple[str, ...]:
        """Controls a license of a `tier` system needs a current attestation of (where they apply)."""
        return self.required_attestations.get(tier, ())

    def tier(self, tier: str) -> TierRequirements:
        """Requirements of a tier; InvalidInput for an unknown tier, NotLicensable for `prohibited`."""
        req = self.tiers.get(tier)
        if req is None:
            raise InvalidInput(
                f"unknown risk tier '{tier}'; expected one of {', '.join(TIERS)}", code=ErrorCode.UNKNOWN_RISK_TIER
            )
        if not req.licensable:
            raise NotLicensable(f"systems of risk tier '{tier}' may not be licensed (EU AI Act Art. 5)")
        return req

    def required_signoffs(self, tier: str, *, personal_data: bool) -> tuple[str, ...]:
        """Reviewer functions that must approve a license request, in a stable order."""
        req = self.tier(tier)
        extra = req.personal_data_signoffs if personal_data else ()
        return tuple(dict.fromkeys((*req.signoffs, *extra)))

    def max_validity_days(self, tier: str) -> int:
        """The longest validity a license of this tier may have."""
        days = self.tier(tier).max_validity_days
        assert days is not None  # guaranteed for licensable tiers by the loader
        return days

    def check_validity(self, tier: str, days: int) -> None:
        """InvalidInput (code validity_too_long) when `days` exceeds the tier's cap."""
        if days < 1:
            raise InvalidInput("validity must be at least 1 day", code=ErrorCode.VALIDITY_INVALID, field="days")
        cap = self.max_validity_days(tier)
        if days > cap:
            raise InvalidInput(
                f"validity of {days} days exceeds the {cap}-day cap for {tier}-risk systems; request {cap} or fewer",
                code=ErrorCode.VALIDITY_TOO_LONG,
                field="days",
            )

    def reinstatement_functions(self, reason: str | None) -> tuple[str, ...]:
        """Functions that must approve reinstating a license suspended for `reason` (e.g. fairness)."""
        named = self.reinstatement_default
        if reason:
            named = self.reinstatement_by_reason.get(reason, self.reinstatement_default)
        return tuple(dict.fromkeys((*self.reinstatement_signoffs, *named)))


def load_licensing(text: str | bytes, *, source: str = "<string>") -> LicensingPolicy:
    """Parse and validate a licensing document; PolicyError with located problems otherwise."""
    root = parse_yaml(text, source)
    return _build(root, Checker(source))


def load_licensing_file(path: Path) -> LicensingPolicy:
    """Load a licensing document from a file."""
    return load_licensing(path.read_bytes(), source=str(path))


@lru_cache(maxsize=1)
def builtin_licensing() -> LicensingPolicy:
    """The licensing requirements shipped with Charter."""
    ref = resources.files("charter.policies") / "builtin" / "licensing.yaml"
    return load_licensing(ref.read_bytes(), source="builtin:licensing.yaml")


def _build(root: YNode, c: Checker) -> LicensingPolicy:
    top = c.mapping(root, "the licensing document", _TOP, _TOP[: -len(_OPTIONAL)])
    if top is None:
        c.raise_if_any()
        raise AssertionError("unreachable")
    if "apiVersion" in top and c.string(top["apiVersion"], "apiVersion") not in (None, API_VERSION):
        c.add(top["apiVersion"].loc, f"apiVersion must be '{API_VERSION}'")
    if "kind" in top and c.string(top["kind"], "kind") not in (None, KIND):
        c.add(top["kind"].loc, f"kind must be '{KIND}'")
    name = ""
    if "metadata" in top:
        meta = c.mapping(top["metadata"], "metadata", ("name", "description"), ("name",))
        if meta and "name" in meta:
            name = c.string(meta["name"], "metadata.name") or ""
        if meta and "description" in meta:
            c.string(meta["description"], "metadata.description")
    functions = _functions(c, top["functions"], "functions", None) if "functions" in top else ()
    tiers = _tiers(c, top["tiers"], functions) if "tiers" in top else {}
    interval = 0
    if "reaudit_interval_days" in top:
        interval = c.integer(top["reaudit_interval_days"], "reaudit_interval_days", minimum=1) or 0
    reinstate = top.get("reinstatement")
    base, by_reason, default = _reinstatement(c, reinstate, functions) if reinstate is not None else ((), {}, ())
    documents: list[str] = []
    if "obligation_documents" in top:
        for value, item in c.strings(top["obligation_documents"], "obligation_documents"):
            if value not in DOCUMENT_KINDS:
                c.add(item.loc, f"obligation_documents: '{value}' is not one of {', '.join(DOCUMENT_KINDS)}")
            else:
                documents.append(value)
    block, required = _attestations(c, top["attestations"]) if "attestations" in top else (False, {})
    c.raise_if_any()
    return LicensingPolicy(
        name=name,
        digest=document_digest(root.plain()),
        functions=functions,
        tiers=MappingProxyType(tiers),
        reaudit_interval_days=interval,
        reinstatement_signoffs=base,
        reinstatement_by_reason=MappingProxyType(by_reason),
        reinstatement_default=default,
        obligation_documents=tuple(documents),
        expired_attestations_block=block,
        required_attestations=MappingProxyType(required),
    )


def _attestations(c: Checker, node: YNode) -> tuple[bool, dict[str, tuple[str, ...]]]:
    """`attestations: {expired_blocks: BOOL, required: {TIER: [CONTROL, ...]}}` (controls by catalog id)."""
    spec = c.mapping(node, "attestations", _ATTEST_FIELDS)
    if spec is None:
        return False, {}
    block = False
    if "expired_blocks" in spec:
        flag = spec["expired_blocks"]
        if flag.kind != "scalar" or not isinstance(flag.value, bool):
            c.add(flag.loc, "attestations.expired_blocks must be true or false")
        else:
            block = bool(flag.value)
    required: dict[str, tuple[str, ...]] = {}
    tiers = c.mapping(spec["required"], "attestations.required", TIERS) if "required" in spec else None
    for tier, tnode in (tiers or {}).items():
        ids = []
        for value, item in c.strings(tnode, f"attestations.required.{tier}"):
            control = builtin_catalog().find(value)
            if control is None:
                c.add(item.loc, f"attestations.required.{tier}: unknown control '{value}' (e.g. EUAIA-ART4)")
            elif control.id not in ids:
                ids.append(control.id)
        required[tier] = tuple(ids)
    return block, required


def _functions(c: Checker, node: YNode, what: str, known: tuple[str, ...] | None) -> tuple[str, ...]:
    out: list[str] = []
    for value, item in c.strings(node, what):
        if known is None and not FUNCTION.fullmatch(value):
            c.add(item.loc, f"{what}: '{value}' must be lowercase letters, digits and '-'")
        elif known is not None and value not in known:
            c.add(item.loc, f"{what}: unknown function '{value}'; declared: {', '.join(known)}")
        elif value in out:
            c.add(item.loc, f"{what}: '{value}' is listed twice")
        else:
            out.append(value)
    return tuple(out)


def _tiers(c: Checker, node: YNode, functions: tuple[str, ...]) -> dict[str, TierRequirements]:
    fields = c.mapping(node, "tiers", TIERS, TIERS)
    out: dict[str, TierRequirements] = {}
    for tier, tnode in (fields or {}).items():
        spec = c.mapping(tnode, f"tiers.{tier}", _TIER_FIELDS)
        if spec is None:
            continue
        licensable = True
        if "licensable" in spec:
            flag = spec["licensable"]
            if flag.kind != "scalar" or not isinstance(flag.value, bool):
                c.add(flag.loc, f"tiers.{tier}.licensable must be true or false")
            else:
                licensable = bool(flag.value)
        signoffs = _functions(c, spec["signoffs"], f"tiers.{tier}.signoffs", functions) if "signoffs" in spec else ()
        pd_node = spec.get("personal_data_signoffs")
        extra = _functions(c, pd_node, f"tiers.{tier}.personal_data_signoffs", functions) if pd_node is not None else ()
        days = None
        if "max_validity_days" in spec:
            days = c.integer(spec["max_validity_days"], f"tiers.{tier}.max_validity_days", minimum=1)
            if days is not None and days > MAX_VALIDITY_DAYS:
                c.add(spec["max_validity_days"].loc, f"tiers.{tier}.max_validity_days must be ≤ {MAX_VALIDITY_DAYS}")
        if licensable and (not signoffs or days is None):
            c.add(tnode.loc, f"tiers.{tier} is licensable, so it needs signoffs and max_validity_days")
        out[tier] = TierRequirements(tier, licensable, signoffs, extra, days)
    return out


def _reinstatement(
    c: Checker, node: YNode, functions: tuple[str, ...]
) -> tuple[tuple[str, ...], dict[str, tuple[str, ...]], tuple[str, ...]]:
    spec = c.mapping(node, "reinstatement", _REINSTATE_FIELDS, ("signoffs",))
    if spec is None:
        return (), {}, ()
    base = _functions(c, spec["signoffs"], "reinstatement.signoffs", functions) if "signoffs" in spec else ()
    if "signoffs" in spec and spec["signoffs"].kind == "seq" and not base:
        c.add(spec["signoffs"].loc, "reinstatement.signoffs must name at least one function")
    by_reason: dict[str, tuple[str, ...]] = {}
    reasons = spec.get("by_reason")
    if reasons is not None and reasons.kind != "map":
        c.add(reasons.loc, "reinstatement.by_reason must be a mapping of reason to functions")
    elif reasons is not None:
        for reason, rnode in reasons.value.items():
            by_reason[reason] = _functions(c, rnode, f"reinstatement.by_reason.{reason}", functions)
    default = _functions(c, spec["default"], "reinstatement.default", functions) if "default" in spec else ()
    return base, by_reason, default
