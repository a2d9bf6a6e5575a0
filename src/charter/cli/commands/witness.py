"""witness serve: a transparency-log witness any Charter log (or other C2SP log) can submit its checkpoints to."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from charter.cli.context import STATE
from charter.cli.errors import EXIT_USAGE, CliError
from charter.cli.output import console
from charter.core.errors import ErrorCode

witness_app = typer.Typer(help="A witness for audit logs: cosigns checkpoints that extend the last one it saw.")

KEY_FILE = "witness-ed25519.pem"


def load_or_create_key(directory: Path) -> Ed25519PrivateKey:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / KEY_FILE
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise CliError(
            ErrorCode.INVALID_KEY, f"{path}: not an unencrypted Ed25519 private key ({exc})", EXIT_USAGE
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise CliError(ErrorCode.INVALID_KEY, f"{path}: not an Ed25519 private key", EXIT_USAGE)
    return key


@witness_app.command("serve")
def serve(
    log: Annotated[
        list[str],
        typer.Option("--log", help="Note verifier key of a log to witness (NAME+HASH+KEY; repeatable)."),
    ],
    name: Annotated[str, typer.Option(help="The witness's name (a schema-less URL).")] = "",
    directory: Annotated[Path, typer.Option("--dir", help="Where the witness keeps its key and state.")] = Path(
        ".charter-witness"
    ),
    host: Annotated[str, typer.Option(help="Bind address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8480,
) -> None:
    """Run a C2SP tlog-witness: POST /add-checkpoint, GET /{origin hash}/checkpoint."""
    import uvicorn

    from charter.audit.note import NoteError, Verifier, check_name
    from charter.core.signing import SigningKey
    from charter.witness.app import Witness, create
    from charter.witness.state import State

    try:
        logs = [Verifier.parse(v) for v in log]
    except NoteError as exc:
        raise CliError(ErrorCode.INVALID_KEY, f"--log: {exc.message}", EXIT_USAGE) from None
    witness_name = name or f"{socket.gethostname()}/charter-witness"
    try:  # before the key is created: a bad name leaves nothing behind
        check_name(witness_name)
    except NoteError as exc:
        raise CliError(ErrorCode.BAD_KEY_NAME, f"--name: {exc.message}", EXIT_USAGE) from None
    key = SigningKey(load_or_create_key(directory))
    witness = Witness(witness_name, key, logs, State(directory / "witness.db"))
    if not STATE.json:
        console.print(f"witness key: {witness.vkey}", highlight=False, soft_wrap=True)
        console.print(
            f"witnessing {', '.join(sorted(witness.logs))} on http://{host}:{port}", highlight=False, soft_wrap=True
        )
    else:
        typer.echo(f'{{"witness_key": "{witness.vkey}", "url": "http://{host}:{port}"}}')
    uvicorn.run(create(witness), host=host, port=port, log_level="warning", access_log=False, server_header=False)


def register(app: typer.Typer) -> None:
    app.add_typer(witness_app, name="witness")
