"""license (request, approve/reject, status, show, list, token, verify, suspend/reinstate/revoke, activate, renew,
re-audits) and `check` for CI/CD."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Annotated, Any

import httpx
import typer

from charter.cli.client import Api
from charter.cli.context import STATE
from charter.cli.errors import EXIT_NO, EXIT_UNREACHABLE, EXIT_USAGE, CliError
from charter.cli.output import emit, grid, table
from charter.core.errors import ErrorCode
from charter.core.wellknown import JWKS_PATH

license_app = typer.Typer(help="Licenses: request, sign off, activate, suspend, verify.", no_args_is_help=True)

Id = Annotated[str, typer.Argument(help="License id (lic_…).")]
Reason = Annotated[str, typer.Option("--reason", help="Why (recorded in the audit log).")]


def _summary(doc: dict[str, Any]) -> str:
    until = f", expires {doc['exp']}" if doc.get("exp") else ""
    return f"{doc['id']} {doc['state']} (v{doc['version']}): {doc['model']} in {doc['env']}{until}"


@license_app.command("request")
def request(
    model: Annotated[str, typer.Argument(help="SYSTEM@VERSION.")],
    env: Annotated[str, typer.Option(help="Environment, e.g. production.")],
    purpose: Annotated[list[str], typer.Option(help="Allowed purpose (repeatable).")],
    caller: Annotated[list[str], typer.Option(help="Calling app, app:NAME (repeatable).")],
    days: Annotated[int, typer.Option(help="Validity in days from activation (capped by policy).", min=1)],
    tool: Annotated[
        list[str] | None, typer.Option(help="Allowed tool: NAME, or SERVER:TOOL / SERVER:* on MCP (repeatable).")
    ] = None,
    tool_condition: Annotated[
        list[str] | None,
        typer.Option(
            "--tool-condition", help="'SERVER:TOOL => CEL over args', e.g. 'crm:refund => args.amount <= 500'."
        ),
    ] = None,
    approval: Annotated[
        list[str] | None,
        typer.Option(help="'SERVER:TOOL => role:NAME', or role:NAME for every --tool: calls wait for that approver."),
    ] = None,
    region: Annotated[list[str] | None, typer.Option(help="Allowed region (repeatable).")] = None,
    condition: Annotated[
        list[str] | None, typer.Option(help="'METRIC OP VALUE => suspend|revoke [after N windows]' (repeatable).")
    ] = None,
) -> None:
    """Request a license; prints the sign-offs it needs."""
    body = {
        "model": model,
        "env": env,
        "purposes": purpose,
        "callers": caller,
        "tools": tool or [],
        "tool_conditions": tool_condition or [],
        "approvals": approval or [],
        "regions": region or [],
        "days": days,
        "conditions": condition or [],
    }
    doc = Api().post("/licenses", json=body)
    needs = ", ".join(doc["required_signoffs"])
    emit(doc, human=f"Requested {_summary(doc)}\nSign-offs needed: {needs}")


def _sign(license_id: str, function: str, comment: str, decision: str) -> None:
    doc = Api().post(
        f"/licenses/{license_id}/signoffs", json={"function": function, "decision": decision, "comment": comment}
    )
    emit(doc, human=_status_text(doc))


@license_app.command("approve")
def approve(
    license_id: Id,
    function: Annotated[str, typer.Option("--as", help="Reviewer function you sign as.")],
    comment: Annotated[str, typer.Option(help="Your reasoning.")] = "",
) -> None:
    """Approve a license request (or a reinstatement) as a reviewer function."""
    _sign(license_id, function, comment, "approve")


@license_app.command("reject")
def reject(
    license_id: Id,
    function: Annotated[str, typer.Option("--as", help="Reviewer function you sign as.")],
    comment: Annotated[str, typer.Option(help="Why.")] = "",
) -> None:
    """Reject a license request as a reviewer function."""
    _sign(license_id, function, comment, "reject")


def _status_text(doc: dict[str, Any]) -> str:
    lines = [f"{doc['id']} is {doc['state']} (v{doc['version']}, stage {doc['stage']})"]
    for fn in doc["required_signoffs"]:
        who = doc["approved"].get(fn) or doc["rejected"].get(fn)
        mark = "approved" if fn in doc["approved"] else "rejected" if fn in doc["rejected"] else "missing"
        lines.append(f"  {fn}: {mark}" + (f" by {who}" if who else ""))
    if doc.get("assessment"):
        a = doc["assessment"]
        lines.append(
            f"  assessment {a['id']}: {a['verdict']}" + (f", blockers {a['blockers']}" if a["blockers"] else "")
        )
    if doc["missing"]:
        lines.append("Missing: " + "; ".join(doc["missing"]))
    return "\n".join(lines)


@license_app.command("status")
def status(license_id: Id) -> None:
    """Where a license stands and what it still needs."""
    doc = Api().get(f"/licenses/{license_id}/status")
    emit(doc, human=_status_text(doc))


@license_app.command("show")
def show(license_id: Id) -> None:
    """One license in full."""
    emit(Api().get(f"/licenses/{license_id}"))


def _days(value: str) -> int:
    m = re.fullmatch(r"\s*(\d{1,4})\s*([dw]?)\s*", value)
    if m is None:
        raise CliError(ErrorCode.USAGE, f"--expiring-within '{value}': use days like 30d or weeks like 4w", EXIT_USAGE)
    return int(m[1]) * (7 if m[2] == "w" else 1)


@license_app.command("list")
def list_(
    state: Annotated[str | None, typer.Option(help="Only this state.")] = None,
    system: Annotated[str | None, typer.Option(help="Only this system.")] = None,
    expiring_within: Annotated[str | None, typer.Option(help="Live licenses expiring within e.g. 30d.")] = None,
) -> None:
    """List licenses."""
    params: dict[str, Any] = {k: v for k, v in {"state": state, "system": system}.items() if v}
    if expiring_within is not None:
        params["expiring_within_days"] = _days(expiring_within)
    items = Api().get_all("/licenses", params)
    if STATE.json:
        table(items, [])
        return
    rows = [[license_name(i), ", ".join(i["purposes"]), str(i.get("exp") or "-")[:10]] for i in items]
    grid(["license (system@version · env · state · id)", "purposes", "expires"], rows)


def license_name(lic: dict[str, Any]) -> str:
    """How a license is named to people: `credit-scoring@2.0.0 · production · active · lic_…` (the id whole)."""
    return f"{lic['model']} · {lic['env']} · {lic['state']} · {lic['id']}"


@license_app.command("token")
def token(license_id: Id) -> None:
    """Print the signed license token (JWT): charter license token ID > lic.jwt."""
    doc = Api().get(f"/licenses/{license_id}/token")
    emit(doc, human=doc["token"])


def _change(license_id: str, verb: str, reason: str, category: str | None, expected: int | None) -> None:
    body = {"reason": reason, "category": category, "expected_version": expected}
    doc = Api().post(f"/licenses/{license_id}/{verb}", json=body)
    emit(doc, human=_summary(doc))


Category = Annotated[str | None, typer.Option(help="fairness, security, privacy, drift, reaudit, …")]
Expected = Annotated[int | None, typer.Option(help="Refuse unless the license is at this version.")]


@license_app.command("suspend")
def suspend(license_id: Id, reason: Reason, category: Category = None, expected_version: Expected = None) -> None:
    """Suspend an active license."""
    _change(license_id, "suspend", reason, category, expected_version)


@license_app.command("reinstate")
def reinstate(license_id: Id, reason: Reason, expected_version: Expected = None) -> None:
    """Reinstate a suspended license (needs the policy's reinstatement sign-offs)."""
    _change(license_id, "reinstate", reason, None, expected_version)


@license_app.command("revoke")
def revoke(license_id: Id, reason: Reason, expected_version: Expected = None) -> None:
    """Revoke a license for good."""
    _change(license_id, "revoke", reason, None, expected_version)


@license_app.command("activate")
def activate(license_id: Id) -> None:
    """Activate an approved license whose assessment arrived later."""
    doc = Api().post(f"/licenses/{license_id}/activate")
    emit(doc, human=f"Activated {_summary(doc)}")


@license_app.command("renew")
def renew(
    license_id: Id, days: Annotated[int | None, typer.Option(help="Validity of the new license.", min=1)] = None
) -> None:
    """Request a new license with the same scope, linked to this one."""
    doc = Api().post(f"/licenses/{license_id}/renew", json={"days": days})
    emit(doc, human=f"Requested {_summary(doc)} (renews {license_id})")


@license_app.command("reaudits")
def reaudits(
    status: Annotated[str | None, typer.Option(help="open or done.")] = None,
    system: Annotated[str | None, typer.Option(help="Only this system.")] = None,
) -> None:
    """Re-audit tasks, soonest due first."""
    params = {k: v for k, v in {"status": status, "system": system}.items() if v}
    table(Api().get_all("/reaudits", params), ["id", "system", "kind", "model", "due_at", "status"])


@license_app.command("reaudit-done")
def reaudit_done(
    task_id: Annotated[str, typer.Argument(help="Task id (task_…).")],
    note: Annotated[str, typer.Option(help="What was audited and found.")],
) -> None:
    """Record that a re-audit was done."""
    doc = Api().post(f"/reaudits/{task_id}/complete", json={"note": note})
    emit(doc, human=f"Re-audit {doc['id']} of {doc['system']} done")


def _load(source: str, what: str) -> str:
    """A file's text, or an http(s) URL's body."""
    if source.startswith(("http://", "https://")):
        try:
            resp = httpx.get(source, timeout=15.0)
        except httpx.HTTPError as exc:
            raise CliError(
                ErrorCode.SERVER_UNREACHABLE, f"cannot fetch {what} from {source}: {exc}", EXIT_UNREACHABLE
            ) from None
        if resp.status_code != 200:
            raise CliError(
                ErrorCode.FETCH_FAILED, f"fetching {what} from {source}: HTTP {resp.status_code}", EXIT_UNREACHABLE
            )
        return resp.text
    path = Path(source)
    if not path.is_file():
        raise CliError(ErrorCode.FILE_NOT_FOUND, f"{what} file {source} does not exist", EXIT_USAGE)
    return path.read_text()


def _status_of(claims: dict[str, Any]) -> str:
    """The status list the token names, fetched."""
    uri = str(claims["status"]["status_list"]["uri"])
    try:
        return _load(uri, "status list").strip()
    except CliError as exc:
        raise CliError(
            exc.code, f"{exc.message}; to verify without the revocation check, pass --offline", exc.exit_code
        ) from None


def _seen(state_file: Path | None) -> dict[str, int]:
    if state_file is None or not state_file.exists():
        return {}
    try:
        doc = json.loads(state_file.read_text())
    except ValueError:
        raise CliError(ErrorCode.USAGE, f"{state_file} is not a JSON state file", EXIT_USAGE) from None
    return {str(k): int(v) for k, v in doc.items()} if isinstance(doc, dict) else {}


def _remember(state_file: Path | None, seen: dict[str, int], uri: str, version: int | None) -> None:
    if state_file is None or version is None or version <= seen.get(uri, -1):
        return
    seen[uri] = version
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps(seen, indent=2, sort_keys=True) + "\n")


@license_app.command("verify")
def verify(
    token_file: Annotated[str, typer.Argument(help="File with the license token ('-' for stdin).")],
    jwks: Annotated[str | None, typer.Option(help="JWKS file or URL (default: $CHARTER_URL" + JWKS_PATH + ").")] = None,
    status_url: Annotated[
        str | None,
        typer.Option(help="Status list URL or file (default: the status list URI inside the token)."),
    ] = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Do not fetch the status list: revocation and suspension are unchecked.")
    ] = False,
    digest: Annotated[str | None, typer.Option(help="Refuse unless the token is for this sha256:… digest.")] = None,
    min_version: Annotated[int, typer.Option(help="Refuse status lists older than this version.", min=0)] = 0,
    state_file: Annotated[Path | None, typer.Option(help="Remember the newest status list version seen here.")] = None,
) -> None:
    """Verify a license token: signature, claims, validity, digest, and its status (revoked, suspended) from the
    status list the token names (--status-url to give another copy, --offline to skip it)."""
    text = typer.get_text_stream("stdin").read() if token_file == "-" else _load(token_file, "token")
    from charter.licenses.jose import KeySet, VerifyError  # here: the other commands need no crypto
    from charter.licenses.verify import verify_license

    source = jwks or (STATE.base_url + JWKS_PATH)
    try:
        keys = KeySet.from_jwks(json.loads(_load(source, "JWKS")))
    except ValueError:
        raise CliError(ErrorCode.INVALID_JWKS, f"{source} is not a JWKS JSON document", EXIT_USAGE) from None
    if offline and status_url:
        raise CliError(ErrorCode.USAGE, "--offline skips the status list; drop --status-url or --offline", EXIT_USAGE)
    status_token = _load(status_url, "status list").strip() if status_url else None
    seen = _seen(state_file)
    floor = max([min_version, *seen.values()]) if seen else min_version
    try:
        if status_token is None and not offline:
            # What the token alone proves first (a forged or expired token needs no fetch), then its own status list.
            claims = verify_license(text.strip(), keys, now=int(time.time()), digest=digest).claims
            status_token = _status_of(claims)
        result = verify_license(
            text.strip(), keys, now=int(time.time()), digest=digest, status_list=status_token, min_version=floor
        )
    except VerifyError as exc:
        if "status_list_uri" in exc.details:
            _remember(state_file, seen, exc.details["status_list_uri"], exc.details["status_list_version"])
        raise CliError(
            exc.code,
            exc.message,
            EXIT_NO,
            {"valid": False, "code": exc.code, "reason": exc.code, "detail": exc.message},
        ) from None
    if result.status_list_version is not None:
        _remember(state_file, seen, result.claims["status"]["status_list"]["uri"], result.status_list_version)
    c = result.claims
    human = (
        f"valid: license {c['sub']} for {c['system']}@{c['version']} ({c['digest']})\n"
        f"  scope: env {c['scope']['env']}, purposes {', '.join(c['scope']['purposes'])}, "
        f"callers {', '.join(c['scope']['callers'])}\n"
        f"  valid until {time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime(c['exp']))}; status: {result.status}"
        + (
            f" (status list v{result.status_list_version})"
            if result.status_list_version is not None
            else " (--offline: revocation and suspension not checked)"
        )
    )
    emit({**result.to_dict(), "offline": offline}, human=human)


def check(
    model: Annotated[str, typer.Argument(help="SYSTEM@VERSION.")],
    env: Annotated[str, typer.Option(help="Environment, e.g. production.")],
    purpose: Annotated[str | None, typer.Option(help="Purpose the deployment serves.")] = None,
) -> None:
    """CI/CD gate: exit 0 only if an active license covers MODEL@VERSION in ENV (for PURPOSE); else 1 and why."""
    params = {"model": model, "env": env, **({"purpose": purpose} if purpose else {})}
    doc = Api().get("/licenses/check", params=params)
    if doc["allowed"]:
        emit(doc, human=f"licensed: {model} in {env} by {doc['license']} (expires {doc['exp']})")
        return
    emit(doc, human=f"NOT licensed: {model} in {env}" + "".join(f"\n  - {r}" for r in doc["reasons"]))
    raise typer.Exit(EXIT_NO)


def register(app: typer.Typer) -> None:
    app.add_typer(license_app, name="license")
    app.command()(check)
