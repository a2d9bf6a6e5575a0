"""attest CONTROL_ID --system S --evidence FILE --valid-days N: attest a control no rule can check."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path
from typing import Annotated

import typer

from charter.cli.client import Api
from charter.cli.output import emit

MAX_STORED = 512 * 1024  # the server stores files up to this size; larger ones are sent as a hash only


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
    data = evidence.read_bytes()
    body = {
        "control": control,
        "statement": statement or f"{control} is met for {system}; see the evidence file {evidence.name}",
        "evidence_name": evidence.name,
        "evidence_sha256": "sha256:" + hashlib.sha256(data).hexdigest(),
        "evidence_size": len(data),
        "evidence_b64": base64.b64encode(data).decode() if len(data) <= MAX_STORED else None,
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
