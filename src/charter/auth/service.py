"""Identity use cases, one import for callers: principals (users, teams, apps), API keys, role bindings, and
authentication. Each aggregate has its own module; this one only re-exports them.

Every state-changing function takes `uow` and `actor` first, calls `authorize()` first, records its audit
event in the same transaction and commits once.
"""

from __future__ import annotations

from charter.auth.api_keys import create_key, list_keys, revoke_key
from charter.auth.authenticate import actor_by_id, authenticate, authenticate_password, whoami
from charter.auth.principals import (
    add_app,
    add_team,
    add_user,
    bootstrap_admin,
    list_principals,
    list_teams,
    set_disabled,
    set_password,
)
from charter.auth.repository import parse_ref, principal_by_ref
from charter.auth.roles import grant_role, list_roles, revoke_role

__all__ = [
    "actor_by_id",
    "add_app",
    "add_team",
    "add_user",
    "authenticate",
    "authenticate_password",
    "bootstrap_admin",
    "create_key",
    "grant_role",
    "list_keys",
    "list_principals",
    "list_roles",
    "list_teams",
    "parse_ref",
    "principal_by_ref",
    "revoke_key",
    "revoke_role",
    "set_disabled",
    "set_password",
    "whoami",
]
