"""Entry point: builds the Typer app from `charter.cli.commands.*` and maps every error to an exit code."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import typer
from pydantic import ValidationError
from typer._click import exceptions as click_exc

from charter.cli import commands
from charter.cli.context import STATE, take_global_flags
from charter.cli.errors import EXIT_USAGE, CliError, fail, settings_error
from charter.core.errors import CharterError, ErrorCode

HELP = """Charter: decide, prove and enforce which AI systems may run where.

Global options (anywhere on the line): --json, --url URL, --api-key KEY (or CHARTER_URL, CHARTER_API_KEY)."""


def build_app() -> typer.Typer:
    app = typer.Typer(
        help=HELP,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode=None,
    )
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; never prints a traceback for expected errors."""
    args = take_global_flags(list(sys.argv[1:] if argv is None else argv))
    app = build_app()
    try:
        result = app(args, prog_name="charter", standalone_mode=False)
    except CliError as exc:
        fail(exc, STATE.json)
    except CharterError as exc:
        fail(CliError.from_charter(exc), STATE.json)
    except ValidationError as exc:
        if exc.title != "Settings":  # the commands validate their own input and say so themselves
            raise
        fail(settings_error(exc), STATE.json)
    except click_exc.NoArgsIsHelpError as exc:
        if exc.ctx is not None:
            sys.stderr.write(exc.ctx.get_help() + "\n")
        sys.exit(EXIT_USAGE)
    except click_exc.UsageError as exc:
        hint = f" (see: {exc.ctx.command_path} --help)" if exc.ctx else ""
        fail(CliError(ErrorCode.USAGE, exc.format_message() + hint, EXIT_USAGE), STATE.json)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("aborted\n")
        sys.exit(130)
    except click_exc.ClickException as exc:
        fail(CliError(ErrorCode.USAGE, exc.format_message(), EXIT_USAGE), STATE.json)
    sys.exit(result if isinstance(result, int) else 0)
