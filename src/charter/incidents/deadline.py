"""Art. 73 reporting periods per kind of serious incident (Art. 3(49)(a)-(d)), counted by `charter.core.periods`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from charter.core.periods import days_after


class Kind(StrEnum):
    DEATH = "death"
    SERIOUS_HARM = "serious_harm"
    CRITICAL_INFRASTRUCTURE = "critical_infrastructure"
    FUNDAMENTAL_RIGHTS = "fundamental_rights"
    PROPERTY_ENVIRONMENT = "property_environment"


@dataclass(frozen=True, slots=True)
class Rule:
    days: int
    article: str
    meaning: str


RULES: dict[Kind, Rule] = {
    Kind.DEATH: Rule(10, "Art. 73(4)", "death of a person (Art. 3(49)(a))"),
    Kind.SERIOUS_HARM: Rule(15, "Art. 73(2)", "serious harm to a person's health (Art. 3(49)(a))"),
    Kind.CRITICAL_INFRASTRUCTURE: Rule(
        2,
        "Art. 73(3)",
        "serious and irreversible disruption of the management or operation of critical infrastructure (Art. 3(49)(b))",
    ),
    Kind.FUNDAMENTAL_RIGHTS: Rule(
        15,
        "Art. 73(2)",
        "infringement of obligations under Union law intended to protect fundamental rights (Art. 3(49)(c))",
    ),
    Kind.PROPERTY_ENVIRONMENT: Rule(15, "Art. 73(2)", "serious harm to property or the environment (Art. 3(49)(d))"),
}
WIDESPREAD = Rule(2, "Art. 73(3)", "widespread infringement (Art. 3(61))")


def rule_for(kind: Kind, *, widespread: bool = False) -> Rule:
    """The Art. 73 period for an incident of `kind` (a widespread infringement: 2 days, Art. 73(3))."""
    return WIDESPREAD if widespread and RULES[kind].days > WIDESPREAD.days else RULES[kind]


@dataclass(frozen=True, slots=True)
class Deadline:
    """When the report is due: the last day of the period and the instant it expires (UTC)."""

    rule: Rule
    aware_at: datetime
    last_day: date
    due_at: datetime
    extended_by: tuple[str, ...]

    def explain(self) -> str:
        base = f"{self.rule.days} days ({self.rule.article}, {self.rule.meaning}) from {self.aware_at.date()}"
        extra = f"; {'; '.join(self.extended_by)}" if self.extended_by else ""
        zone = self.aware_at.tzinfo
        where = f" (ends at midnight {zone.key})" if isinstance(zone, ZoneInfo) else ""
        return f"{base}, counted per Reg. 1182/71 Art. 3: last day {self.last_day}{where}{extra}"


def compute(aware_at: datetime, rule: Rule, holidays: frozenset[date] = frozenset()) -> Deadline:
    """The reporting deadline for an incident the reporter became aware of at `aware_at` (naive = UTC)."""
    period = days_after(aware_at, rule.days, holidays)
    return Deadline(rule, period.start, period.last_day, period.ends_at, period.extended_by)
