"""audit log | proof | export | verify: read, prove and check the tamper-evident log."""

from __future__ import annotations

import base64
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import httpx
import orjson
import typer

from charter.audit.merkle import leaf_hash
from charter.audit.note import NoteError, Verifier, verifier_key, verify_checkpoint
from charter.audit.proofs import verify_inclusion
from charter.cli.client import Api
from charter.cli.context import STATE
from charter.cli.errors import EXIT_BY_STATUS, EXIT_NO, EXIT_NOT_FOUND, EXIT_UNREACHABLE, EXIT_USAGE, CliError
from charter.cli.output import console, emit, table
from charter.core.errors import ErrorCode
from charter.settings import Settings

if TYPE_CHECKING:
    from charter.audit.verify import Report
    from charter.audit.witnessing import Vouched

audit_app = typer.Typer(help="The tamper-evident audit log.", no_args_is_help=True)

KEY_PATH = "/.well-known/charter/audit-key"


@audit_app.command("log")
def log(
    actor: Annotated[str | None, typer.Option(help="Exact actor, e.g. user:alice.")] = None,
    action: Annotated[str | None, typer.Option(help="Action, or a prefix ending in * (license.*).")] = None,
    resource: Annotated[str | None, typer.Option(help="Resource, or a prefix ending in *.")] = None,
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601, UTC if no offset).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="Entries per page.")] = 50,
    cursor: Annotated[int | None, typer.Option(help="Continue from a previous page's `next`.")] = None,
    oldest_first: Annotated[bool, typer.Option("--oldest-first", help="Ascending sequence order.")] = False,
) -> None:
    """List entries, newest first."""
    params: dict[str, Any] = {"limit": limit, "order": "asc" if oldest_first else "desc"}
    for name, value in (
        ("actor", actor),
        ("action", action),
        ("resource", resource),
        ("since", since),
        ("until", until),
        ("cursor", cursor),
    ):
        if value is not None:
            params[name] = value
    page = Api().get("/audit/entries", params=params)
    if STATE.json:
        emit(page)
        return
    table(page["items"], ["seq", "ts", "actor", "action", "resource", "outcome"])
    if page.get("next") is not None:
        console.print(f"more: charter audit log --cursor {page['next']} …", highlight=False)


def _verifier(key: str | None, api: Api | None) -> Verifier:
    """The note verifier key from --key (a key, a file or a URL), else the server's public one."""
    text = key
    if key is not None and (key.startswith("http://") or key.startswith("https://")):
        try:
            text = httpx.get(key, timeout=30).raise_for_status().text
        except httpx.HTTPError as exc:
            raise CliError(
                ErrorCode.KEY_UNAVAILABLE, f"cannot fetch the verifier key from {key}: {exc}", EXIT_USAGE
            ) from None
    elif key is not None and Path(key).is_file():
        text = Path(key).read_text()
    elif key is None and api is not None:
        raw = api.get(KEY_PATH)
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
    if text is None:
        raise CliError(
            ErrorCode.NO_VERIFIER_KEY, "pass --key NAME+HASH+KEY (from /.well-known/charter/audit-key)", EXIT_USAGE
        )
    try:
        return Verifier.parse(text.strip())
    except NoteError as exc:
        raise CliError(exc.code, exc.message, EXIT_USAGE) from None


def _b64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


@audit_app.command("proof")
def proof(
    seq: Annotated[int, typer.Argument(min=0, help="Sequence number of the entry.")],
    size: Annotated[int | None, typer.Option(min=1, help="Tree size (default: the latest checkpoint).")] = None,
    key: Annotated[str | None, typer.Option(help="Note verifier key, file or URL (default: the server's).")] = None,
) -> None:
    """Fetch an inclusion proof and verify it here, against the signed checkpoint."""
    api = Api()
    params = {"size": size} if size is not None else {}
    doc = api.get(f"/audit/entries/{seq}/proof", params=params)
    body = doc["entry"]["body"].encode()
    leaf = leaf_hash(body)
    root = _b64(doc["root"])
    problems = []
    if leaf != _b64(doc["leaf_hash"]):
        problems.append("the entry body does not hash to the leaf hash")
    if not verify_inclusion(seq, doc["size"], leaf, [_b64(p) for p in doc["proof"]], root):
        problems.append("the inclusion proof does not lead to the root")
    signed = None
    if doc.get("checkpoint"):
        try:
            cp = verify_checkpoint(doc["checkpoint"], _verifier(key, api))
            signed = cp.size
            if (cp.size, cp.root) != (doc["size"], root):
                problems.append(f"the signed checkpoint is for size {cp.size} with another root")
        except NoteError as exc:
            problems.append(f"the checkpoint does not verify: {exc.message}")
    result = {**doc, "verified": not problems, "signed": signed is not None, "problems": problems}
    if problems:
        emit(result, human=f"✗ entry {seq}: " + "; ".join(problems))
        raise typer.Exit(EXIT_NO)
    how = f"the signed checkpoint of size {signed}" if signed is not None else f"the tree of size {doc['size']}"
    emit(result, human=f"✓ entry {seq} ({doc['entry']['action']} by {doc['entry']['actor']}) is included in {how}")


@audit_app.command("export")
def export(
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601).")] = None,
    until: Annotated[str | None, typer.Option(help="Before this time.")] = None,
    format: Annotated[str, typer.Option("--format", help="jsonl (verifiable) or csv.")] = "jsonl",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")] = None,
) -> None:
    """Export entries; a JSONL export verifies offline with: charter audit verify --from-export FILE."""
    if format not in ("jsonl", "csv"):
        raise CliError(ErrorCode.USAGE, f"--format must be jsonl or csv, not {format!r}", EXIT_USAGE)
    params = {k: v for k, v in (("since", since), ("until", until), ("format", format)) if v is not None}
    headers = {"Authorization": f"Bearer {STATE.key}"} if STATE.key else {}
    url = STATE.base_url + "/api/v1/audit/export"
    sink = output.open("wb") if output is not None else sys.stdout.buffer
    lines = 0
    try:
        with httpx.stream("GET", url, params=params, headers=headers, timeout=None) as resp:
            if resp.status_code >= 400:
                raise _http_error(resp)
            for chunk in resp.iter_bytes():
                sink.write(chunk)
                lines += chunk.count(b"\n")
    except httpx.TransportError as exc:
        raise CliError(
            ErrorCode.SERVER_UNREACHABLE,
            f"cannot reach Charter at {STATE.base_url} ({type(exc).__name__})",
            EXIT_UNREACHABLE,
        ) from None
    finally:
        if output is not None:
            sink.close()
    if output is not None:
        emit({"output": str(output), "lines": lines, "format": format}, human=f"Wrote {lines} lines to {output}")


def _http_error(resp: httpx.Response) -> CliError:
    resp.read()
    try:
        body = resp.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    code = str(body.get("code", ErrorCode.HTTP_ERROR))
    return CliError(code, str(body.get("detail", resp.reason_phrase)), EXIT_BY_STATUS.get(resp.status_code, 1), body)


def _local_public_key(settings: Settings) -> bytes | None:
    from charter.core.signing import load_keys

    try:
        return load_keys(settings.keys_dir).audit.public_raw
    except (FileNotFoundError, ValueError):
        return None


def _report(report: Report, source: str, vouched: Sequence[Vouched] = ()) -> None:
    doc = {"source": source, **report.to_dict()}
    if report.ok:
        unsigned = report.size - (report.latest_checkpoint or 0)
        tail = f"; {unsigned} newest entries not yet in a checkpoint" if unsigned > 0 else ""
        emit(
            doc,
            human=f"✓ {source}: {report.entries} entries, {report.checkpoints} signed checkpoints verified, "
            f"root {base64.b64encode(report.root).decode()}{tail}",
        )
        return
    bad = report.first_bad
    where = f"seq {bad.seq}: " if bad is not None and bad.seq is not None else ""
    lines = [f"✗ {source}: first bad entry: {where}{bad.reason if bad else '?'}"]
    lines += [f"  - {p.reason}" for p in report.problems[1:10]]
    unextended = _unextended(report, vouched)
    if unextended:
        doc["witnesses_not_extended"] = unextended
        lines += [
            f"✗ witness {w} cosigned checkpoint {n}; this log does not extend it: it was rolled back or rewritten "
            "after the witness saw it"
            for w, n in unextended.items()
        ]
    emit(doc, human="\n".join(lines))
    raise typer.Exit(EXIT_NO)


def _unextended(report: Report, vouched: Sequence[Vouched]) -> dict[str, int]:
    """The witnesses whose cosigned checkpoint this log fails to extend (shorter, or a problem names it)."""
    out: dict[str, int] = {}
    for v in vouched:
        named = re.compile(rf"\bcheckpoint {v.size}\b")
        if report.size < v.size or any(named.search(p.reason) for p in report.problems):
            out[v.witness] = v.size
    return out


@audit_app.command("verify")
def verify(
    from_export: Annotated[Path | None, typer.Option("--from-export", help="Verify a JSONL export file.")] = None,
    key: Annotated[
        str | None, typer.Option(help="Note verifier key, file or URL (default: this data dir's audit key).")
    ] = None,
    checkpoint: Annotated[
        list[Path] | None, typer.Option(help="A checkpoint note saved earlier; the log must extend it. Repeatable.")
    ] = None,
    deep: Annotated[bool, typer.Option("--deep", help="Also check canonical form and filter columns.")] = False,
    witness_key: Annotated[
        list[str] | None,
        typer.Option(
            "--witness-key",
            help="A witness's key (NAME+ID+KEY), with @URL unless CHARTER_WITNESSES gives it; the log must "
            "extend the checkpoint it cosigned. Repeatable.",
        ),
    ] = None,
    witnesses: Annotated[
        int | None, typer.Option("--witnesses", min=1, help="How many of the witnesses must vouch (default: all).")
    ] = None,
    origin: Annotated[str | None, typer.Option(help="The log's origin (default: this data dir's).")] = None,
) -> None:
    """Recompute the whole log offline (database via CHARTER_* settings, or an export) and name the first bad entry."""
    from charter.audit.export import verify_database, verify_export  # the database stack, only for this command
    from charter.storage.engine import make_engine

    trusted = [p.read_text() for p in checkpoint or []]
    settings = Settings()
    vouched = _witnessed(settings, witness_key, witnesses, origin, from_export) if witness_key else []
    trusted += [v.note for v in vouched]
    if from_export is not None:
        if not from_export.is_file():
            raise CliError(ErrorCode.NOT_FOUND, f"{from_export}: no such file", EXIT_NOT_FOUND)
        if key is None:
            public = _local_public_key(settings)
            if public is None:
                raise CliError(
                    ErrorCode.NO_VERIFIER_KEY,
                    "pass --key with the log's note verifier key (GET /.well-known/charter/audit-key)",
                    EXIT_USAGE,
                )
            origin = _export_origin(from_export)
            verifier = Verifier.parse(verifier_key(origin, public))
        else:
            verifier = _verifier(key, None)
        with from_export.open("rb") as fh:
            report = verify_export(fh, verifier, deep=deep, trusted=trusted)
        _report(report, str(from_export), vouched)
        return
    engine = make_engine(settings.resolved_database_url, search_path=settings.database_schema)
    try:
        if key is not None:
            report = verify_database(engine, verifier=_verifier(key, None), trusted=trusted, deep=deep)
        else:
            public = _local_public_key(settings)
            if public is None:
                raise CliError(
                    ErrorCode.NO_VERIFIER_KEY, f"no audit key in {settings.keys_dir}: pass --key", EXIT_USAGE
                )
            report = verify_database(engine, public_raw=public, trusted=trusted, deep=deep)
    finally:
        engine.dispose()
    _report(report, settings.resolved_database_url.split("@")[-1], vouched)


def _witnessed(
    settings: Settings, keys: list[str], quorum: int | None, origin: str | None, export: Path | None
) -> list[Vouched]:
    """The checkpoints the given witnesses cosigned for this log (fetched from them); exit 1 without a quorum."""
    from charter.audit.checkpointer import resolve_origin
    from charter.audit.witnessing import Target, fetch_cosigned, parse_targets

    configured = {t.name: t for t in parse_targets(settings.witnesses)} if settings.witnesses else {}
    targets: list[Target] = []
    for value in keys:
        if "@" in value:
            targets += parse_targets(value, "--witness-key")
            continue
        (only,) = parse_targets(value + "@http://unused", "--witness-key")
        known = configured.get(only.name)
        if known is None or known.cosigner != only.cosigner:
            raise CliError(ErrorCode.USAGE, f"--witness-key {only.name}: give its URL as KEY@URL", EXIT_USAGE)
        targets.append(known)
    need = quorum or len(targets)
    if need > len(targets):
        raise CliError(ErrorCode.USAGE, f"--witnesses {need} but only {len(targets)} witness keys given", EXIT_USAGE)
    log_origin = origin or (_export_origin(export) if export else None)
    log_origin = log_origin or resolve_origin(settings.home, settings.host, settings.public_url)
    vouched, problems = fetch_cosigned(targets, log_origin)
    if len(vouched) < need:
        lines = [f"✗ only {len(vouched)} of the {need} required witnesses vouch for a checkpoint of {log_origin}"]
        emit({"ok": False, "witnessed_by": [v.witness for v in vouched], "problems": problems},
             human="\n".join(lines + [f"  - {p}" for p in problems]))  # fmt: skip
        raise typer.Exit(EXIT_NO)
    if not STATE.json:
        for v in vouched:
            console.print(f"witness {v.witness} cosigned {v.size} entries of {log_origin}", highlight=False)
        for problem in problems:  # not needed for the quorum, but an operator should know
            console.print(f"! {problem}; not counted ({len(vouched)} vouch, {need} required)", highlight=False)
    return vouched


def _export_origin(path: Path) -> str:
    with path.open("rb") as fh:
        try:
            header = orjson.loads(fh.readline())
        except orjson.JSONDecodeError:
            header = {}
    origin = header.get("origin") if isinstance(header, dict) else None
    if not isinstance(origin, str):
        raise CliError(ErrorCode.INVALID_EXPORT, f"{path}: line 1 is not an export header", EXIT_USAGE)
    return origin


def register(app: typer.Typer) -> None:
    app.add_typer(audit_app, name="audit")
