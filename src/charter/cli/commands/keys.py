"""export keys: the deployment's signing and HMAC keys as one protected file, for `charter init --join FILE`.

Not `charter key …`: that noun is the API keys of principals. The deployment's key set is exported like the catalog
(`charter export cyclonedx`), and installed by the one command that sets up a data dir (`charter init --join`).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path
from typing import Annotated

import typer

from charter.cli.commands.catalog import export_app
from charter.cli.errors import EXIT_USAGE, CliError
from charter.cli.output import emit
from charter.core import keybundle
from charter.core.errors import ErrorCode
from charter.core.keybundle import Bundle
from charter.settings import Settings

PASSPHRASE_ENV = "CHARTER_KEYS_PASSPHRASE"


def passphrase(*, confirm: bool) -> str | None:
    """The key file passphrase: CHARTER_KEYS_PASSPHRASE, else typed on a terminal (None: neither)."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    if sys.stdin.isatty():
        return str(typer.prompt("Key file passphrase", hide_input=True, confirmation_prompt=confirm))
    return None


def warn(text: str) -> None:
    sys.stderr.write(f"warning: {text}\n")


def load_join_file(path: Path) -> Bundle:
    """The key set in a `charter export keys` file (asks for its passphrase when it is encrypted)."""
    doc = keybundle.parse(path)
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warn(f"{path} is readable by others (mode {stat.S_IMODE(mode):04o}): it holds the deployment's keys; delete it")
    return keybundle.decode(path, doc, passphrase(confirm=False) if keybundle.is_encrypted(doc) else None)


def export_keys(
    output: Annotated[Path, typer.Option("--output", "-o", help="File to create (mode 0600; never overwritten).")],
    no_passphrase: Annotated[
        bool, typer.Option("--no-passphrase", help="Write the keys in clear (only over a channel you trust).")
    ] = False,
) -> None:
    """Write this data dir's signing and HMAC keys to a file for `charter init --join FILE` on every other process.

    Encrypted with CHARTER_KEYS_PASSPHRASE (or one typed on a terminal; at least 12 characters), scrypt and
    AES-256-GCM.
    """
    settings = Settings()
    try:
        bundle = keybundle.read_key_files(settings.keys_dir)
    except FileNotFoundError as exc:
        raise CliError(ErrorCode.NOT_INITIALISED, f"{exc}", EXIT_USAGE) from None
    except ValueError as exc:
        raise CliError(ErrorCode.KEYS_INVALID, str(exc), EXIT_USAGE) from None
    from charter import bootstrap  # the database stack loads only for the commands that use it

    bootstrap.check_keys(settings)  # exporting keys the database does not know would spread the mismatch
    secret: str | None = None
    if not no_passphrase:
        secret = passphrase(confirm=True)
        if secret is None:
            raise CliError(
                ErrorCode.PASSPHRASE_REQUIRED,
                f"set {PASSPHRASE_ENV} (at least {keybundle.MIN_PASSPHRASE} characters) or run on a terminal to type "
                "one; --no-passphrase writes the keys in clear",
                EXIT_USAGE,
            )
    keybundle.write(output, keybundle.encode(bundle, secret))
    if secret is None:
        warn(
            f"{output} holds the deployment's signing and HMAC keys IN CLEAR: whoever reads it can sign license tokens "
            "and audit checkpoints. Move it only over a channel you trust and delete it once every process has joined."
        )
    doc = {"output": str(output), "encrypted": secret is not None, "fingerprints": bundle.fingerprints}
    emit(
        doc,
        human=f"Wrote the deployment's keys to {output} (mode 0600, {'encrypted' if secret else 'NOT encrypted'}).\n"
        f"On every other process: charter init --join {output}   (then delete {output})",
    )


def register(app: typer.Typer) -> None:
    """`charter export keys`, on the `export` group (added to `app` by the catalog commands)."""
    del app
    export_app.command("keys")(export_keys)
