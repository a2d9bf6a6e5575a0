"""SIGKILL `charter serve` and `charter gateway` at random points under inference and governance load.

After the restarts every inference that got an answer and every governance change that got a 201 is in the audit
log, the log verifies (deep), and `charter audit verify` agrees. `bench/soak.py --scenario crash` does 20 kills.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from charter.settings import Settings
from tests.reliability import stack
from tests.support.db import env_for
from tests.support.gateway_fake import FakeUpstream
from tests.support.server import Server, cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]


@dataclass
class Governance:
    """Creates teams through the API in a loop; remembers the ones acknowledged with 201."""

    urls: list[str]
    admin_key: str
    acked: list[str] = field(default_factory=list)
    tried: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Governance:
        self._thread = threading.Thread(target=self._run, name="governance", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)

    def _run(self) -> None:
        with httpx.Client(headers=stack.bearer(self.admin_key), timeout=30) as client:
            while not self._stop.is_set():
                self.tried += 1
                name = f"team-{self.tried}"
                try:
                    r = client.post(self.urls[0] + "/api/v1/teams", json={"name": name})
                except httpx.TransportError:
                    self._stop.wait(0.05)
                    continue
                if r.status_code == 201:
                    self.acked.append(name)
                self._stop.wait(0.02)


def run_crashes(
    settings: Settings, tmp: Path, *, kills: int, seed: int, concurrency: int = 8
) -> dict[str, int | float]:
    """The scenario, shared with the soak: returns the figures it measured; asserts nothing was lost."""
    rng = random.Random(seed)
    world = stack.make_world(settings, {"credit": "minimal"})
    env = stack.home_env(settings, CHARTER_CHECKPOINT_INTERVAL_S="0.2")
    with FakeUpstream() as upstream:
        serve = stack.start(env, tmp / "serve-0.log")
        gateway = stack.start(env, tmp / "gateway-0.log", command="gateway")
        procs: dict[str, Server] = {"serve": serve, "gateway": gateway}
        try:
            stack.add_deployments(serve.url, world.admin_key, world, upstream.url)
            stack.wait_serving([serve.url, gateway.url], world.app_key, "credit")
            targets = [(serve.url, "credit"), (gateway.url, "credit")]
            with (
                stack.Load(world.app_key, targets, concurrency=concurrency) as load,
                Governance([serve.url], world.admin_key) as gov,
            ):
                load.wait_for(50)
                for k in range(kills):
                    which = "gateway" if k % 2 == 0 else "serve"
                    before = len(load.answers)
                    time.sleep(rng.uniform(0.2, 1.2))  # a random point in the load
                    victim = procs[which]
                    assert victim.proc is not None
                    victim.kill()  # SIGKILL: no shutdown hook runs
                    procs[which] = stack.start(
                        env, tmp / f"{which}-{k + 1}.log", command=victim.command, port=victim.port
                    )
                    load.wait_for(before + 30, timeout=120)  # serving again after the restart
                acked_teams = list(gov.acked)
                gov_tried = gov.tried
            answers = list(load.answers)
            failures = load.failures
        finally:
            for p in procs.values():
                p.stop()

    stored = stack.decisions(settings)
    lost = stack.lost(answers, stored)
    teams = {e.resource for e in stack.entries(settings, "team.create")}
    lost_teams = [t for t in acked_teams if f"team:{t}" not in teams]
    report = stack.verify(settings)
    assert not lost, f"{len(lost)} answered calls have no audit entry, e.g. {lost[:3]}"
    assert not lost_teams, f"acknowledged governance changes missing from the log: {lost_teams[:5]}"
    assert report.ok, report.problems
    ok = sum(1 for a in answers if a.status == 200)
    return {
        "kills": kills,
        "answered": len(answers),
        "allowed": ok,
        "connection_failures": failures,
        "governance_acked": len(acked_teams),
        "governance_tried": gov_tried,
        "entries_lost": len(lost) + len(lost_teams),
        "log_size": report.size,
        "checkpoints": report.checkpoints,
    }


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sigkill_serve_and_gateway_under_load_loses_nothing(settings: Settings, tmp_path: Path) -> None:
    figures = run_crashes(settings, tmp_path, kills=3, seed=20261123)
    assert figures["allowed"] > 100 and figures["connection_failures"] > 0, figures
    assert figures["governance_acked"] > 5, figures
    verify = cli(env_for(settings), "audit", "verify", "--json")
    assert verify.returncode == 0, verify.stdout + verify.stderr
