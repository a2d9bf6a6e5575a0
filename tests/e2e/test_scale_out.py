"""Scale-out through the real CLI and real servers: one key set per deployment, readiness, one public URL."""

from __future__ import annotations

import base64
import json
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from charter import bootstrap
from charter.audit.note import Checkpoint, sign_note
from charter.audit.tables import CHECKPOINTS
from charter.core.signing import HMAC_KEY, ensure_keys, load_keys
from charter.settings import Settings
from tests.reliability.stack import add_app, license_system
from tests.support.builders import user
from tests.support.db import env_for
from tests.support.server import Server, cli, cli_in_process, free_port

pytestmark = pytest.mark.e2e
PASSPHRASE = "a long enough passphrase"


@contextmanager
def running(env: dict[str, str], log: Path, command: str = "serve") -> Iterator[Server]:
    """A started server, stopped afterwards also when it never became healthy (a loaded machine is slow)."""
    server = Server(env, command=command, log=log)
    try:
        yield server.start(timeout=90)
    finally:
        server.stop()


def _one_line_error(r: Any, code: str) -> str:
    assert r.returncode != 0, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {code}: "), r.stderr
    assert "Traceback" not in r.stderr and "listening" not in r.stdout
    return str(lines[0])


@pytest.fixture
def first(settings: Settings) -> Iterator[dict[str, str]]:
    """The first process's environment after `charter init` (and its admin key as CHARTER_API_KEY)."""
    env = env_for(settings)
    if "CHARTER_DATABASE_URL" not in env:  # SQLite: the other "hosts" share the first one's database file
        env["CHARTER_DATABASE_URL"] = settings.resolved_database_url
    r = cli_in_process(env, "init", "--json")  # `charter init` itself: a real process in the tests below
    assert r.returncode == 0, r.stderr
    yield {**env, "CHARTER_API_KEY": json.loads(r.stdout)["key"]}


def _host(first: dict[str, str], tmp_path: Path, name: str) -> dict[str, str]:
    """Another process of the deployment: its own data dir, the same database."""
    return {**first, "CHARTER_HOME": str(tmp_path / name)}


def test_a_second_process_with_other_keys_refuses_to_start(first: dict[str, str], tmp_path: Path) -> None:
    other = _host(first, tmp_path, "other")
    line = _one_line_error(cli(other, "init"), "keys_missing")
    assert "charter init --join" in line and "charter export keys" in line
    assert not (tmp_path / "other" / "keys" / HMAC_KEY).exists()

    ensure_keys(tmp_path / "other" / "keys")  # keys of its own, as a second `charter init` used to make
    for command in ("serve", "gateway"):
        r = cli(other, command, "--port", str(free_port()))
        line = _one_line_error(r, "keys_mismatch")
        for named in ("audit HMAC key", "audit checkpoint key", "license signing key", "charter init --join"):
            assert named in line, line


def test_export_and_join_give_a_process_the_deployment_keys(first: dict[str, str], tmp_path: Path) -> None:
    bundle = tmp_path / "charter-keys.json"
    r = cli(first, "export", "keys", "--output", str(bundle))
    _one_line_error(r, "passphrase_required")  # no terminal, no CHARTER_KEYS_PASSPHRASE: nothing written in clear
    assert not bundle.exists()
    r = cli_in_process(
        {**first, "CHARTER_KEYS_PASSPHRASE": PASSPHRASE}, "export", "keys", "--output", str(bundle), "--json"
    )
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600 and json.loads(r.stdout)["encrypted"] is True
    assert "PRIVATE KEY" not in bundle.read_text() and "PRIVATE KEY" not in r.stdout + r.stderr
    r = cli_in_process({**first, "CHARTER_KEYS_PASSPHRASE": PASSPHRASE}, "export", "keys", "--output", str(bundle))
    _one_line_error(r, "file_exists")

    joiner = _host(first, tmp_path, "gw1")
    _one_line_error(
        cli_in_process(joiner, "init", "--join", str(bundle)), "keys_file_invalid"
    )  # encrypted, no passphrase
    r = cli_in_process({**joiner, "CHARTER_KEYS_PASSPHRASE": "not the passphrase"}, "init", "--join", str(bundle))
    assert "wrong passphrase" in _one_line_error(r, "keys_file_invalid")
    r = cli({**joiner, "CHARTER_KEYS_PASSPHRASE": PASSPHRASE}, "init", "--join", str(bundle), "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["joined"] is True and doc["key"] is None  # the deployment already has its admin
    home = Path(first["CHARTER_HOME"])
    assert load_keys(tmp_path / "gw1" / "keys").fingerprints() == load_keys(home / "keys").fingerprints()

    plain = tmp_path / "plain.json"
    r = cli_in_process(first, "export", "keys", "--output", str(plain), "--no-passphrase")
    assert r.returncode == 0 and "IN CLEAR" in r.stderr, r.stderr
    plain.chmod(0o644)
    r = cli_in_process(_host(first, tmp_path, "gw2"), "init", "--join", str(plain))
    assert r.returncode == 0 and "readable by others" in r.stderr, r.stderr

    with running(joiner, tmp_path / "gw1.log", "gateway") as gateway:
        assert httpx.get(gateway.url + "/readyz", timeout=10).status_code == 200


def _claims(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    doc: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return doc


def test_tokens_name_the_port_serve_listens_on(settings: Settings, first: dict[str, str], tmp_path: Path) -> None:
    c = bootstrap.build(settings)
    try:
        add_app(c)
        lic = license_system(c, "scoring", "minimal", user(c, "rita", "ml-engineer"), {})
    finally:
        c.close()
    with running(first, tmp_path / "serve.log") as server:  # `charter serve --port P`, P not 8400
        assert server.port != 8400
        headers = {"Authorization": f"Bearer {first['CHARTER_API_KEY']}"}
        r = httpx.get(f"{server.url}/api/v1/licenses/{lic.license_id}/token", headers=headers, timeout=30)
        assert r.status_code == 200, r.text
        claims = _claims(r.json()["token"])
        assert claims["iss"] == server.url, claims
        status_uri = json.dumps(claims)
        assert f"{server.url}/.well-known/charter/status-list" in status_uri
        listed = httpx.get(server.url + "/.well-known/charter/status-list", timeout=30)
        assert listed.status_code == 200 and _claims(listed.text)["iss"] == server.url

    public = "https://charter.example.test"
    with running({**first, "CHARTER_PUBLIC_URL": public}, tmp_path / "serve2.log") as server:
        headers = {"Authorization": f"Bearer {first['CHARTER_API_KEY']}"}
        r = httpx.get(f"{server.url}/api/v1/licenses/{lic.license_id}/token", headers=headers, timeout=30)
        assert _claims(r.json()["token"])["iss"] == public


def test_a_wildcard_host_without_public_url_is_warned_about(first: dict[str, str], tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    with running({**first, "CHARTER_HOST": "0.0.0.0"}, log) as server:
        text = log.read_text()
        assert "CHARTER_PUBLIC_URL is unset" in text and f"http://127.0.0.1:{server.port}" in text, text


def test_readyz_is_503_once_the_process_cannot_sign_checkpoints(
    settings: Settings, first: dict[str, str], tmp_path: Path
) -> None:
    headers = {"Authorization": f"Bearer {first['CHARTER_API_KEY']}"}
    with running(first, tmp_path / "serve.log") as server:
        assert httpx.get(server.url + "/readyz", timeout=10).status_code == 200
        deadline = time.monotonic() + 30
        while httpx.get(server.url + "/.well-known/charter/checkpoint", timeout=10).status_code != 200:
            assert time.monotonic() < deadline, "no checkpoint was signed"
            time.sleep(0.1)
        # The latest checkpoint now carries a signature of another audit key (what a process with other keys
        # signed before key sets were enforced): extending it would mean vouching for a log it cannot verify.
        c = bootstrap.build(settings)
        try:
            foreign = load_keys(_other_keys(tmp_path)).audit
            with c.uow() as uow:
                latest = uow.session.execute(
                    select(CHECKPOINTS.c.size, CHECKPOINTS.c.root, CHECKPOINTS.c.origin)
                    .order_by(CHECKPOINTS.c.size.desc())
                    .limit(1)
                ).one()
                cp = Checkpoint(latest.origin, latest.size, bytes(latest.root))
                note = sign_note(cp.body(), cp.origin, foreign)
                uow.session.execute(update(CHECKPOINTS).where(CHECKPOINTS.c.size == latest.size).values(note=note))
                uow.commit()
        finally:
            c.close()
        assert httpx.post(server.url + "/api/v1/teams", json={"name": "risk"}, headers=headers).status_code == 201
        deadline = time.monotonic() + 30
        while (r := httpx.get(server.url + "/readyz", timeout=10)).status_code != 503:
            assert time.monotonic() < deadline, f"/readyz stayed {r.status_code} while checkpoints are refused"
            time.sleep(0.1)
        assert r.json()["code"] == "checkpoint_refused"


def _other_keys(tmp_path: Path) -> Path:
    path = tmp_path / "foreign" / "keys"
    ensure_keys(path)
    return path


def test_migrate_lists_migrations_oldest_first(settings: Settings) -> None:
    env = env_for(settings)
    settings.home.mkdir(parents=True, exist_ok=True)
    r = cli(env, "migrate", "--json")
    assert r.returncode == 0, r.stderr
    applied = json.loads(r.stdout)["applied"]
    assert applied[0].startswith("0001_") and applied == sorted(applied), applied
