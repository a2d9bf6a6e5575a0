"""An agent on the official MCP SDK `Client`, calling the CRM tools through Charter as `app:support-bot`.

python agent.py                 # list, search, refund 120 (allowed), refund 900 (refused), delete (approval)
python agent.py --approval ID   # retry the delete with an approved approval: passes once
python agent.py --legacy        # the same on a legacy (initialize + session) revision
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError


async def call(client: Client, tool: str, args: dict[str, Any], meta: dict[str, Any] | None = None) -> None:
    try:
        result = await client.call_tool(tool, args, meta=meta)
        print(f"{tool}{args}: {result.content[0].text}")  # type: ignore[union-attr]
    except MCPError as exc:
        data = exc.error.data or {}
        print(f"{tool}{args}: REFUSED {data.get('reason')}: {exc.error.message}")


async def main(args: argparse.Namespace) -> None:
    url = os.environ.get("CHARTER_URL", "http://127.0.0.1:8400") + "/mcp/crm-tools"
    headers = {"Authorization": f"Bearer {os.environ['SUPPORT_BOT_KEY']}", "Charter-Purpose": "customer-support"}
    async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode="legacy" if args.legacy else "2026-07-28") as client:  # type: ignore[arg-type]
            if args.approval:
                await call(client, "delete_customer", {"customer": "ada"}, {"charter.dev/approval": args.approval})
                return
            print("tools:", sorted(t.name for t in (await client.list_tools()).tools))
            await call(client, "search_customers", {"query": "Ada"})
            await call(client, "refund", {"customer": "ada", "amount": 120})
            await call(client, "refund", {"customer": "ada", "amount": 900})
            await call(client, "delete_customer", {"customer": "ada"})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--approval")
    parser.add_argument("--legacy", action="store_true")
    asyncio.run(main(parser.parse_args()))
