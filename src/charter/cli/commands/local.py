"""Commands that run without a server: init, migrate, serve, gateway."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from charter.cli.commands.keys import load_join_file
from charter.cli.context import STATE
from charter.cli.output import console, emit
from charter.settings import Settings, public_url


def init(
    admin: Annotated[str, typer.Option(help="Name of the first admin user.")] = "admin",
    join: Annotated[
        Path | None,
        typer.Option("--join", help="Install the deployment's keys from a `charter export keys` file (scale-out)."),
    ] = None,
) -> None:
    """Create the data dir, database, signing keys and the first admin (prints its API key once)."""
    from charter import bootstrap  # the database stack loads only for the commands that use it

    settings = Settings()
    bundle = load_join_file(join) if join is not None else None
    result = bootstrap.init(settings, admin_name=admin, join=bundle)
    doc = {
        "home": str(result.home),
        "database": settings.resolved_database_url.split("@")[-1],
        "created_keys": result.created_keys,
        "joined": result.joined,
        "fingerprints": result.keys,
        "migrated": result.migrated,
        "admin": None if result.admin is None else {"name": admin, "principal": result.admin.principal},
        "key": None if result.admin is None else result.admin.key,
    }
    if result.admin is None:
        human = f"Charter data dir {result.home} is already initialised; nothing changed."
        if result.joined:
            human = f"Joined: the deployment's keys are in {result.home / 'keys'}; its database is already set up."
        if result.migrated:
            human += f" Applied migrations: {', '.join(result.migrated)}."
    else:
        human = (
            f"Initialised {result.home}.\n"
            f"Admin user: {admin}\nAdmin API key (shown once, store it now):\n\n  {result.admin.key}\n\n"
            f"export CHARTER_API_KEY={result.admin.key}"
        )
    emit(doc, human=human)


def migrate() -> None:
    """Apply pending database migrations."""
    from charter.storage import migrate as migrations
    from charter.storage.engine import make_engine

    settings = Settings()
    engine = make_engine(settings.resolved_database_url, search_path=settings.database_schema)
    try:
        todo = migrations.pending(engine)
        migrations.upgrade(engine)
    finally:
        engine.dispose()
    emit({"applied": todo}, human=f"Applied: {', '.join(todo)}" if todo else "Schema is up to date.")


def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default CHARTER_HOST or 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default CHARTER_PORT or 8400).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Run the API, dashboard, gateway and scheduler in one process."""
    _run("charter.server:create_app", host, port, workers, default_port=None)


def gateway(
    host: Annotated[str | None, typer.Option(help="Bind address.")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default CHARTER_GATEWAY_PORT or 8401).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
) -> None:
    """Run only the enforcement gateway (for scale-out)."""
    _run("charter.server:create_gateway_app", host, port, workers, default_port="gateway")


def _run(factory: str, host: str | None, port: int | None, workers: int, default_port: str | None) -> None:
    import uvicorn

    from charter import bootstrap
    from charter.cli import preflight
    from charter.cli.listener import DeadlineProtocol

    settings = Settings()
    gateway = default_port == "gateway"
    bind_port = port or (settings.gateway_port if gateway else settings.port)
    bind_host = host or settings.host
    # The app factory (in each worker) reads its settings from the environment: it must see where it listens, so
    # the public URL derived from them names this address.
    os.environ["CHARTER_HOST"] = bind_host
    os.environ["CHARTER_GATEWAY_PORT" if gateway else "CHARTER_PORT"] = str(bind_port)
    settings = Settings()
    preflight.data_dir(settings)
    preflight.port_free(
        bind_host,
        bind_port,
        setting="CHARTER_GATEWAY_PORT" if gateway else "CHARTER_PORT",
        command="gateway" if gateway else "serve",
    )
    bootstrap.check_keys(settings)
    if not gateway:
        preflight.single_sign_on(settings)
    public = public_url(settings, gateway=gateway)
    if not settings.public_url and bind_host in ("0.0.0.0", "::", ""):
        sys.stderr.write(
            f"warning: CHARTER_PUBLIC_URL is unset: license tokens and status lists will name {public}, which only "
            "this machine reaches; set CHARTER_PUBLIC_URL to the URL clients use (the load balancer's)\n"
        )
    if not STATE.json:
        console.print(f"Charter listening on http://{bind_host}:{bind_port} (public URL {public})", highlight=False)
    uvicorn.run(
        factory,
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=workers,
        log_level=settings.log_level,
        access_log=False,
        server_header=False,
        http=DeadlineProtocol,  # head and body deadlines, head size limit (charter.cli.listener)
        timeout_keep_alive=max(1, round(settings.keep_alive_s)),
        # X-Forwarded-For/-Proto are believed only from the proxies CHARTER_FORWARDED_ALLOW_IPS names: otherwise
        # any local process could pick its own client address (and dodge the per-address login rate limit).
        proxy_headers=settings.forwarded_allow_ips is not None,
        forwarded_allow_ips=settings.forwarded_allow_ips or "",
    )


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(migrate)
    app.command()(serve)
    app.command()(gateway)
