"""Incident request and read schemas."""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

from charter.core.schema import Strict
from charter.incidents.deadline import Kind


class IncidentCreate(Strict):
    kind: Kind = Field(
        description="death | serious_harm | critical_infrastructure | fundamental_rights | property_environment "
        "(Art. 3(49)(a)-(d))"
    )
    aware_at: datetime = Field(
        description="When the provider (or deployer) became aware of the incident (ISO 8601 with a UTC offset, or a "
        "local time in `time_zone`)"
    )
    time_zone: str | None = Field(
        default=None,
        max_length=64,
        description="IANA time zone where the period is counted (e.g. Europe/Berlin): its last day ends at local "
        "midnight, summer time included; without it, at the UTC offset of aware_at",
    )
    widespread: bool = Field(default=False, description="A widespread infringement (Art. 3(61)): 2 days, Art. 73(3)")
    description: str = Field(default="", max_length=8000, description="What happened, as known now")
    member_state: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{2}$",
        description="EU/EEA Member State where the incident occurred (code, e.g. DE; Greece EL or GR)",
    )
    suspend: bool = Field(default=False, description="Suspend every active license of the system now (audited)")


class IncidentClose(Strict):
    note: str = Field(min_length=1, max_length=8000, description="How the incident was reported and resolved")


class IncidentRead(BaseModel):
    id: str
    system: str
    kind: Kind
    widespread: bool
    description: str
    member_state: str | None
    aware_at: datetime
    period_days: int
    article: str
    last_day: date
    due_at: datetime
    deadline_note: str
    authority: str
    status: str
    overdue: bool
    suspended_licenses: list[str]
    reported_by: str
    created_at: datetime
    closed_at: datetime | None = None
    closed_by: str | None = None
    closing_note: str | None = None
