"""A whole Charter installation for fault tests: data dir, licensed systems, real processes, load, the audit log.

Used by the bounded tests in this folder and by `bench/soak.py`; everything here drives real `charter serve` /
`charter gateway` subprocesses over HTTP, the way an operator's load balancer and apps would.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import httpx
from sqlalchemy import text

from charter import bootstrap
from charter.audit.export import verify_database
from charter.audit.verify import Report
from charter.auth.model import SYSTEM_ACTOR, Actor
from charter.bootstrap import Container
from charter.catalog.questionnaire import NO_PROHIBITED
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseCreate
from charter.settings import Settings
from charter.signoffs.schemas import SignOffCreate
from tests.support.builders import app_key, assessed_model, document_obligations, user
from tests.support.server import Server

ANSWERS: dict[str, dict[str, Any]] = {
    "high": {"prohibited": NO_PROHIBITED, "annex_iii": {"point": "5(b)"}},
    "minimal": {"prohibited": NO_PROHIBITED},
}
APP = "app:loan-portal"
PURPOSE = "credit-scoring"


@dataclass(frozen=True)
class Licensed:
    system: str
    tier: str
    model: str
    digest: str
    license_id: str


@dataclass
class World:
    admin_key: str
    app_key: str
    systems: dict[str, Licensed]


def license_system(c: Container, name: str, tier: str, requester: Actor, reviewers: dict[str, Actor]) -> Licensed:
    """Register `name` (tier high or minimal), model version 1.0, a passing assessment and an active license."""
    digest = "sha256:" + hashlib.sha256(f"{name}/{secrets.token_hex(8)}".encode()).hexdigest()
    model, digest = assessed_model(c, name, answers=ANSWERS[tier], digest=digest)
    document_obligations(c, model)  # the FRIA and post-market plan a high-risk license needs
    body = {"model": model, "env": "production", "purposes": [PURPOSE], "callers": [APP], "days": 30}
    with c.uow() as uow:
        lic = licenses.request(uow, requester, LicenseCreate.model_validate(body))
    with c.uow(write=False) as uow:
        needed = licenses.status(uow, SYSTEM_ACTOR, lic.id).missing_signoffs
    for fn in needed:
        if fn not in reviewers:
            reviewers[fn] = user(c, f"rev-{fn}", "reviewer", fn)
        with c.uow() as uow:
            licenses.sign(
                uow, reviewers[fn], lic.id, SignOffCreate.model_validate({"function": fn, "decision": "approve"})
            )
    with c.uow(write=False) as uow:
        state = licenses.get(uow, SYSTEM_ACTOR, lic.id).state
    assert state == "active", f"license {lic.id} of {name} is {state}"
    return Licensed(name, tier, model, digest, lic.id)


def add_app(c: Container) -> str:
    """The calling app (`app:loan-portal`) and a key for it."""
    return app_key(c, APP.split(":", 1)[1])


def make_world(settings: Settings, tiers: Mapping[str, str]) -> World:
    """`charter init`, then one active license per system in `tiers` (name → "high" | "minimal")."""
    init = bootstrap.init(settings)  # what `charter init` does (its CLI is exercised by tests/e2e)
    assert init.admin is not None
    admin_key = init.admin.key
    c = bootstrap.build(settings)
    try:
        app_key = add_app(c)
        requester = user(c, "rita", "ml-engineer")
        reviewers: dict[str, Actor] = {}
        systems = {n: license_system(c, n, t, requester, reviewers) for n, t in tiers.items()}
    finally:
        c.close()
    return World(admin_key, app_key, systems)


# --- processes -------------------------------------------------------------------------------------------------
def start(env: Mapping[str, str], log: Path, *, command: str = "serve", port: int | None = None) -> Server:
    """Start `charter serve|gateway` (on `port` when restarting one), logging to `log`."""
    server = Server(env, command=command, log=log)
    if port is not None:
        server.port, server.url = port, f"http://127.0.0.1:{port}"
    return server.start(timeout=90)


def add_deployments(url: str, admin_key: str, world: World, upstream: str) -> None:
    """One OpenAI-compatible deployment per licensed system, named like the system."""
    for lic in world.systems.values():
        body = {"name": lic.system, "model": lic.model, "env": "production", "upstream": upstream}
        r = httpx.post(url + "/api/v1/deployments", json=body, headers=bearer(admin_key), timeout=30)
        assert r.status_code == 201, r.text


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def call(url: str, key: str, deployment: str, timeout: float = 30) -> httpx.Response:
    body = {"model": deployment, "messages": [{"role": "user", "content": "score applicant 42"}]}
    headers = {**bearer(key), "Charter-Purpose": PURPOSE}
    return httpx.post(url + "/v1/chat/completions", json=body, headers=headers, timeout=timeout)


def wait_serving(urls: list[str], key: str, deployment: str, timeout: float = 30) -> None:
    """Until every gateway in `urls` answers 200 for `deployment` (deployments propagate by poll)."""
    deadline = time.monotonic() + timeout
    for url in urls:
        while (r := call(url, key, deployment)).status_code != 200:
            assert time.monotonic() < deadline, f"{url} never served {deployment}: {r.status_code} {r.text}"
            time.sleep(0.1)


# --- load ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Answer:
    """One response the load generator got (a connection failure is not an answer)."""

    url: str
    deployment: str
    status: int
    code: str | None
    decision_id: str | None
    sent: float  # time.time() before sending
    received: float


@dataclass
class Load:
    """Calls from a background thread until stopped; `targets` may change while it runs (restarts)."""

    key: str
    targets: list[tuple[str, str]]  # (gateway url, deployment)
    concurrency: int = 8
    pause_s: float = 0.0
    answers: list[Answer] = field(default_factory=list)
    failures: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def __enter__(self) -> Load:
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="load", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)
            assert not self._thread.is_alive(), "load generator did not stop"

    def wait_for(self, n: int, timeout: float = 60) -> None:
        """Until at least `n` answers arrived in total."""
        deadline = time.monotonic() + timeout
        while len(self.answers) < n:
            assert time.monotonic() < deadline, f"only {len(self.answers)} answers of {n} in {timeout}s"
            time.sleep(0.02)

    async def _main(self) -> None:
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            await asyncio.gather(*(self._worker(session, i) for i in range(self.concurrency)))

    async def _worker(self, session: aiohttp.ClientSession, i: int) -> None:
        n = i
        headers = {**bearer(self.key), "Charter-Purpose": PURPOSE}
        while not self._stop.is_set():
            url, dep = self.targets[n % len(self.targets)]
            n += 1
            body = {"model": dep, "messages": [{"role": "user", "content": f"applicant {n}"}]}
            sent = time.time()
            try:
                async with session.post(url + "/v1/chat/completions", json=body, headers=headers) as resp:
                    raw = await resp.read()
                    code = None
                    if resp.status != 200:
                        try:
                            code = json.loads(raw).get("code")
                        except ValueError:
                            code = "unparsable"
                    self.answers.append(
                        Answer(
                            url,
                            dep,
                            resp.status,
                            code,
                            resp.headers.get("Charter-Decision-Id"),
                            sent,
                            time.time(),
                        )
                    )
            except (TimeoutError, aiohttp.ClientError):
                self.failures += 1
                await asyncio.sleep(0.05)
            if self.pause_s:
                await asyncio.sleep(self.pause_s)


# --- the audit log ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    actor: str
    action: str
    resource: str
    outcome: str
    details: dict[str, Any]


def entries(settings: Settings, action_like: str = "%") -> Iterator[Entry]:
    """Stored audit entries whose action matches the SQL LIKE pattern, in log order."""
    from charter.storage.engine import make_engine

    engine = make_engine(settings.resolved_database_url, search_path=settings.database_schema)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text("SELECT seq, body FROM audit_entries WHERE action LIKE :a ORDER BY seq"), {"a": action_like}
            ).all()
    finally:
        engine.dispose()
    for seq, body in rows:
        doc = json.loads(bytes(body))
        yield Entry(int(seq), doc["actor"], doc["action"], doc["resource"], doc["outcome"], doc.get("details", {}))


def decisions(settings: Settings) -> dict[str, Entry]:
    """Inference entries by decision id."""
    return {e.details["decision_id"]: e for e in entries(settings, "inference.%") if "decision_id" in e.details}


def verify(settings: Settings) -> Report:
    """The whole stored log recomputed (deep: canonical bodies and filter columns too)."""
    from charter.storage.engine import make_engine

    c = bootstrap.build(settings)
    public = c.keys.audit.public_raw
    c.close()
    engine = make_engine(settings.resolved_database_url, search_path=settings.database_schema)
    try:
        return verify_database(engine, public_raw=public, deep=True)
    finally:
        engine.dispose()


def lost(answers: list[Answer], stored: Mapping[str, Entry]) -> list[Answer]:
    """Answers that carry a decision id but whose audit entry is not in the log."""
    return [a for a in answers if a.decision_id is not None and a.decision_id not in stored]


def home_env(settings: Settings, **extra: str) -> dict[str, str]:
    from tests.support.db import env_for

    return {**env_for(settings), "CHARTER_LOG_LEVEL": "info", **extra, "PYTHONHASHSEED": "0"}


def os_env() -> dict[str, str]:
    return dict(os.environ)
