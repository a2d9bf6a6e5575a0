"""user, team, app, key, role, whoami."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from charter.cli.client import Api
from charter.cli.output import emit, table

user_app = typer.Typer(help="Users.", no_args_is_help=True)
team_app = typer.Typer(help="Teams.", no_args_is_help=True)
app_app = typer.Typer(help="Apps (service accounts that call models).", no_args_is_help=True)
key_app = typer.Typer(help="API keys.", no_args_is_help=True)
role_app = typer.Typer(help="Role bindings.", no_args_is_help=True)


def _principal(doc: dict[str, Any]) -> str:
    roles = ", ".join(doc.get("roles", [])) or "no roles"
    teams = ", ".join(doc.get("teams", [])) or "no team"
    return f"{doc['kind']}:{doc['name']} ({doc['id']}) — {roles}; {teams}"


@user_app.command("add")
def user_add(
    name: str,
    team: Annotated[str | None, typer.Option(help="Team to join.")] = None,
    email: Annotated[str | None, typer.Option()] = None,
    password: Annotated[
        str | None, typer.Option(help="Dashboard password (min 12 chars); prompt with --password -.")
    ] = None,
) -> None:
    """Create a user."""
    if password == "-":
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    doc = Api().post("/users", json={"name": name, "team": team, "email": email, "password": password})
    emit(doc, human=f"Created {_principal(doc)}")


@user_app.command("list")
def user_list() -> None:
    """List users."""
    table(Api().get_all("/users"), ["name", "id", "teams", "roles", "disabled"])


@user_app.command("set-password")
def user_set_password(
    name: str,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin (for scripts).")
    ] = False,
) -> None:
    """Set a user's dashboard password (prompted, hidden); their dashboard sessions end. Admins may set anyone's,
    a user their own."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    doc = Api().put(f"/users/{name}/password", json={"password": password})
    emit(doc, human=f"Password set for user:{doc['name']}; their dashboard sessions were ended")


Reason = Annotated[str, typer.Option(help="Why (kept in the audit log), e.g. 'left the company'.")]


def _set_disabled(kind: str, name: str, reason: str | None) -> None:
    verb = "disable" if reason is not None else "enable"
    body = {"reason": reason} if reason is not None else None
    doc = Api().post(f"/{kind}s/{name}/{verb}", json=body)
    state = "disabled: its keys, password and sessions no longer work" if doc["disabled"] else "enabled"
    emit(doc, human=f"{kind}:{doc['name']} is {state}")


@user_app.command("disable")
def user_disable(name: str, reason: Reason) -> None:
    """Disable a user (offboarding): their API keys, password and dashboard sessions stop working."""
    _set_disabled("user", name, reason)


@user_app.command("enable")
def user_enable(name: str) -> None:
    """Enable a disabled user again."""
    _set_disabled("user", name, None)


@team_app.command("add")
def team_add(name: str) -> None:
    """Create a team."""
    doc = Api().post("/teams", json={"name": name})
    emit(doc, human=f"Created team:{doc['name']} ({doc['id']})")


@team_app.command("list")
def team_list() -> None:
    """List teams."""
    table(Api().get_all("/teams"), ["name", "id", "members"])


@app_app.command("add")
def app_add(name: str, team: Annotated[str | None, typer.Option(help="Owning team.")] = None) -> None:
    """Create an app; give it a key with: charter key create app:NAME."""
    doc = Api().post("/apps", json={"name": name, "team": team})
    emit(doc, human=f"Created {_principal(doc)}\nNext: charter key create app:{name}")


@app_app.command("list")
def app_list() -> None:
    """List apps."""
    table(Api().get_all("/apps"), ["name", "id", "teams", "roles", "disabled"])


@app_app.command("disable")
def app_disable(name: str, reason: Reason) -> None:
    """Disable an app: the gateway refuses its keys (within 5 s, the key cache's lifetime)."""
    _set_disabled("app", name, reason)


@app_app.command("enable")
def app_enable(name: str) -> None:
    """Enable a disabled app again."""
    _set_disabled("app", name, None)


@key_app.command("create")
def key_create(
    principal: Annotated[str, typer.Argument(help="user:NAME, app:NAME or a bare user name.")],
    expires: Annotated[
        int | None,
        typer.Option(help="Days until the key expires (0: the longest allowed, CHARTER_KEY_MAX_DAYS).", min=0),
    ] = 90,
    name: Annotated[str | None, typer.Option(help="A label for the key.")] = None,
) -> None:
    """Create an API key; the key is printed once."""
    doc = Api().post("/keys", json={"principal": principal, "name": name, "expires_in_days": expires or None})
    until = doc.get("expires_at") or "never"
    emit(doc, human=f"API key for {doc['principal']} (expires {until}); shown once:\n\n  {doc['key']}\n")


@key_app.command("list")
def key_list(
    principal: Annotated[str | None, typer.Option(help="Only this principal's keys.")] = None,
) -> None:
    """List API keys (prefixes only)."""
    params = {"principal": principal} if principal else {}
    table(
        Api().get_all("/keys", params),
        ["id", "prefix", "principal", "name", "expires_at", "revoked_at"],
    )


@key_app.command("revoke")
def key_revoke(key_id: str) -> None:
    """Revoke an API key."""
    doc = Api().delete(f"/keys/{key_id}")
    emit(doc, human=f"Revoked {doc['id']} ({doc['prefix']}) of {doc['principal']}")


def _grant_body(principal: str, role: str, function: str | None, scope: str) -> dict[str, Any]:
    return {"principal": principal, "role": role, "function": function, "scope": scope}


@role_app.command("grant")
def role_grant(
    principal: str,
    role: str,
    function: Annotated[
        str | None, typer.Option(help="Reviewer function: ml-lead|security|legal|privacy|ethics.")
    ] = None,
    scope: Annotated[str, typer.Option(help="global, team:NAME or system:NAME.")] = "global",
) -> None:
    """Grant a role to a principal."""
    doc = Api().post("/roles", json=_grant_body(principal, role, function, scope))
    fn = f"({doc['function']})" if doc.get("function") else ""
    emit(doc, human=f"Granted {doc['role']}{fn} on {doc['scope']} to {doc['principal']}")


@role_app.command("revoke")
def role_revoke(
    principal: str,
    role: str,
    function: Annotated[str | None, typer.Option(help="Reviewer function.")] = None,
    scope: Annotated[str, typer.Option(help="global, team:NAME or system:NAME.")] = "global",
) -> None:
    """Revoke a role binding."""
    doc = Api().post("/roles/revoke", json=_grant_body(principal, role, function, scope))
    emit(doc, human=f"Revoked {doc['role']} on {doc['scope']} from {doc['principal']}")


@role_app.command("list")
def role_list() -> None:
    """List role bindings."""
    table(Api().get_all("/roles"), ["principal", "role", "function", "scope"])


def whoami() -> None:
    """Who the API key belongs to, with roles and permissions."""
    doc = Api().get("/whoami")
    emit(doc, human=f"{doc['kind']}:{doc['name']} — roles: {', '.join(doc['roles']) or 'none'}")


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
    app.add_typer(team_app, name="team")
    app.add_typer(app_app, name="app")
    app.add_typer(key_app, name="key")
    app.add_typer(role_app, name="role")
    app.command()(whoami)
