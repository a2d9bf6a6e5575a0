"""Dashboard single sign-on against a real OpenID Provider: panva's certified `oidc-provider` (npm), run with node on
loopback by this module, signed in at through the real redirect flow by Debian chromium (Playwright).

The provider is reached as `localhost` and Charter as `127.0.0.1`: two sites, so the browser's SameSite rules apply
as they would between a real provider and Charter. One provider and one Charter serve the module.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from charter import bootstrap
from tests.support.db import Templates, admin_key, audit_docs, copied_init, env_for, settings_for
from tests.support.server import Server, free_port
from tests.support.web import chromium, fresh_page, require_browser

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SUPPORT = Path(__file__).resolve().parents[1] / "support" / "oidc"
SECRET = "charter-test-client-secret"
GROUPS = "{ml-platform: [senior-engineer@team:ml, team:ml], auditors: auditor}"
START_TIMEOUT = 120.0


def _node_modules() -> Path:
    """tests/support/oidc's locked packages, installed once (`npm ci`) into a cache dir keyed by the lock file."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("the OIDC end-to-end test runs oidc-provider with node: install nodejs and npm")
    lock = (SUPPORT / "package-lock.json").read_bytes()
    root = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "charter-tests"
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"oidc-provider-{hashlib.sha256(lock).hexdigest()[:16]}"
    with (root / "oidc-provider.lock").open("w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # one installer at a time across xdist workers
        if not (target / "node_modules" / "oidc-provider" / "package.json").is_file():
            target.mkdir(exist_ok=True)
            for name in ("package.json", "package-lock.json"):
                shutil.copyfile(SUPPORT / name, target / name)
            done = subprocess.run(
                [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund"],
                cwd=target,
                capture_output=True,
                text=True,
                timeout=300,
            )
            assert done.returncode == 0, f"npm ci failed:\n{done.stdout}\n{done.stderr}"
        # ES modules resolve packages next to the script, so the script runs from the install.
        script = target / "provider.mjs"
        if not script.is_file() or script.read_bytes() != (SUPPORT / "provider.mjs").read_bytes():
            shutil.copyfile(SUPPORT / "provider.mjs", script)
    return target


@dataclass
class World:
    charter: Server
    issuer: str
    admin_key: str
    settings: Any
    browser: Any

    def api(self, path: str) -> Any:
        r = httpx.get(self.charter.url + "/api/v1" + path, headers={"Authorization": f"Bearer {self.admin_key}"})
        assert r.status_code == 200, r.text
        return r.json()

    def user(self, name: str) -> dict[str, Any]:
        found = [u for u in self.api("/users?limit=200")["items"] if u["name"] == name]
        assert len(found) == 1, found
        return dict(found[0])

    def provider(self, path: str, body: object = None) -> None:
        r = httpx.post(self.issuer + path, content=json.dumps(body) if body is not None else b"")
        assert r.status_code == 204, r.text


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, templates: Templates) -> Iterator[World]:
    install = _node_modules()
    require_browser()
    home = tmp_path_factory.mktemp("oidc")
    template = templates.get("sqlite")
    port = free_port()
    issuer = f"http://localhost:{port}"
    with settings_for("sqlite", home / "home", template=template) as settings:
        key = admin_key(copied_init(template, settings.home))
        env = {
            **env_for(settings),
            "CHARTER_LOGIN_RATE_PER_MINUTE": "60",
            "CHARTER_OIDC_ISSUER": issuer,
            "CHARTER_OIDC_CLIENT_ID": "charter",
            "CHARTER_OIDC_CLIENT_SECRET": SECRET,
            "CHARTER_OIDC_SCOPES": "openid email profile groups",
            "CHARTER_OIDC_GROUPS": GROUPS,
        }
        charter = Server(env, log=home / "server.log")
        log = (home / "provider.log").open("wb")
        provider = subprocess.Popen(
            ["node", str(install / "provider.mjs"), str(port), issuer, charter.url + "/login/oidc/callback", SECRET],
            cwd=install,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for(issuer + "/.well-known/openid-configuration", provider)
            charter.start(timeout=START_TIMEOUT)
            with chromium() as browser:
                yield World(charter, issuer, key, settings, browser)
        finally:
            charter.stop()
            provider.terminate()
            provider.wait(10)
            log.close()


def _wait_for(url: str, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the OpenID Provider exited with {proc.returncode}"
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the OpenID Provider did not answer at {url} in {timeout}s")


def sign_in_at_provider(page: Any, who: str) -> None:
    """From Charter's sign-in page through the provider's own sign-in and consent pages."""
    page.get_by_role("link", name="Sign in with localhost").click()
    page.wait_for_url(re.compile(r"^http://localhost:\d+/interaction/"))
    page.locator("input[name=login]").fill(who)
    page.locator("input[name=password]").fill("anything")
    page.locator("button[type=submit]").click()
    page.get_by_role("button", name="Continue").click()  # consent: Charter may read openid, email, profile, groups


def test_sign_in_lands_with_the_mapped_role_and_loses_it_with_the_group(world: World) -> None:
    with fresh_page(world.browser, world.charter.url) as (page, _):
        page.goto("/systems")
        assert page.url.endswith("/login?next=%2Fsystems")
        sign_in_at_provider(page, "alice")
        page.wait_for_url(world.charter.url + "/systems")  # the callback moves on to where she was going
        page.get_by_role("heading", name="AI systems").wait_for()
        who = page.locator(".who-name")
        assert who.inner_text() == "alice"
        assert who.get_attribute("title") == "senior-engineer on team:ml"

        alice = world.user("alice")
        assert alice["roles"] == ["senior-engineer@team:ml"]
        assert alice["teams"] == ["ml"]
        assert alice["email"] == "alice@example.com"

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(re.compile(r"/login$"))
        page.goto("/")
        assert "/login" in page.url  # the Charter session ended

    actions = [(d["action"], d["actor"], d.get("details", {}).get("via")) for d in audit_docs(world.settings, "%")]
    assert ("user.create", "system:oidc", "oidc") in actions
    assert ("role.grant", "system:oidc", "oidc") in actions
    assert ("team.join", "system:oidc", "oidc") in actions
    assert ("session.logout", "user:alice", None) in actions

    # Taken out of the group at the provider: the role goes at the next sign-in, and with it the way in.
    world.provider("/test/groups/alice", ["staff"])
    try:
        with fresh_page(world.browser, world.charter.url) as (page, _):
            page.goto("/login")
            sign_in_at_provider(page, "alice")
            page.get_by_role("heading", name="Not allowed").wait_for()
            assert "holds no Charter role" in page.inner_text("main")
            page.goto("/")
            assert "/login" in page.url
        alice = world.user("alice")
        assert alice["roles"] == [] and alice["teams"] == []
        revoked = [d for d in audit_docs(world.settings, "role.revoke") if d["resource"] == "user:alice"]
        assert revoked and revoked[-1]["details"]["role"] == "senior-engineer"
    finally:
        world.provider("/test/groups/alice", ["ml-platform", "staff"])


def test_a_person_whose_groups_map_to_no_role_gets_no_account(world: World) -> None:
    with fresh_page(world.browser, world.charter.url) as (page, _):
        page.goto("/login")
        sign_in_at_provider(page, "bob")
        page.get_by_role("heading", name="Not allowed").wait_for()
        assert "none of your groups" in page.inner_text("main")
    assert not [u for u in world.api("/users?limit=200")["items"] if u["name"] == "bob"]


def test_a_tampered_id_token_is_refused(world: World) -> None:
    world.provider("/test/tamper")  # the next ID token claims an admins group its signature does not cover
    with fresh_page(world.browser, world.charter.url) as (page, _):
        page.goto("/login")
        sign_in_at_provider(page, "alice")
        page.get_by_role("heading", name="Please sign in").wait_for()
        main = page.inner_text("main")
        assert "oidc_id_token_invalid" in main and "failed verification" in main
        page.goto("/")
        assert "/login" in page.url
    denied = [d for d in audit_docs(world.settings, "session.login") if d.get("outcome") == "denied"]
    assert denied[-1]["details"] == {"method": "oidc", "reason": "oidc_id_token_invalid"}


def test_a_wrong_state_is_refused(world: World) -> None:
    with httpx.Client(base_url=world.charter.url) as client:
        started = client.get("/login/oidc")
        assert started.status_code == 303
        assert started.headers["location"].startswith(world.issuer + "/auth?")
        assert "code_challenge_method=S256" in started.headers["location"]
        assert "charter_oidc" in client.cookies

        wrong = client.get("/login/oidc/callback", params={"code": "whatever", "state": "not-the-state"})
        assert wrong.status_code == 400
        assert "state mismatch" in wrong.text
        assert not [c for c in client.cookies.jar if c.name == "charter_session"]

    # No flow cookie at all (a callback this browser never started): refused as well.
    refused = httpx.get(world.charter.url + "/login/oidc/callback", params={"code": "x", "state": "y"})
    assert refused.status_code == 400 and "oidc_no_flow" in refused.text


def test_a_provider_that_names_another_issuer_is_refused(world: World) -> None:
    """Discovery at 127.0.0.1 answers with issuer `http://localhost:…`: not the configured issuer, so no sign-in."""
    port = world.issuer.rsplit(":", 1)[1]
    settings = world.settings.model_copy(
        update={
            "oidc_issuer": f"http://127.0.0.1:{port}",
            "oidc_client_id": "charter",
            "oidc_client_secret": SECRET,
            "oidc_groups": GROUPS,
        }
    )
    from starlette.testclient import TestClient

    from charter.server import Dispatcher

    container = bootstrap.build(settings)
    try:
        with TestClient(Dispatcher(container), base_url="http://127.0.0.1") as client:
            r = client.get("/login/oidc", follow_redirects=False)
            assert r.status_code == 503
            assert "oidc_wrong_issuer" in r.text and "must be exactly its issuer" in r.text
    finally:
        container.close()
