"""Checks `charter serve` and `charter gateway` make before they start: each failure is one line with the fix,
not a traceback after "listening"."""

from __future__ import annotations

import errno
import getpass
import socket
from pathlib import Path

from charter.cli.errors import EXIT_USAGE, CliError
from charter.core.errors import ErrorCode
from charter.core.signing import AUDIT_KEY, HMAC_KEY, LICENSE_KEY
from charter.settings import Settings


def data_dir(settings: Settings) -> None:
    """The data dir exists, is a readable directory and holds the keys `charter init` writes."""
    home, keys = settings.home, settings.keys_dir
    where = str(home) if home.is_absolute() else f"{home} ({home.resolve()})"
    init = "run `charter init` first (or set CHARTER_HOME to an initialised data dir)"
    if not home.exists():
        raise CliError(ErrorCode.NOT_INITIALISED, f"no Charter data dir at {where}; {init}", EXIT_USAGE)
    path = home
    try:
        if not home.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a directory")
        if "keys" not in {p.name for p in home.iterdir()}:
            raise CliError(ErrorCode.NOT_INITIALISED, f"the data dir {where} has no keys; {init}", EXIT_USAGE)
        path = keys
        if not keys.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, "not a directory")
        for name in (LICENSE_KEY, AUDIT_KEY, HMAC_KEY):
            path = keys / name
            _read(path)
    except FileNotFoundError:
        raise CliError(
            ErrorCode.NOT_INITIALISED,
            f"{path} is missing: the data dir {where} is not fully initialised; {init}",
            EXIT_USAGE,
        ) from None
    except OSError as exc:
        raise CliError(
            ErrorCode.DATA_DIR_UNREADABLE,
            f"cannot read {path} ({exc.strerror or exc}); give the user running Charter ({_user()}) access to the "
            "data dir, or set CHARTER_HOME to one it can read",
            EXIT_USAGE,
        ) from None


def _read(path: Path) -> None:
    with path.open("rb") as fh:
        fh.read(1)


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "this user"


def port_free(host: str, port: int, *, setting: str, command: str) -> None:
    """The address is free to listen on (checked the way uvicorn binds, with SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise CliError(
                    ErrorCode.PORT_IN_USE,
                    f"port {port} on {host} is already in use (another `charter {command}`?); stop that process, "
                    f"or listen elsewhere: charter {command} --port {port + 10} (or {setting}={port + 10})",
                    EXIT_USAGE,
                ) from None
            raise CliError(
                ErrorCode.CANNOT_LISTEN,
                f"cannot listen on {host}:{port} ({exc.strerror or exc}); pick another address with --host/--port",
                EXIT_USAGE,
            ) from None


def single_sign_on(settings: Settings) -> None:
    """With CHARTER_OIDC_ISSUER set: the group table names real roles and authlib (`charter[oidc]`) is installed."""
    if not settings.oidc_issuer:
        return
    from charter.auth.oidc import parse_table

    try:
        parse_table(settings.oidc_group_table)
    except ValueError as exc:
        raise CliError(
            ErrorCode.INVALID_SETTING, f"{exc} (fix the environment variable or its key in charter.toml)", EXIT_USAGE
        ) from None
    try:
        import authlib  # noqa: F401
    except ModuleNotFoundError:
        raise CliError(
            ErrorCode.MISSING_EXTRA,
            "CHARTER_OIDC_ISSUER is set but authlib is not installed: pip install 'charter[oidc]'",
            EXIT_USAGE,
        ) from None
