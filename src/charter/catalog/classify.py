"""Questionnaire answers → EU AI Act risk tier, GPAI flags and the applicable controls, each with why it applies."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from charter.catalog import applies_when
from charter.catalog.controls import ControlRef, controls
from charter.catalog.questionnaire import PROHIBITED_CONTROLS, ProhibitedPractices, Questionnaire
from charter.core.errors import InvalidInput

SYSTEMIC_FLOPS = 1e25
TIERS = ("prohibited", "high", "limited", "minimal")
_ART5_POINT = {name: "Art. 5(1)(" + cid.rsplit("-1", 1)[1].lower() + ")" for name, cid in PROHIBITED_CONTROLS.items()}


@dataclass(frozen=True, slots=True)
class Obligation:
    """One applicable control and the reason it applies."""

    id: str
    framework: str
    ref: str
    title: str
    why: str
    legal_status: str = ""
    legal_source: str = ""

    def to_dict(self) -> dict[str, str]:
        return {
            "id": self.id,
            "framework": self.framework,
            "ref": self.ref,
            "title": self.title,
            "why": self.why,
            "legal_status": self.legal_status,
            "legal_source": self.legal_source,
        }

    @classmethod
    def of(cls, c: ControlRef, why: str) -> Obligation:
        return cls(c.id, c.framework, c.ref, c.title, why, c.legal.status, c.legal.source)


@dataclass(frozen=True, slots=True)
class Classification:
    """The outcome of classifying one set of answers."""

    tier: str
    gpai: bool
    gpai_systemic: bool
    annex_iii_area: str | None
    routes: tuple[str, ...]
    reasons: tuple[str, ...]
    obligations: tuple[Obligation, ...]
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def is_prohibited(self) -> bool:
        return self.tier == "prohibited"

    def explanation(self) -> dict[str, Any]:
        """JSON form stored with the system: why this tier, why each obligation."""
        return {
            "tier": self.tier,
            "routes": list(self.routes),
            "reasons": list(self.reasons),
            "gpai": self.gpai,
            "gpai_systemic": self.gpai_systemic,
            "obligations": [o.to_dict() for o in self.obligations],
        }


_CAPABILITIES = (
    "emotion_recognition",
    "biometric_categorisation",
    "realtime_rbi",
    "facial_recognition_db",
    "biometric_verification",
)


def _facts(q: Questionnaire, tier: str, point: str | None, systemic: bool) -> dict[str, Any]:
    t, c, d, g = q.transparency, q.context, q.data, q.gpai
    capability = [name for name in _CAPABILITIES if getattr(t, name)]
    return {
        "tier": tier,
        "personal_data": d.personal_data,
        "special_category_data": d.special_category_data,
        "third_country_transfer": d.third_country_transfer,
        "dpia_trigger": d.dpia_trigger,
        "annex_iii_point": point,
        "annex_i_section": ("B" if q.annex_i.section_b() else "A") if q.annex_i.product_legislation else None,
        "role": list(c.role.roles()),
        "gpai_systemic": systemic,
        "established_outside_union": g.established_outside_union,
        "open_source_exempt": g.open_source and not systemic,
        "deployer_type": c.deployer_type.value,
        "deployment_context": list(c.deployment_context),
        "decisions_about_persons": c.decisions_about_persons,
        "decision_mode": c.decision_mode.value,
        "effect": c.effect.value,
        "generative": c.generative or t.generates_synthetic_content,
        "interacts_with_natural_persons": t.interacts_with_natural_persons,
        "generates_synthetic_content": t.generates_synthetic_content,
        "capability": capability,
        "deepfake_output": t.deepfake_output,
        "public_interest_text": t.public_interest_text,
        "training_compute_flops": q.gpai.training_compute_flops,
    }


def _prohibited(p: ProhibitedPractices) -> list[str]:
    return [name for name in PROHIBITED_CONTROLS if getattr(p, name)]


def _annex_i(q: Questionnaire, reasons: list[str]) -> bool:
    a = q.annex_i
    act = (a.product_legislation or "").strip()
    if not act or act.lower() == "none":
        return False
    if a.safety_component and a.third_party_assessment:
        reasons.append(
            f"Art. 6(1): product or safety component under Annex I legislation '{act}' that needs a third-party "
            "conformity assessment: high-risk"
        )
        if a.section_b():
            reasons.append(
                f"Art. 2(2): '{act}' is Annex I Section B legislation: of this Regulation only Art. 6(1), Arts 102-109 "
                "and Art. 112 apply; the high-risk requirements reach the product through its sectoral act"
            )
        return True
    missing = "is not a safety component" if not a.safety_component else "needs no third-party assessment"
    reasons.append(f"Annex I legislation '{act}' recorded, but the AI {missing}: not high-risk via Art. 6(1)")
    return False


def _point(q: Questionnaire, reasons: list[str]) -> str | None:
    """The Annex III point: as answered, or derived from a biometric capability (Annex III point 1)."""
    a, t = q.annex_iii, q.transparency
    if t.biometric_verification and not t.realtime_rbi:
        reasons.append(
            "biometric verification only (confirming a person is who they claim to be) is carved out of "
            "Annex III point 1(a)"
        )
    if t.facial_recognition_db:
        reasons.append(
            "creates or expands a facial-recognition database: Art. 5(1)(e) prohibits doing so by untargeted "
            "scraping of facial images from the internet or CCTV (answered no); record the source of the images"
        )
    derived: list[tuple[str, str]] = []
    if t.realtime_rbi:
        derived.append(("1(a)", "real-time remote biometric identification not prohibited by Art. 5(1)(h)"))
    if t.emotion_recognition:
        derived.append(("1(c)", "emotion recognition not prohibited by Art. 5(1)(f)"))
    if a.point is not None:
        for point, what in derived:
            if not a.point.startswith(point[0]):
                reasons.append(
                    f"warning: {what} is Annex III point {point}, but point {a.point} was answered; check the "
                    "intended purpose"
                )
        return a.point
    for point, what in derived:
        if a.excluded_point == point:
            reasons.append(
                f"warning: {what} is normally Annex III point {point}; excluded by your recorded reason: "
                f"{a.exclusion_reason}"
            )
            continue
        reasons.append(f"Annex III point {point} derived: {what} is a high-risk use case (Annex III {point})")
        return point
    return None


def _annex_iii(q: Questionnaire, point: str | None, reasons: list[str]) -> bool:
    a = q.annex_iii
    if a.excluded_point is not None:
        reasons.append(f"outside Annex III point {a.excluded_point}: {a.exclusion_reason}")
    if point is None:
        if a.derogation is not None:
            raise InvalidInput(
                "the Art. 6(3) derogation only applies to an Annex III use case: set annex_iii.point or remove "
                "annex_iii.derogation",
                field="answers.annex_iii.derogation",
            )
        return False
    if a.derogation is None:
        reasons.append(f"Art. 6(2): intended purpose falls under Annex III point {point}: high-risk")
        return True
    if a.profiling:
        reasons.append(
            f"Art. 6(2): Annex III point {point}; the Art. 6(3) derogation '{a.derogation.value}' is not available "
            "because the system profiles natural persons: high-risk"
        )
        return True
    if not (a.derogation_rationale or "").strip():
        raise InvalidInput(
            "Art. 6(4): a provider relying on the Art. 6(3) derogation must document its assessment before placing "
            "the system on the market: set annex_iii.derogation_rationale (or remove annex_iii.derogation)",
            field="answers.annex_iii.derogation_rationale",
        )
    reasons.append(
        f"Annex III point {point} with the Art. 6(3) derogation '{a.derogation.value}' (documented assessment, "
        "Art. 6(4)): not high-risk (register the system, Art. 49(2))"
    )
    return False


_TRANSPARENCY_FIELDS = (
    "interacts_with_natural_persons",
    "generates_synthetic_content",
    "emotion_recognition",
    "biometric_categorisation",
    "deepfake_output",
    "public_interest_text",
)


def _transparency(q: Questionnaire) -> list[str]:
    return [name for name in _TRANSPARENCY_FIELDS if getattr(q.transparency, name)]


def classify(q: Questionnaire, catalog: Iterable[ControlRef] | None = None) -> Classification:
    """Derive the tier (prohibited > high > limited > minimal), GPAI flags and applicable obligations."""
    reasons: list[str] = []
    routes: list[str] = []
    banned = _prohibited(q.prohibited)
    point = q.annex_iii.point
    g = q.gpai
    gpai = g.general_purpose or g.designated_systemic
    systemic = g.designated_systemic or (g.general_purpose and (g.training_compute_flops or 0) > SYSTEMIC_FLOPS)
    if banned:
        tier = "prohibited"
        routes.append("art-5")
        reasons.extend(
            f"{_ART5_POINT[name]} answered yes ({name}): prohibited practice, no licence may be issued"
            for name in banned
        )
    else:
        high_i = _annex_i(q, reasons)
        point = _point(q, reasons)
        high_iii = _annex_iii(q, point, reasons)
        routes += (["art-6-1"] if high_i else []) + (["art-6-2"] if high_iii else [])
        triggers = _transparency(q)
        if triggers:
            routes.append("art-50")
            reasons.append(f"Art. 50 transparency duties: {', '.join(triggers)}")
        if high_i and not high_iii and q.annex_i.section_b():
            routes.append("art-2-2")
        if high_i or high_iii:
            tier = "high"
        elif triggers:
            tier = "limited"
        else:
            tier = "minimal"
            reasons.append(
                "no Art. 5, Art. 6 or Art. 50 trigger answered yes: minimal risk (Art. 4 AI literacy applies)"
            )
    if gpai:
        flops = f", {g.training_compute_flops:.3g} FLOP" if g.training_compute_flops else ""
        kind = "with systemic risk (Art. 51)" if systemic else "(Arts 53-54)"
        reasons.append(f"general-purpose AI model {kind}{flops}")
        if g.open_source and not systemic:
            reasons.append("Art. 53(2): free and open-source model: Art. 53(1)(a)-(b) and Art. 54 do not apply")
    facts = _facts(q, tier, point, systemic)
    obligations = _obligations(
        tier, gpai, systemic, banned, routes, facts, controls() if catalog is None else tuple(catalog)
    )
    area = point or None
    return Classification(tier, gpai, systemic, area, tuple(routes), tuple(reasons), obligations, facts)


def _tier_why(control: ControlRef, tier: str, gpai: bool, systemic: bool) -> str | None:
    if tier in control.tiers:
        return f"tier '{tier}' (control covers: {', '.join(control.tiers)})"
    if systemic and "gpai_systemic" in control.tiers:
        return "general-purpose AI model with systemic risk"
    if gpai and "gpai" in control.tiers:
        return "general-purpose AI model"
    return None


def _route_check(control: ControlRef, facts: dict[str, Any], routes: list[str]) -> tuple[bool, str]:
    """Controls whose tier alone over-selects: Annex III areas and the two Art. 6 routes."""
    cid = control.id
    if cid.startswith("EUAIA-ANNEXIII-"):
        area = cid.rsplit("-", 1)[1]
        point = facts.get("annex_iii_point") or ""
        holds = point.startswith(area) and "art-6-2" in routes
        return (
            holds,
            f"Annex III point {point} is in area {area}" if holds else f"Annex III area {area}: not the use case",
        )
    if cid == "EUAIA-ART6-1":
        return "art-6-1" in routes, "high-risk through Art. 6(1) (Annex I product)"
    if cid == "EUAIA-ART6-2":
        return "art-6-2" in routes, "high-risk through Art. 6(2) (Annex III use case)"
    if "art-2-2" in routes and control.framework == "eu-ai-act" and not _gpai_tier(control):
        return False, "Art. 2(2): Annex I Section B product"
    return _legal_check(control, facts)


def _gpai_tier(control: ControlRef) -> bool:
    return bool(set(control.tiers) & {"gpai", "gpai_systemic"}) and "high" not in control.tiers


_ART50_TRIGGERS = ("interacts_with_natural_persons", "generates_synthetic_content", "deepfake_output")
_ART50_CAPABILITIES = ("emotion_recognition", "biometric_categorisation")


def _legal_check(control: ControlRef, facts: dict[str, Any]) -> tuple[bool, str]:
    """Conditions the Act sets that hold whatever the catalog file says (each names its article)."""
    cid = control.id
    if cid == "EUAIA-ART86":
        point = str(facts.get("annex_iii_point") or "")
        effect = facts.get("effect")
        ok = (
            bool(point)
            and not point.startswith("2")
            and bool(facts.get("decisions_about_persons"))
            and effect in ("legal", "similarly_significant")
        )
        return ok, f"Art. 86(1): Annex III point {point} (not point 2), decision with a {effect} effect on a person"
    if cid == "EUAIA-ART50-5":
        hits = [f for f in _ART50_TRIGGERS if facts.get(f)]
        hits += [c for c in facts.get("capability") or () if c in _ART50_CAPABILITIES]
        hits += ["public_interest_text"] if facts.get("public_interest_text") else []
        return bool(hits), f"Art. 50(5): how the Art. 50(1)-(4) information is given ({', '.join(hits)})"
    if cid == "EUAIA-ART54":
        outside = bool(facts.get("established_outside_union"))
        exempt = bool(facts.get("open_source_exempt"))
        return outside and not exempt, "Art. 54(1): provider established outside the Union" + (
            "" if not exempt else "; Art. 54(6) open-source exemption"
        )
    if cid in ("EUAIA-ART53-1A", "EUAIA-ART53-1B"):
        return not facts.get("open_source_exempt"), "Art. 53(2) open-source exemption not claimed (or systemic risk)"
    if cid == "EUAIA-ART25":
        return facts.get("tier") == "high", "Art. 25 concerns high-risk AI systems"
    if cid == "EUAIA-ART49":
        if "provider" in (facts.get("role") or ("provider", "deployer")):
            return True, "Art. 49(1): the provider registers"
        if facts.get("deployer_type") == "public_authority":
            return True, "Art. 49(3): a deployer that is a public authority registers its use"
        return False, "Art. 49(3): only deployers that are public authorities register"
    return True, ""


def _role_ok(control: ControlRef, facts: dict[str, Any]) -> bool:
    """Art. 3(3)/(4): provider duties for providers, deployer duties for deployers."""
    operator = {r for r in control.roles if r in ("provider", "deployer")}
    return not operator or bool(operator & set(facts.get("role") or ("provider", "deployer")))


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "{" + ", ".join(str(v) for v in value) + "}"
    return "unset" if value is None else str(value)


def _obligations(
    tier: str,
    gpai: bool,
    systemic: bool,
    banned: list[str],
    routes: list[str],
    facts: dict[str, Any],
    catalog: tuple[ControlRef, ...],
    skipped: list[tuple[str, str]] | None = None,
) -> tuple[Obligation, ...]:
    """The controls that apply; with `skipped`, also collects (control id, why it does not apply) for the rest."""
    out: list[Obligation] = []
    skip = skipped.append if skipped is not None else (lambda _item: None)
    if tier == "prohibited":
        hit = {PROHIBITED_CONTROLS[name]: name for name in banned}
        for c in catalog:
            if c.id in hit:
                why = f"answered yes to {_ART5_POINT[hit[c.id]]} ({hit[c.id]}): prohibited, refuse every licence"
                out.append(Obligation.of(c, why))
            else:
                skip((c.id, "the system is prohibited (Art. 5): no other control is assessed"))
        return tuple(out)
    for c in catalog:
        tier_why = _tier_why(c, tier, gpai, systemic)
        if tier_why is None:
            skip((c.id, f"covers tiers {', '.join(c.tiers) or 'none'}, not '{tier}'"))
            continue
        if not _role_ok(c, facts):
            skip((c.id, f"a duty of the {' or '.join(c.roles)}; your role is {' and '.join(facts.get('role') or [])}"))
            continue
        ok, route_why = _route_check(c, facts, routes)
        if not ok:
            skip((c.id, f"does not hold: {route_why}"))
            continue
        parts = [tier_why] + ([route_why] if route_why else [])
        if c.applies_when:
            outcome = applies_when.evaluate(c.applies_when, facts)
            read = ", ".join(f"{k}={_fmt(v)}" for k, v in outcome.facts)
            if not outcome.holds:
                skip((c.id, f"condition `{c.applies_when}` does not hold ({read})"))
                continue
            parts.append(f"condition `{c.applies_when}` holds ({read})")
        out.append(Obligation.of(c, "; ".join(parts)))
    return tuple(out)


def not_applicable(q: Questionnaire, catalog: Iterable[ControlRef] | None = None) -> dict[str, str]:
    """Every control that does not apply to these answers, with why (for per-system control status)."""
    result = classify(q, catalog)
    skipped: list[tuple[str, str]] = []
    _obligations(
        result.tier,
        result.gpai,
        result.gpai_systemic,
        _prohibited(q.prohibited),
        list(result.routes),
        result.facts,
        controls() if catalog is None else tuple(catalog),
        skipped,
    )
    return dict(skipped)
