"""An MCP server built with the official `mcp` SDK: three CRM tools (search_customers, refund, delete_customer), a
prompt and a resource, over Streamable HTTP. `python crm_server.py PORT [json]` serves it at
http://127.0.0.1:PORT/mcp (`json`: JSON answers instead of SSE). Charter's MCP tests run this file too."""

from __future__ import annotations

import os
import sys

import uvicorn
from mcp.server.mcpserver import MCPServer


def _ran(tool: str) -> None:
    """Record that a tool ran (MCP_CALL_LOG), so tests can tell a refused call never reached the server."""
    path = os.environ.get("MCP_CALL_LOG")
    if path:
        with open(path, "a") as f:
            f.write(tool + "\n")


def build() -> MCPServer:
    server = MCPServer("crm")

    @server.tool()
    def search_customers(query: str) -> str:
        """Find customers by name."""
        _ran("search_customers")
        return f"found 1 customer matching {query}"

    @server.tool()
    def refund(customer: str, amount: float) -> str:
        """Refund a customer."""
        _ran("refund")
        return f"refunded {amount:.2f} to {customer}"

    @server.tool()
    def delete_customer(customer: str) -> str:
        """Delete a customer record."""
        _ran("delete_customer")
        return f"deleted {customer}"

    @server.prompt()
    def greeting(name: str) -> str:
        return f"Hello {name}"

    @server.resource("crm://policy")
    def policy() -> str:
        return "refunds up to 500"

    return server


def main() -> None:
    port = int(sys.argv[1])
    json_response = len(sys.argv) > 2 and sys.argv[2] == "json"
    app = build().streamable_http_app(json_response=json_response)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


if __name__ == "__main__":
    main()
