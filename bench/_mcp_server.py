"""The MCP server the MCP benchmark calls: the official `mcp` SDK (`MCPServer`), one `echo` tool, JSON responses,
served by uvicorn. `python bench/_mcp_server.py PORT`."""

from __future__ import annotations

import sys
from pathlib import Path

# bench/mcp.py would shadow the `mcp` package: import it from site-packages, not from this directory.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import uvicorn  # noqa: E402
from mcp.server.mcpserver import MCPServer  # noqa: E402

server = MCPServer("bench")


@server.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


if __name__ == "__main__":
    app = server.streamable_http_app(json_response=True)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
