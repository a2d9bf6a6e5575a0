"""API/CLI-facing identity schemas."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from charter.core.schema import Strict

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,62}$"


class UserCreate(Strict):
    name: str = Field(pattern=NAME_PATTERN, description="Lowercase login name.")
    team: str | None = Field(default=None, pattern=NAME_PATTERN)
    email: str | None = Field(default=None, max_length=200)
    display_name: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, min_length=12, max_length=200, description="For dashboard login.")


class TeamCreate(Strict):
    name: str = Field(pattern=NAME_PATTERN)


class AppCreate(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    team: str | None = Field(default=None, pattern=NAME_PATTERN)


class PrincipalRead(BaseModel):
    id: str
    kind: str
    name: str
    display_name: str | None = None
    email: str | None = None
    teams: list[str] = []
    roles: list[str] = []
    disabled: bool = False
    created_at: datetime


class PasswordSet(Strict):
    password: str = Field(
        min_length=12, max_length=200, description="The new dashboard password (12 to 200 characters)."
    )


class PrincipalDisable(BaseModel):
    reason: str = Field(min_length=1, max_length=500, description="Why (offboarding, compromised key, …).")


class TeamRead(BaseModel):
    id: str
    name: str
    members: list[str] = []
    created_at: datetime


class KeyCreate(Strict):
    principal: str = Field(description="user:NAME, app:NAME or a bare user name.", max_length=130)
    name: str | None = Field(default=None, max_length=120)
    expires_in_days: int | None = Field(
        default=90,
        ge=1,
        le=3650,
        description="Days until the key expires; at most CHARTER_KEY_MAX_DAYS (default 365), which null means.",
    )


class KeyRead(BaseModel):
    id: str
    prefix: str
    principal: str
    name: str | None = None
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None


class KeyCreated(KeyRead):
    key: str = Field(description="The key itself. Shown once: store it now.")


class RoleGrant(Strict):
    principal: str = Field(max_length=130)
    role: str = Field(max_length=40)
    function: str | None = Field(default=None, max_length=40)
    scope: str = Field(default="global", max_length=130, description="global, team:NAME or system:NAME")


class RoleBindingRead(BaseModel):
    id: str
    principal: str
    role: str
    function: str | None = None
    scope: str
    created_at: datetime


class WhoAmI(BaseModel):
    id: str
    kind: str
    name: str
    teams: list[str]
    roles: list[str]
    permissions: list[str]
