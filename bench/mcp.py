"""MCP benchmark: a `tools/call` straight to an MCP server (official `mcp` SDK) vs the same call through Charter's
`/mcp/{deployment}` (agent key, license scope, argument condition, durable audit entry), in one run.

Concurrency 1, keep-alive connections, 2026-07-28 revision (routing headers, JSON responses). Direct and Charter
calls alternate, so both see the same machine load; prints p50/p99 of each and what Charter adds. A third target,
the same server behind a plain `/gw` deployment (same hop, key, license and durable audit; no MCP parsing or tool
checks), separates what the MCP checks cost from what the gateway's hop and audit commit cost.

    .venv/bin/python bench/mcp.py [--calls 2000] [--warmup 300]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).parent))
import _setup
from gateway import free_port, start, stop, wait_http, wait_port

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
META = {"io.modelcontextprotocol/protocolVersion": "2026-07-28", "io.modelcontextprotocol/clientCapabilities": {}}


def body(i: int) -> bytes:
    params = {"name": "echo", "arguments": {"text": f"hello {i}"}, "_meta": META}
    return json.dumps({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": params}).encode()


HEADERS = {
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
    "MCP-Protocol-Version": "2026-07-28",
    "Mcp-Method": "tools/call",
    "Mcp-Name": "echo",
}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(direct: str, charter: str, plain: str, key: str, calls: int, warmup: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"direct": [], "charter": [], "gw": []}
    governed = {**HEADERS, "Authorization": f"Bearer {key}", "Charter-Purpose": "credit-scoring"}
    targets = (("direct", direct, HEADERS), ("charter", charter, governed), ("gw", plain, governed))
    conn = aiohttp.TCPConnector(limit=3)
    async with aiohttp.ClientSession(connector=conn) as session:
        for i in range(warmup + calls):
            for name, url, headers in targets:
                t0 = time.perf_counter()
                async with session.post(url, data=body(i), headers=headers) as resp:
                    payload = await resp.read()
                elapsed = time.perf_counter() - t0
                if resp.status != 200 or b'"isError":false' not in payload.replace(b" ", b""):
                    raise RuntimeError(f"{name}: {resp.status} {payload[:300]!r}")
                if i >= warmup:
                    out[name].append(elapsed * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=300)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="charter-bench-mcp-"))
    procs: list[subprocess.Popen[bytes] | None] = []
    try:
        port = free_port()
        mcp_server = start([PY, str(ROOT / "bench" / "_mcp_server.py"), str(port)], log=work / "mcp.log")
        procs.append(mcp_server)
        wait_port(port, 60, mcp_server)
        upstream = f"http://127.0.0.1:{port}/mcp"
        home = work / "home"
        env = {"CHARTER_HOME": str(home), "CHARTER_LOG_LEVEL": "warning"}
        print(f"setting up Charter in {home} …", flush=True)
        # The license lets app:loan-portal call every tool of `crm`, echo only with short texts.
        # `credit-raw` (kind http) forwards /gw/credit-raw/mcp to the same server.
        key = _setup.licensed_deployment(
            env,
            f"http://127.0.0.1:{port}",
            work,
            tools=("crm:*",),
            tool_conditions=["crm:echo => size(args.text) < 100"],
        )
        os.environ.update(env)
        from charter import bootstrap
        from charter.auth.model import SYSTEM_ACTOR
        from charter.deployments import service
        from charter.deployments.schemas import DeploymentCreate
        from charter.settings import Settings

        c = bootstrap.build(Settings())
        try:
            with c.uow() as uow:
                dep = DeploymentCreate(name="crm", model="credit@1.0", upstream=upstream, kind="mcp")
                service.add(uow, SYSTEM_ACTOR, dep, allow=c.settings.upstream_allowlist)
        finally:
            c.close()
        gw_port = free_port()
        gateway = f"http://127.0.0.1:{gw_port}"
        gw = start([PY, "-m", "charter", "gateway", "--port", str(gw_port)], env, work / "gateway.log")
        procs.append(gw)
        wait_http(gateway + "/healthz", 60, gw)
        print(f"{args.calls} tools/call each way at concurrency 1 (after {args.warmup} warm-up) …", flush=True)
        plain = gateway + "/gw/credit-raw/mcp"
        times = asyncio.run(run(upstream, gateway + "/mcp/crm", plain, key, args.calls, args.warmup))
        d = times["direct"]
        for name, label in (("direct", "direct"), ("charter", "/mcp/crm"), ("gw", "/gw plain")):
            v = times[name]
            print(f"  {label:10} p50 {statistics.median(v):6.2f} ms   p99 {pct(v, 99):6.2f} ms")
        for name, label in (("charter", "/mcp/crm"), ("gw", "/gw plain")):
            v = times[name]
            added50, added99 = statistics.median(v) - statistics.median(d), pct(v, 99) - pct(d, 99)
            print(f"  added by {label:10} p50 {added50:6.2f} ms   p99 {added99:6.2f} ms")
        print("  targets for /mcp: added p50 ≤ 1 ms, p99 ≤ 3 ms")
    finally:
        for p in reversed(procs):
            stop(p)


if __name__ == "__main__":
    main()
