"""The world the MCP tests use: an MCP server from the official SDK (three CRM tools) on loopback, `charter serve`
in front of it with two `mcp` deployments (`crm-tools`: search and refund ≤ 500; `crm-admin`: delete_customer after
a reviewer's approval) under one agent system's license, a second licensed agent (for suspension and for another
agent's sessions), a reviewer's key, and the official SDK `Client` as the agent."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from charter import bootstrap
from charter.auth import service as auth_service
from charter.auth.model import SYSTEM_ACTOR
from charter.auth.schemas import KeyCreate, RoleGrant, UserCreate
from charter.settings import Settings
from tests.conftest import bearer
from tests.support.db import Templates, admin_key, copied_init, env_for, settings_for
from tests.support.gateway_fake.world import licensed
from tests.support.server import Server, cli, free_port

PURPOSE = "customer-support"
TOOLS = ("crm-tools:search_customers", "crm-tools:refund", "crm-admin:*", "crm-watch:*")
MAX_ANSWER = 32 << 10  # CHARTER_MAX_ANSWER_BYTES of the gateway in front (a search echoing a long query exceeds it)


@dataclass
class World:
    settings: Settings
    env: dict[str, str]  # CLI environment as the admin
    url: str  # charter serve
    upstream: str  # the MCP server's endpoint
    license_id: str
    agent_key: str
    other_license_id: str
    other_key: str
    reviewer_key: str
    admin_key: str
    call_log: Path

    def ran(self) -> list[str]:
        """The tools the MCP server ran, in order."""
        return self.call_log.read_text().split() if self.call_log.exists() else []

    def mcp_url(self, deployment: str) -> str:
        return f"{self.url}/mcp/{deployment}"

    def headers(self, key: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {key or self.agent_key}", "Charter-Purpose": PURPOSE}


def _wait_port(url: str, proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the MCP server exited")
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.05)
    raise RuntimeError("the MCP server did not start")


# The worked example's own server (docs/agents.md): the tests run what the docs tell agent developers to run.
CRM_SERVER = Path(__file__).resolve().parents[2] / "examples" / "mcp-agent" / "crm_server.py"


@contextmanager
def mcp_server(json_response: bool = False, call_log: Path | None = None) -> Iterator[str]:
    port = free_port()
    args = [sys.executable, str(CRM_SERVER), str(port)] + (["json"] if json_response else [])
    env = {**os.environ, "MCP_CALL_LOG": str(call_log)} if call_log else None
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        _wait_port(url, proc)
        yield url
    finally:
        proc.kill()
        proc.wait(10)


@contextmanager
def world(templates: Templates, home: Path) -> Iterator[World]:
    with settings_for("sqlite", home / "home", template=templates.get("sqlite")) as settings:
        init = copied_init(templates.get("sqlite"), settings.home)
        c = bootstrap.build(settings)
        try:
            main = licensed(
                c,
                system="crm-agent",
                tools=TOOLS,
                purpose=PURPOSE,
                app="support-bot",
                tool_conditions=["crm-tools:refund => args.amount <= 500"],
                approvals=["crm-admin:delete_customer => role:reviewer"],
            )
            other = licensed(c, system="crm-agent-2", tools=("crm-watch:*",), purpose=PURPOSE, app="watch-bot")
            with c.uow() as uow:
                auth_service.add_user(uow, SYSTEM_ACTOR, UserCreate(name="tess"))
            with c.uow() as uow:
                grant = RoleGrant(principal="tess", role="reviewer", function="security")
                auth_service.grant_role(uow, SYSTEM_ACTOR, grant)
            with c.uow() as uow:
                reviewer = auth_service.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal="tess")).key
        finally:
            c.close()
        env = env_for(settings)
        with mcp_server(call_log=home / "calls.log") as upstream:
            server = Server({**env, "CHARTER_MAX_ANSWER_BYTES": str(MAX_ANSWER)}, log=home / "serve.log")
            server.start(timeout=90)
            try:
                admin_env = {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": admin_key(init)}
                r = cli(admin_env, "deployment", "add", "crm-tools", "--kind", "mcp", "--model", main.model,
                        "--upstream", upstream, "--json")  # fmt: skip
                assert r.returncode == 0, r.stdout + r.stderr
                for name, model in (("crm-admin", main.model), ("crm-watch", other.model)):
                    body = {"name": name, "kind": "mcp", "model": model, "upstream": upstream}
                    resp = httpx.post(f"{server.url}/api/v1/deployments", json=body, headers=bearer(admin_key(init)))
                    assert resp.status_code == 201, resp.text
                yield World(
                    settings, admin_env, server.url, upstream, main.license_id, main.app_key, other.license_id,
                    other.app_key, reviewer, admin_key(init), home / "calls.log",
                )  # fmt: skip
            finally:
                server.stop()


@asynccontextmanager
async def agent(url: str, headers: dict[str, str], mode: str) -> AsyncIterator[Client]:
    """The official SDK client as an agent, its Charter key and purpose on every request."""
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        async with Client(streamable_http_client(url, http_client=http), mode=mode) as client:
            yield client
