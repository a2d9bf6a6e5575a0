"""report system | incident | compliance | pack | verify-pack: Annex IV dossiers, Art. 73 incident reports, the
compliance summary, evidence packs."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import typer

from charter.cli.client import Api
from charter.cli.context import STATE
from charter.cli.errors import EXIT_BY_STATUS, EXIT_NO, EXIT_NOT_FOUND, EXIT_UNREACHABLE, EXIT_USAGE, CliError
from charter.cli.output import console, emit, table
from charter.core.errors import ErrorCode

if TYPE_CHECKING:
    from charter.reports.packcheck import PackVerdict

report_app = typer.Typer(
    help="Reports: Annex IV technical documentation, compliance summary, evidence packs.", no_args_is_help=True
)

SYSTEM_FORMATS = ("html", "pdf", "json")
PDF_TIMEOUT_S = 300.0


def _write(data: bytes, output: Path | None, what: str) -> None:
    """Write to --output (and say so), or to stdout."""
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    output.write_bytes(data)
    emit(
        {"output": str(output), "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()},
        human=f"Wrote {what} to {output} ({len(data)} bytes)",
    )


def _check_format(format: str, allowed: tuple[str, ...], output: Path | None) -> None:
    """`--format` is one of `allowed` (a usage error naming them otherwise), and a PDF is not sent to a terminal."""
    if format not in allowed:
        names = ", ".join(allowed[:-1]) + f" or {allowed[-1]}"
        raise CliError(ErrorCode.USAGE, f"--format must be {names}, not {format!r}", EXIT_USAGE)
    if format == "pdf" and output is None and sys.stdout.isatty():
        raise CliError(ErrorCode.USAGE, "a PDF does not belong on a terminal: pass --output FILE.pdf", EXIT_USAGE)


@report_app.command("system")
def system(
    name: Annotated[str, typer.Argument(help="AI system name.")],
    format: Annotated[str, typer.Option("--format", help="html, pdf or json.")] = "html",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
) -> None:
    """EU AI Act Annex IV technical documentation of a system; unfilled elements are marked MISSING."""
    _check_format(format, SYSTEM_FORMATS, output)
    doc = Api(timeout=PDF_TIMEOUT_S).get(f"/reports/systems/{name}", params={"format": format})
    if format == "json":
        if output is None:
            emit(doc)
            return
        data = json.dumps(doc, ensure_ascii=False, indent=2).encode() + b"\n"
    else:
        data = doc if isinstance(doc, bytes) else str(doc).encode()
    _write(data, output, f"the {format.upper()} report of {name}")


@report_app.command("incident")
def incident(
    incident_id: Annotated[str, typer.Argument(help="Incident id (inc_…), from charter incident list.")],
    format: Annotated[str, typer.Option("--format", help="html or pdf.")] = "html",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
) -> None:
    """The EU AI Act Art. 73 serious-incident report; what Charter does not hold is marked MISSING."""
    _check_format(format, ("html", "pdf"), output)
    doc = Api(timeout=PDF_TIMEOUT_S).get(f"/incidents/{incident_id}/report.{format}")
    _write(doc if isinstance(doc, bytes) else str(doc).encode(), output, f"the Art. 73 report of {incident_id}")


@report_app.command("compliance")
def compliance(
    format: Annotated[
        str | None, typer.Option("--format", help="json or html (default: a table; --json for the document).")
    ] = None,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
) -> None:
    """Compliance across systems: tier, licenses, latest verdict, re-audits, breaches, provenance, sign-offs."""
    if format is not None:
        _check_format(format, ("json", "html"), output)
    wire = "html" if format == "html" else "json"
    doc = Api().get("/reports/compliance", params={"format": wire})
    if format == "html":
        _write(doc if isinstance(doc, bytes) else str(doc).encode(), output, "the compliance summary")
        return
    if output is not None:
        _write(json.dumps(doc, ensure_ascii=False, indent=2).encode() + b"\n", output, "the compliance summary")
        return
    if format == "json" or STATE.json:
        emit(doc)
        return
    table([_row(r) for r in doc["items"]], list(_row({}).keys()), title="Compliance summary")


def _row(r: dict[str, Any]) -> dict[str, Any]:
    latest = r.get("latest_assessment") or {}
    prov = (r.get("provenance") or {}).get("complete")
    so = r.get("signoffs") or {}
    return {
        "system": r.get("system"),
        "tier": r.get("risk_tier"),
        "licenses": ", ".join(f"{n} {s}" for s, n in (r.get("licenses") or {}).items()) or None,
        "verdict": latest.get("verdict"),
        "re-audits": f"{r.get('open_reaudits', 0)} ({r.get('overdue_reaudits', 0)} overdue)" if r else None,
        "breaches": len(r.get("breached_conditions") or []) if r else None,
        "provenance": None if prov is None else ("complete" if prov else "incomplete"),
        "sign-offs": f"{so.get('complete')}/{so.get('licenses')}" if so.get("licenses") else None,
    }


@report_app.command("pack")
def pack(
    name: Annotated[str, typer.Argument(help="AI system name.")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Zip file (default: NAME-evidence.zip).")
    ] = None,
) -> None:
    """Download an evidence pack; an auditor checks it offline with: charter report verify-pack FILE."""
    target = output or Path(f"{name}-evidence.zip")
    headers = {"Authorization": f"Bearer {STATE.key}"} if STATE.key else {}
    url = f"{STATE.base_url}/api/v1/reports/systems/{name}/pack"
    sha, size = hashlib.sha256(), 0
    partial = target.with_name(target.name + ".part")
    try:
        with httpx.stream("GET", url, headers=headers, timeout=None) as resp:
            if resp.status_code >= 400:
                raise _http_error(resp)
            pack_id = resp.headers.get("charter-pack")
            with partial.open("wb") as fh:
                for block in resp.iter_bytes():
                    fh.write(block)
                    sha.update(block)
                    size += len(block)
        partial.replace(target)
    except httpx.TransportError as exc:
        raise CliError(
            ErrorCode.SERVER_UNREACHABLE,
            f"cannot reach Charter at {STATE.base_url} ({type(exc).__name__})",
            EXIT_UNREACHABLE,
        ) from None
    finally:
        partial.unlink(missing_ok=True)
    emit(
        {"output": str(target), "pack": pack_id, "bytes": size, "sha256": sha.hexdigest()},
        human=f"Wrote evidence pack {pack_id} of {name} to {target} ({size} bytes, sha256 {sha.hexdigest()})",
    )


def _http_error(resp: httpx.Response) -> CliError:
    resp.read()
    try:
        body = resp.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    code = str(body.get("code", ErrorCode.HTTP_ERROR))
    return CliError(code, str(body.get("detail", resp.reason_phrase)), EXIT_BY_STATUS.get(resp.status_code, 1), body)


def _text(value: str, what: str) -> str:
    """An option given as a URL, a file, or the text itself."""
    if value.startswith(("http://", "https://")):
        try:
            return httpx.get(value, timeout=30).raise_for_status().text
        except httpx.HTTPError as exc:
            raise CliError(ErrorCode.FETCH_FAILED, f"cannot fetch the {what} from {value}: {exc}", EXIT_USAGE) from None
    path = Path(value)
    if path.is_file():
        return path.read_text()
    return value


@report_app.command("verify-pack")
def verify_pack_cmd(
    pack_file: Annotated[Path, typer.Argument(help="The evidence pack (zip).", metavar="PACK")],
    key: Annotated[
        str | None, typer.Option(help="The log's note verifier key (text, file or URL) instead of the pack's own.")
    ] = None,
    jwks: Annotated[str | None, typer.Option(help="License JWKS (file or URL) instead of the pack's own.")] = None,
    max_bytes: Annotated[
        int, typer.Option(min=1, help="Refuse packs that expand beyond this many bytes (default 2 GiB).")
    ] = 2 << 30,
) -> None:
    """Check an evidence pack offline: safe zip, manifest digests, audit export, anchor entry, license tokens."""
    if not pack_file.is_file():
        raise CliError(ErrorCode.NOT_FOUND, f"{pack_file}: no such file", EXIT_NOT_FOUND)
    trusted_jwks = None
    if jwks is not None:
        try:
            trusted_jwks = json.loads(_text(jwks, "JWKS"))
        except ValueError:
            raise CliError(ErrorCode.INVALID_JWKS, "--jwks is not a JSON document", EXIT_USAGE) from None
    from charter.reports.packcheck import verify_pack  # the offline verifier only loads when used
    from charter.reports.zipsafe import Limits

    limits = Limits(max_total_bytes=max_bytes, max_member_bytes=max_bytes)
    trusted_key = _text(key, "verifier key") if key else None
    verdict = verify_pack(pack_file, trusted_key=trusted_key, trusted_jwks=trusted_jwks, limits=limits)
    _verdict(verdict)


def _verdict(v: PackVerdict) -> None:
    doc = v.to_dict()
    if v.ok:
        audit = v.audit or {}
        pinned = "" if v.key_source == "trusted" else " (verifier key taken from the pack: pass --key to pin it)"
        emit(
            doc,
            human=f"✓ {v.source}: pack {v.pack} of {v.system}: {v.files} files match the manifest and audit entry "
            f"{v.anchor_seq}; audit export of {audit.get('entries')} entries verifies up to its signed checkpoint; "
            f"{len(v.tokens)} license token(s) verify{pinned}",
        )
        return
    lines = [f"✗ {v.source}: {len(v.problems)} problem(s)"] + [f"  - {p}" for p in v.problems[:20]]
    if STATE.json:
        emit(doc)
    else:
        console.print("\n".join(lines), highlight=False, soft_wrap=True)
    raise typer.Exit(EXIT_NO)


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
