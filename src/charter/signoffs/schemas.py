"""API/CLI-facing sign-off schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from charter.core.schema import Strict
from charter.signoffs.model import Decision


class SignOffCreate(Strict):
    function: str = Field(max_length=40, description="Reviewer function you sign as, e.g. security.")
    decision: Decision = Decision.APPROVE
    comment: str = Field(default="", max_length=4000)


class SignOffRead(BaseModel):
    id: str
    subject: str
    stage: str
    function: str
    decision: Decision
    principal: str
    comment: str
    created_at: datetime
