"""attest CONTROL_ID --system S --evidence FILE --valid-days N: attest a control no rule can check."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Annotated

import typer

from charter.cli.client import Api
from charter.cli.errors import EXIT_USAGE, CliError
from charter.cli.output import emit
from charter.core.errors import ErrorCode

MAX_STORED = 512 * 1024  # the server stores files up to this size; larger ones are sent as a hash only
CHUNK = 1 << 20


def read_evidence(path: Path) -> tuple[str, int, bytes | None]:
    """(sha256, size, the bytes when at most MAX_STORED): hashed in chunks, so a large file is never held whole."""
    digest, size, head = hashlib.sha256(), 0, bytearray()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if size <= MAX_STORED:
                head += chunk
    return "sha256:" + digest.hexdigest(), size, bytes(head) if size <= MAX_STORED else None


def attest(
    control: Annotated[str, typer.Argument(help="Control id, e.g. EUAIA-ART4 (AI literacy).")],
    system: Annotated[str, typer.Option("--system", help="The AI system the attestation is for.")],
    evidence: Annotated[
        Path, typer.Option("--evidence", exists=True, dir_okay=False, readable=True, help="Evidence file.")
    ],
    valid_days: Annotated[int, typer.Option("--valid-days", min=1, max=1095, help="How long it holds.")],
    statement: Annotated[
        str, typer.Option("--statement", help="What you confirm (default: the control is met, see evidence).")
    ] = "",
) -> None:
    """Attest a control for a system; the evidence file is hashed (sha256) and stored when small."""
    if not evidence.is_file():
        raise CliError(
            ErrorCode.USAGE,
            f"--evidence {evidence}: not a regular file (a device or pipe cannot be hashed)",
            EXIT_USAGE,
        )
    digest, size, blob = read_evidence(evidence)
    body = {
        "control": control,
        "statement": statement or f"{control} is met for {system}; see the evidence file {evidence.name}",
        "evidence_name": evidence.name,
        "evidence_sha256": digest,
        "evidence_size": size,
        "evidence_b64": base64.b64encode(blob).decode() if blob is not None else None,
        "valid_days": valid_days,
    }
    doc = Api().post(f"/systems/{system}/attestations", json=body)
    stored = "stored" if doc["evidence_stored"] else "hash recorded (file too large to store)"
    emit(
        doc,
        human=f"attested {doc['control']} for {doc['system']} until {doc['valid_until']} "
        f"(evidence {doc['evidence_name']} {doc['evidence_sha256']}, {stored})",
    )


def register(app: typer.Typer) -> None:
    app.command("attest")(attest)
