"""A real `charter serve` (or `charter gateway`) subprocess on a free loopback port."""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

# Every server process a test started, so none outlives the test process (see _kill_leftovers).
_RUNNING: set[subprocess.Popen[bytes]] = set()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, env: Mapping[str, str], *, command: str = "serve", log: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, **env}
        self.command = command
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> Server:
        out = self.log_path.open("ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "charter", self.command, "--port", str(self.port)],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
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


def cli(env: Mapping[str, str], *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run `charter ARGS` in a subprocess and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "charter", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        input=input,
        timeout=120,
    )
