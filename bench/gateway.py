"""Gateway benchmark: direct upstream vs a bare uvicorn+aiohttp proxy vs Charter gateway (durable audit) vs nginx
alone vs nginx asking Charter (`auth_request` → /authz/nginx, durable audit) vs LiteLLM proxy, in one run.

Each target gets the same bounded load on loopback (wrk when installed, else an aiohttp client) against the same
fast OpenAI-shaped upstream (`bench/_upstream.py`): throughput at --concurrency, then latency at concurrency 1.
Prints req/s, p50/p99 and the latency each proxy adds over calling the upstream directly, and the ratios; CPU per
request is summed over every process of a target (a server and its worker processes; for nginx + Charter, both).
LiteLLM is installed by this script into bench/.venvs/litellm, pinned to litellm[proxy]==1.106.2.

    .venv/bin/python bench/gateway.py [--seconds 10] [--concurrency 32] [--skip-litellm]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import _load
import _setup

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
LITELLM_SPEC = "litellm[proxy]==1.106.2"  # pinned: 1.107.0 was a compromised release
LITELLM_VENV = ROOT / "bench" / ".venvs" / "litellm"
BODY = json.dumps(
    {"model": "credit-prod", "messages": [{"role": "user", "content": "Score applicant 42: income 52000, debt 9000"}]}
).encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.2)
    raise RuntimeError(f"{url} not up after {timeout}s")


def wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"port {port}: process exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"port {port} not listening after {timeout}s")


def start(cmd: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> subprocess.Popen[bytes]:
    out = log.open("wb") if log else subprocess.DEVNULL
    return subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)


def stop(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def litellm_binary() -> tuple[Path | None, str]:
    """Create bench/.venvs/litellm with the pinned LiteLLM; (path to `litellm`, note)."""
    exe = LITELLM_VENV / "bin" / "litellm"
    marker = LITELLM_VENV / ".installed"
    if exe.exists() and marker.exists() and marker.read_text().strip() == LITELLM_SPEC:
        return exe, "cached venv"
    try:
        if not (LITELLM_VENV / "bin" / "python").exists():
            subprocess.run([PY, "-m", "venv", str(LITELLM_VENV)], check=True, capture_output=True)
        pip = [str(LITELLM_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, LITELLM_SPEC], check=True, capture_output=True, text=True, timeout=1200)
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-3:]
        return None, f"pip install {LITELLM_SPEC} failed: {' | '.join(tail)}"
    except subprocess.TimeoutExpired:
        return None, f"pip install {LITELLM_SPEC} timed out"
    marker.write_text(LITELLM_SPEC)
    return exe, "installed"


def start_litellm(upstream: str, work: Path, master_key: str) -> tuple[subprocess.Popen[bytes] | None, str, str]:
    exe, note = litellm_binary()
    if exe is None:
        return None, "", note
    config = work / "litellm.yaml"
    config.write_text(
        "model_list:\n"
        "  - model_name: credit-prod\n"
        "    litellm_params:\n"
        "      model: openai/credit-prod\n"
        f"      api_base: {upstream}/v1\n"
        "      api_key: sk-bench\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
        "general_settings:\n"
        f"  master_key: {master_key}\n"
    )
    port = free_port()
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False", "LITELLM_LOG": "ERROR"}
    proc = start(
        [str(exe), "--config", str(config), "--port", str(port), "--num_workers", "1"], env, work / "litellm.log"
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/health/liveliness", 180, proc)
    except RuntimeError as exc:
        stop(proc)
        log = (work / "litellm.log").read_text(errors="replace").strip().splitlines()[-3:]
        return None, "", f"LiteLLM did not start ({exc}): {' | '.join(log)}"
    return proc, url, note


def audit_count(home: Path) -> int:
    with sqlite3.connect(home / "charter.db") as db:
        return int(db.execute("SELECT count(*) FROM audit_entries WHERE action LIKE 'inference.%'").fetchone()[0])


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _tree(root: int) -> list[int]:
    """`root` and every live descendant (worker processes), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))  # fields[1] is the parent pid
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


def cpu_seconds(*roots: int) -> float:
    """User + system CPU time of each root process, its live descendants and their waited-for children."""
    ticks = 0
    for root in roots:
        for pid in _tree(root):
            fields = _stat(pid)
            if fields is None:
                if pid == root:
                    return float("nan")
                continue
            ticks += sum(int(x) for x in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(
    name: str, url: str, headers: dict[str, str], args: argparse.Namespace, *pids: int
) -> dict[str, _load.Result]:
    _load.run(url, headers, BODY, 4, 1)  # warm up connections and caches
    cpu0 = cpu_seconds(*pids) if pids else float("nan")
    out = {"load": _load.run(url, headers, BODY, args.concurrency, args.seconds)}
    cpu = (cpu_seconds(*pids) - cpu0) if pids else float("nan")
    out["c1"] = _load.run(url, headers, BODY, 1, args.latency_seconds)
    for label, r in out.items():
        print(
            f"  {name:8s} {label:4s} c={r.concurrency:<3d} {r.rps:9.0f} req/s  p50 {r.p50_ms:7.3f} ms  "
            f"p99 {r.p99_ms:8.3f} ms  errors {r.errors}  ({r.requests} requests, {r.tool})",
            flush=True,
        )
    if cpu == cpu and cpu > 0:  # not NaN
        r = out["load"]
        out["load"].cpu_per_request_us = cpu / max(r.requests, 1) * 1e6
        print(
            f"  {name:8s} CPU {cpu:.2f} s of its process for {r.requests} requests: "
            f"{out['load'].cpu_per_request_us:.0f} µs/request → {1e6 / out['load'].cpu_per_request_us:.0f} "
            "req per CPU-second (all its processes)",
            flush=True,
        )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=10, help="Duration of the throughput run per target.")
    parser.add_argument("--latency-seconds", type=float, default=5, help="Duration of the concurrency-1 run.")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="Charter gateway worker processes.")
    parser.add_argument("--skip-litellm", action="store_true")
    parser.add_argument("--skip-nginx", action="store_true")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="charter-bench-"))
    procs: list[subprocess.Popen[bytes] | None] = []
    try:
        up_port = free_port()
        upstream = f"http://127.0.0.1:{up_port}"
        procs.append(start([PY, str(ROOT / "bench" / "_upstream.py"), str(up_port)], log=work / "upstream.log"))
        time.sleep(0.5)
        home = work / "home"
        env = {"CHARTER_HOME": str(home), "CHARTER_LOG_LEVEL": "warning"}
        print(f"setting up Charter in {home} …", flush=True)
        app_key = _setup.licensed_deployment(env, upstream, work)
        gw_port = free_port()
        gateway = f"http://127.0.0.1:{gw_port}"
        gw = start(
            [PY, "-m", "charter", "gateway", "--port", str(gw_port), "--workers", str(args.workers)],
            env,
            work / "gateway.log",
        )
        procs.append(gw)
        wait_http(gateway + "/healthz", 60, gw)

        print(
            f"\nload: {args.concurrency} connections for {args.seconds:g}s, then 1 connection for "
            f"{args.latency_seconds:g}s; tool: {'wrk' if shutil.which('wrk') else 'aiohttp'}; "
            f"cores: {os.cpu_count()}; load average before: {os.getloadavg()[0]:.2f}",
            flush=True,
        )
        results: dict[str, dict[str, _load.Result]] = {}
        plain = {"Content-Type": "application/json"}
        results["direct"] = measure("direct", upstream + "/v1/chat/completions", plain, args, procs[0].pid)
        bare_port = free_port()
        bare = start([PY, str(ROOT / "bench" / "_bare_proxy.py"), str(bare_port), upstream], log=work / "bare.log")
        procs.append(bare)
        wait_port(bare_port, 30, bare)
        results["bare"] = measure("bare", f"http://127.0.0.1:{bare_port}/v1/chat/completions", plain, args, bare.pid)
        stop(bare)
        before = audit_count(home)
        charter_headers = {**plain, "Authorization": f"Bearer {app_key}", "Charter-Purpose": "credit-scoring"}
        results["charter"] = measure("charter", gateway + "/v1/chat/completions", charter_headers, args, gw.pid)
        answered = sum(r.requests - r.errors for r in results["charter"].values())
        written = audit_count(home) - before
        print(
            f"  charter audit entries written during the run: {written} (answered 2xx: {answered}; warm-up adds a few)",
            flush=True,
        )
        if not args.skip_nginx:
            results.update(measure_nginx(work, upstream, gateway, gw.pid, app_key, home, args))
        lite_note = "skipped (--skip-litellm)"
        if not args.skip_litellm:
            print(f"preparing LiteLLM ({LITELLM_SPEC}) …", flush=True)
            master = "sk-" + os.urandom(24).hex()  # LiteLLM refuses to start without a strong master key
            lite, lite_url, lite_note = start_litellm(upstream, work, master)
            procs.append(lite)
            if lite is not None:
                lite_headers = {**plain, "Authorization": f"Bearer {master}"}
                url = lite_url + "/v1/chat/completions"
                results["litellm"] = measure("litellm", url, lite_headers, args, lite.pid)
                stop(lite)
        report(results, lite_note)
    finally:
        for proc in reversed(procs):
            stop(proc)
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"kept {work}")


NGINX_CONF = """
daemon off;
master_process off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  upstream model {{ server {upstream}; keepalive 64; }}
  upstream charter {{ server {charter}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location /alone/ {{
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://model/;
    }}
    location /governed/ {{
      auth_request /_charter;
      auth_request_set $charter_decision $upstream_http_charter_decision_id;
      proxy_set_header Charter-Decision-Id $charter_decision;
      proxy_set_header Authorization "";
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://model/;
    }}
    location = /_charter {{
      internal;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_pass http://charter/authz/nginx;
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header Charter-Deployment credit-raw;
    }}
  }}
}}
"""


def measure_nginx(
    work: Path, upstream: str, gateway: str, gw_pid: int, app_key: str, home: Path, args: argparse.Namespace
) -> dict[str, dict[str, _load.Result]]:
    """nginx alone in front of the upstream, then nginx asking Charter (auth_request) for each call."""
    binary = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(binary).exists():
        print("  nginx: not installed (scripts/setup-packages installs Debian's) — skipped", flush=True)
        return {}
    root = work / "nginx"
    root.mkdir()
    port = free_port()
    conf = NGINX_CONF.format(
        dir=root, port=port, upstream=upstream.removeprefix("http://"), charter=gateway.removeprefix("http://")
    )
    (root / "nginx.conf").write_text(conf)
    proc = start([binary, "-p", str(root), "-c", str(root / "nginx.conf"), "-e", str(root / "error.log")])
    try:
        wait_port(port, 20, proc)
        plain = {"Content-Type": "application/json"}
        base = f"http://127.0.0.1:{port}"
        out = {"nginx": measure("nginx", base + "/alone/v1/chat/completions", plain, args, proc.pid)}
        headers = {**plain, "Authorization": f"Bearer {app_key}", "Charter-Purpose": "credit-scoring"}
        before = audit_count(home)
        out["nginx+ch"] = measure("nginx+ch", base + "/governed/v1/chat/completions", headers, args, proc.pid, gw_pid)
        answered = sum(r.requests - r.errors for r in out["nginx+ch"].values())
        print(
            f"  nginx+charter audit entries written during the run: {audit_count(home) - before} "
            f"(answered 2xx: {answered}; warm-up adds a few)",
            flush=True,
        )
        return out
    finally:
        stop(proc)


def report(results: dict[str, dict[str, _load.Result]], lite_note: str) -> None:
    direct = results["direct"]
    print("\n== summary (added latency = proxy minus direct, concurrency 1)")
    print(f"{'target':10s} {'req/s':>9s} {'p50 c=1':>9s} {'p99 c=1':>9s} {'+p50':>8s} {'+p99':>8s}")
    for name, r in results.items():
        add50 = r["c1"].p50_ms - direct["c1"].p50_ms
        add99 = r["c1"].p99_ms - direct["c1"].p99_ms
        print(
            f"{name:10s} {r['load'].rps:9.0f} {r['c1'].p50_ms:8.3f}ms {r['c1'].p99_ms:8.3f}ms "
            f"{add50:+7.3f}ms {add99:+7.3f}ms"
        )
    charter = results["charter"]
    print(f"charter / direct throughput: {charter['load'].rps / direct['load'].rps:.2f}")
    if "bare" in results:
        bare = results["bare"]
        print(
            f"charter / bare uvicorn+aiohttp proxy: throughput {charter['load'].rps / bare['load'].rps:.2f}, "
            f"CPU per request {charter['load'].cpu_per_request_us:.0f} vs {bare['load'].cpu_per_request_us:.0f} µs "
            "(what license checks and durable audit add to the floor)"
        )
    if "nginx+ch" in results:
        ngx, gov = results["nginx"], results["nginx+ch"]
        print(
            f"nginx + charter authz / charter's own proxy: throughput {gov['load'].rps / charter['load'].rps:.2f}x, "
            f"CPU per request {gov['load'].cpu_per_request_us:.0f} vs {charter['load'].cpu_per_request_us:.0f} µs; "
            f"added p50 over nginx alone at c=1: {gov['c1'].p50_ms - ngx['c1'].p50_ms:+.3f} ms"
        )
    if "litellm" in results:
        lite = results["litellm"]
        print(f"charter / litellm throughput: {charter['load'].rps / max(lite['load'].rps, 1e-9):.1f}x")
        c_cpu, l_cpu = charter["load"].cpu_per_request_us, lite["load"].cpu_per_request_us
        if c_cpu and l_cpu:
            print(f"litellm / charter CPU per request: {l_cpu / c_cpu:.1f}x")
        add_c = charter["c1"].p99_ms - direct["c1"].p99_ms
        add_l = lite["c1"].p99_ms - direct["c1"].p99_ms
        print(f"litellm added p99 / charter added p99: {add_l / max(add_c, 1e-3):.1f}x")
    else:
        print(f"litellm: not measured — {lite_note}")
    print(
        "targets: ≥ 4,000 req/s per gateway worker with durable audit; added p99 ≤ 3 ms at c=1; ≥ 30× LiteLLM; "
        "nginx + charter authz ≥ 2× charter's own proxy, ≤ 1 ms added p50 over nginx alone"
    )


if __name__ == "__main__":
    main()
