"""Offline verification of an evidence pack: safe to open, every digest in the manifest, the audit export against
its signed checkpoint, the pack's files against the `report.pack` audit entry, the license tokens against the JWKS."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from charter.audit.export import read_export, verify_export
from charter.audit.note import NoteError, Verifier, verify_checkpoint
from charter.core.errors import CharterError, ErrorCode, InvalidInput
from charter.licenses import jose, tokens
from charter.licenses.jose import KeySet, VerifyError
from charter.reports.layout import (
    ANCHOR_ACTION,
    AUDIT_EXPORT,
    CHECKPOINT,
    FORMAT,
    JWKS,
    MANIFEST,
    VERIFIER_KEY,
)
from charter.reports.zipsafe import Limits, checked_members, chunks, open_zip, read_member

SMALL = 4 << 20
_ANCHOR_MARK = b'"action":"report.pack"'


@dataclass
class PackVerdict:
    """The outcome: `ok` only when nothing was found wrong."""

    source: str
    pack: str | None = None
    system: str | None = None
    files: int = 0
    key_source: str = "pack"
    audit: dict[str, Any] | None = None
    anchor_seq: int | None = None
    tokens: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "source": self.source,
            "pack": self.pack,
            "system": self.system,
            "files": self.files,
            "key_source": self.key_source,
            "anchor_seq": self.anchor_seq,
            "audit": self.audit,
            "tokens": self.tokens,
            "problems": self.problems,
        }


def verify_pack(
    source: str | Path | IO[bytes],
    *,
    trusted_key: str | None = None,
    trusted_jwks: Mapping[str, Any] | None = None,
    limits: Limits = Limits(),
) -> PackVerdict:
    """Check a pack; ZipUnsafe when it must not even be opened, InvalidInput when it is not a pack at all."""
    if isinstance(source, str | Path):
        with open(source, "rb") as fh:
            return _verify(fh, str(source), trusted_key, trusted_jwks, limits)
    return _verify(source, getattr(source, "name", "pack"), trusted_key, trusted_jwks, limits)


def _verify(
    fh: IO[bytes], name: str, trusted_key: str | None, trusted_jwks: Mapping[str, Any] | None, limits: Limits
) -> PackVerdict:
    verdict = PackVerdict(source=name)
    with open_zip(fh) as zf:
        members = {i.filename: i for i in checked_members(zf, limits)}
        manifest = _manifest(zf, members)
        verdict.pack, verdict.system = str(manifest.get("pack")), str(manifest.get("system"))
        listed: dict[str, Any] = manifest["files"]
        digests = _check_digests(zf, members, listed, verdict)
        verifier = _verifier(zf, members, trusted_key, verdict)
        if verifier is not None and AUDIT_EXPORT in members:
            _check_audit(zf, members, verifier, verdict)
            _check_anchor(zf, members[AUDIT_EXPORT], manifest, digests, verdict)
        _check_tokens(zf, members, trusted_jwks, verdict)
    return verdict


def _manifest(zf: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo]) -> dict[str, Any]:
    info = members.get(MANIFEST)
    if info is None:
        raise InvalidInput(f"no {MANIFEST}: not a Charter evidence pack", code=ErrorCode.PACK_MALFORMED)
    try:
        doc = json.loads(read_member(zf, info, SMALL))
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(f"{MANIFEST} is not JSON", code=ErrorCode.PACK_MALFORMED) from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != 1:
        raise InvalidInput(f"{MANIFEST} is not a {FORMAT} version 1 manifest", code=ErrorCode.PACK_MALFORMED)
    files = doc.get("files")
    ok = isinstance(files, dict) and all(
        isinstance(v, dict) and isinstance(v.get("sha256"), str) and isinstance(v.get("size"), int)
        for v in files.values()
    )
    if not ok:
        raise InvalidInput(f"{MANIFEST}: files must map names to {{sha256, size}}", code=ErrorCode.PACK_MALFORMED)
    return doc


def _check_digests(
    zf: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo], listed: Mapping[str, Any], verdict: PackVerdict
) -> dict[str, str]:
    """sha256 of every member against the manifest; members the manifest does not list are problems too."""
    actual: dict[str, str] = {}
    for name in sorted(set(members) - {MANIFEST} - set(listed)):
        verdict.problems.append(f"{name}: in the pack but not in the manifest")
    for name, want in sorted(listed.items()):
        info = members.get(name)
        if info is None:
            verdict.problems.append(f"{name}: listed in the manifest but missing from the pack")
            continue
        sha, size = hashlib.sha256(), 0
        try:
            for block in chunks(zf, info):
                sha.update(block)
                size += len(block)
        except zipfile.BadZipFile as exc:
            verdict.problems.append(f"{name}: corrupt in the archive ({exc})")
            continue
        actual[name] = sha.hexdigest()
        if actual[name] != want["sha256"] or size != want["size"]:
            verdict.problems.append(f"{name}: sha256 {actual[name]} ({size} bytes) differs from the manifest")
    verdict.files = len(actual)
    return actual


def _verifier(
    zf: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo], trusted: str | None, verdict: PackVerdict
) -> Verifier | None:
    packed = None
    if VERIFIER_KEY in members:
        packed = read_member(zf, members[VERIFIER_KEY], SMALL).decode(errors="replace").strip()
    text = trusted.strip() if trusted else packed
    verdict.key_source = "trusted" if trusted else "pack"
    if text is None:
        verdict.problems.append(f"{VERIFIER_KEY}: missing, and no trusted key given")
        return None
    try:
        verifier = Verifier.parse(text)
    except NoteError as exc:
        verdict.problems.append(f"verifier key: {exc.message}")
        return None
    if trusted and packed is not None and packed != text:
        verdict.problems.append(f"{VERIFIER_KEY}: differs from the trusted key; the log was signed by another key")
    return verifier


def _check_audit(
    zf: zipfile.ZipFile, members: Mapping[str, zipfile.ZipInfo], verifier: Verifier, verdict: PackVerdict
) -> None:
    note = read_member(zf, members[CHECKPOINT], SMALL).decode(errors="replace") if CHECKPOINT in members else None
    try:
        with zf.open(members[AUDIT_EXPORT]) as fh:
            report = verify_export(fh, verifier, trusted=[note] if note else [])
    except (CharterError, zipfile.BadZipFile) as exc:
        verdict.problems.append(f"{AUDIT_EXPORT}: {getattr(exc, 'message', exc)}")
        return
    verdict.audit = report.to_dict()
    verdict.problems += [f"{AUDIT_EXPORT}: {p.reason}" for p in report.problems]
    if note is None:
        verdict.problems.append(f"{CHECKPOINT}: missing")
        return
    try:
        cp = verify_checkpoint(note, verifier)
    except NoteError as exc:
        verdict.problems.append(f"{CHECKPOINT}: {exc.message}")
        return
    if (cp.size, cp.root) != (report.size, report.root):
        root = base64.b64encode(report.root).decode()
        verdict.problems.append(f"{CHECKPOINT}: signs size {cp.size}, but the export ends at {report.size} ({root})")


def _check_anchor(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    manifest: Mapping[str, Any],
    actual: Mapping[str, str],
    verdict: PackVerdict,
) -> None:
    """The `report.pack` entry in the verified export must list exactly the pack's files outside audit/."""
    anchored: dict[str, Any] | None = None
    with zf.open(info) as fh:
        for row in read_export(fh).entries():
            body = row[1]
            if _ANCHOR_MARK not in body:
                continue
            doc = json.loads(body)
            details = doc.get("details") or {}
            if doc.get("resource") == f"system:{verdict.system}" and details.get("pack") == manifest.get("pack"):
                anchored, verdict.anchor_seq = details.get("files") or {}, doc.get("seq")
    if anchored is None:
        verdict.problems.append(f"no {ANCHOR_ACTION} entry for pack {manifest.get('pack')} in {AUDIT_EXPORT}")
        return
    own = {n: d for n, d in actual.items() if not n.startswith("audit/")}
    for name in sorted(set(own) | set(anchored)):
        if name not in own:
            verdict.problems.append(f"{name}: recorded in audit entry {verdict.anchor_seq} but missing from the pack")
        elif name not in anchored:
            verdict.problems.append(f"{name}: not recorded in audit entry {verdict.anchor_seq}: added after the fact")
        elif own[name] != anchored[name]:
            verdict.problems.append(f"{name}: differs from the digest in signed audit entry {verdict.anchor_seq}")


def _check_tokens(
    zf: zipfile.ZipFile,
    members: Mapping[str, zipfile.ZipInfo],
    trusted_jwks: Mapping[str, Any] | None,
    verdict: PackVerdict,
) -> None:
    names = sorted(n for n in members if n.startswith("licenses/") and n.endswith(".jwt"))
    if not names:
        return
    try:
        doc = trusted_jwks if trusted_jwks is not None else json.loads(read_member(zf, members[JWKS], SMALL))
        keys = KeySet.from_jwks(doc)
    except (KeyError, ValueError, VerifyError) as exc:
        verdict.problems.append(f"{JWKS}: cannot load the license keys ({getattr(exc, 'message', exc)})")
        return
    for name in names:
        license_id = name.removeprefix("licenses/").removesuffix(".jwt")
        token = read_member(zf, members[name], SMALL).decode(errors="replace").strip()
        try:
            _, claims = jose.verify(token, keys, tokens.LICENSE_TYP)
            tokens.check_claims(claims)
            if claims.get("sub") != license_id:
                raise VerifyError(f"the token is for {claims.get('sub')}", code=ErrorCode.WRONG_LICENSE)
        except VerifyError as exc:
            verdict.tokens.append({"file": name, "license": license_id, "valid": False, "reason": exc.code})
            verdict.problems.append(f"{name}: {exc.message}")
            continue
        verdict.tokens.append(
            {
                "file": name,
                "license": license_id,
                "valid": True,
                "digest": claims.get("digest"),
                "exp": claims.get("exp"),
            }
        )
