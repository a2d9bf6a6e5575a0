"""A real `charter serve` (or `charter gateway`) subprocess on a free loopback port, and the `charter` CLI: in a
subprocess (`cli`) or in this process (`cli_in_process`, the same `main()` without paying Python's start-up and
Charter's imports for each call)."""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx

from tests.support.zygote import Forked, exit_status, zygote

# Every server process a test started, so none outlives the test process (see _kill_leftovers).
_RUNNING: set[subprocess.Popen[bytes] | Forked] = set()


# Ports for servers a test starts by number come from a block of this worker's own, below the kernel's ephemeral range
# (32768+, where connections and port-0 listeners get theirs): a port found free here cannot be handed to another
# xdist worker, or to a client socket, between the check and the server's bind (two flaky failures came from that).
_PORT_BLOCK = 600
_PORT_BASE = 20000


def _port_candidates() -> Iterator[int]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
    first = _PORT_BASE + (int(worker) if worker.isdigit() else 0) % 20 * _PORT_BLOCK
    offset = os.getpid() % _PORT_BLOCK  # a worker restarted by xdist starts elsewhere in its block
    while True:
        offset = (offset + 1) % _PORT_BLOCK
        yield first + offset


_PORTS = _port_candidates()
_PORTS_LOCK = threading.Lock()


def free_port() -> int:
    """A loopback port no other test process is handed and nothing listens on now."""
    with _PORTS_LOCK:
        for _ in range(_PORT_BLOCK):
            port = next(_PORTS)
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError(f"no free port in this worker's block of {_PORT_BLOCK}")


# CHARTER_TEST_NO_ZYGOTE=1: every server and `cli` call a real `python -m charter` subprocess, e.g. to compare.
_FRESH = os.environ.get("CHARTER_TEST_NO_ZYGOTE") == "1"


class Server:
    """`charter serve|gateway --port N`: forked from this test process's warm zygote (tests/support/zygote.py), the
    same `main()` without the imports; `fresh=True` for a real `python -m charter` subprocess, for the tests about
    how the process starts."""

    def __init__(
        self, env: Mapping[str, str], *, command: str = "serve", log: Path | None = None, fresh: bool = False
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.command = command
        self.log_path = log
        self.fresh = fresh or _FRESH
        self.proc: subprocess.Popen[bytes] | Forked | None = None

    def start(self, timeout: float = 90.0) -> Server:
        argv = [self.command, "--port", str(self.port)]
        if self.fresh:
            out = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "charter", *argv], env=self.env, stdout=out, stderr=subprocess.STDOUT
            )
        else:
            self.proc = zygote().fork(argv, self.env, Path.cwd(), self.log_path)
        _RUNNING.add(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"charter {self.command} exited with {self.proc.returncode}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.kill()  # never leave a half-started server behind: it would load every later test
        raise RuntimeError(f"charter {self.command} did not become healthy in {timeout}s")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@atexit.register
def _kill_leftovers() -> None:
    """A test that failed before stopping its server must not leave it running after the test process ends."""
    for proc in list(_RUNNING):
        if proc.poll() is None:
            proc.kill()


def cli(
    env: Mapping[str, str], *args: str, input: str | None = None, fresh: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run `charter ARGS` in another process and capture its output: forked from the warm zygote (the CLI's own
    `main()` in a process of its own: its exit code, streams and environment) or, with `fresh=True`, a real
    `python -m charter` subprocess."""
    full_env = {**os.environ, **env}
    if fresh or _FRESH:
        return subprocess.run(
            [sys.executable, "-m", "charter", *args],
            env=full_env,
            capture_output=True,
            text=True,
            input=input,
            timeout=120,
        )
    with tempfile.TemporaryDirectory(prefix="charter-cli.") as tmp:
        io_dir = Path(tmp)
        stdin = io_dir / "stdin"
        stdin.write_text(input or "")
        proc = zygote().fork(list(args), full_env, Path.cwd(), io_dir / "stdout", stdin=stdin, stderr=io_dir / "stderr")
        try:
            code = proc.wait(120)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
        out = (io_dir / "stdout").read_text() if (io_dir / "stdout").exists() else ""
        err = (io_dir / "stderr").read_text() if (io_dir / "stderr").exists() else ""
    return subprocess.CompletedProcess([sys.executable, "-m", "charter", *args], code, out, err)


_IN_PROCESS = threading.Lock()


@contextlib.contextmanager
def _environment(env: Mapping[str, str], cwd: Path | None) -> Iterator[None]:
    saved, here = dict(os.environ), Path.cwd()
    os.environ.update(env)
    if cwd is not None:
        os.chdir(cwd)
    try:
        yield
    finally:
        os.chdir(here)
        os.environ.clear()
        os.environ.update(saved)


def cli_in_process(
    env: Mapping[str, str], *args: str, input: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """`charter ARGS` through the CLI's own `main()` in this process, as `cli` runs it in a subprocess: the same
    environment (os.environ plus `env`), working directory, stdin, captured stdout/stderr and exit code; an uncaught
    exception is a traceback on stderr and exit code 1, as in a process. Keep at least one `cli` (real subprocess)
    test per command surface; use this for the many calls that check what a command does, not how it starts."""
    from charter.cli import context, output
    from charter.cli.main import main

    out_bytes, err_bytes = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_bytes, encoding="utf-8", write_through=True)
    err = io.TextIOWrapper(err_bytes, encoding="utf-8", write_through=True)
    stdin = io.TextIOWrapper(io.BytesIO((input or "").encode()), encoding="utf-8")
    code: int
    with _IN_PROCESS, _environment(env, cwd):
        # The CLI's process-wide state is this call's alone: restored afterwards, so a `--json` call does not turn
        # the next test's human output into JSON in the same worker.
        state = context.STATE.json, context.STATE.url, context.STATE.api_key
        widths = [console.width for console in (output.console, output.err_console)]
        context.STATE.json, context.STATE.url, context.STATE.api_key = False, None, None
        columns = os.environ.get("COLUMNS", "")
        for console in (output.console, output.err_console):
            console.width = int(columns) if columns.isdigit() else 80  # what a process without a terminal gets
        saved = sys.stdin, sys.stdout, sys.stderr
        sys.stdin, sys.stdout, sys.stderr = stdin, out, err
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default")  # as in a process: printed, not raised as pytest's filter would
                main(list(args))
            code = 0
        except SystemExit as exc:
            code = exit_status(exc, err)
        except Exception:  # a process would print the traceback and exit 1
            err.write(traceback.format_exc())
            code = 1
        finally:
            sys.stdin, sys.stdout, sys.stderr = saved
            context.STATE.json, context.STATE.url, context.STATE.api_key = state
            for console, width in zip((output.console, output.err_console), widths, strict=True):
                console.width = width
            out.flush()
            err.flush()
    return subprocess.CompletedProcess(
        ["charter", *args], code, out_bytes.getvalue().decode(), err_bytes.getvalue().decode()
    )
