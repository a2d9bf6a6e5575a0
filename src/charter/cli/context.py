"""Global CLI state: output mode and how to reach the API."""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class CliState:
    json: bool = False
    url: str | None = None
    api_key: str | None = None

    @property
    def base_url(self) -> str:
        return (self.url or os.environ.get("CHARTER_URL") or default_url()).rstrip("/")

    @property
    def key(self) -> str | None:
        return self.api_key or os.environ.get("CHARTER_API_KEY")


def default_url() -> str:
    """Where `charter serve` listens when nothing else is said: loopback on CHARTER_PORT (8400)."""
    port = os.environ.get("CHARTER_PORT", "").strip()
    return f"http://127.0.0.1:{port if port.isdigit() else 8400}"


STATE = CliState()


def take_global_flags(argv: list[str]) -> list[str]:
    """Accept --json, --url and --api-key anywhere on the command line (as `gh` does)."""
    out: list[str] = []
    it = iter(range(len(argv)))
    skip = False
    for i in it:
        if skip:
            skip = False
            continue
        arg = argv[i]
        if arg == "--json":
            STATE.json = True
        elif arg in ("--url", "--api-key") and i + 1 < len(argv):
            setattr(STATE, "url" if arg == "--url" else "api_key", argv[i + 1])
            skip = True
        elif arg.startswith("--url="):
            STATE.url = arg.split("=", 1)[1]
        elif arg.startswith("--api-key="):
            STATE.api_key = arg.split("=", 1)[1]
        else:
            out.append(arg)
    return out
