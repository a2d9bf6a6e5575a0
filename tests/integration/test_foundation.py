"""Init, settings, identity API and secret handling on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from sqlalchemy import inspect, make_url, select, text
from starlette.testclient import TestClient

from charter import bootstrap
from charter.audit.tables import AuditEntryRow
from charter.bootstrap import Container
from charter.core import keybundle
from charter.settings import Settings
from tests.conftest import MakeUser, bearer


def test_init_creates_keys_0600_and_is_idempotent(settings: Settings) -> None:
    initialised = bootstrap.init(settings)  # a fresh data dir: the real first run, not the test template
    assert initialised.migrated and initialised.created_keys
    assert initialised.admin is not None and initialised.admin.key.startswith("chk_")
    for f in settings.keys_dir.iterdir():
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    keys_before = {f.name: f.read_bytes() for f in settings.keys_dir.iterdir()}
    again = bootstrap.init(settings)
    assert again.admin is None and again.migrated == [] and not again.created_keys
    assert keys_before == {f.name: f.read_bytes() for f in settings.keys_dir.iterdir()}


def test_identity_flow_is_audited(client: TestClient, container: Container) -> None:
    assert client.post("/api/v1/teams", json={"name": "risk"}).status_code == 201
    r = client.post("/api/v1/users", json={"name": "alice", "team": "risk"})
    assert r.status_code == 201, r.text
    assert r.json()["teams"] == ["risk"]
    r = client.post("/api/v1/roles", json={"principal": "alice", "role": "reviewer", "function": "legal"})
    assert r.status_code == 201, r.text
    key = client.post("/api/v1/keys", json={"principal": "alice"}).json()
    me = client.get("/api/v1/whoami", headers=bearer(key["key"])).json()
    assert me["name"] == "alice" and me["roles"] == ["reviewer(legal)"]
    assert "license.signoff" in me["permissions"]
    with container.uow(write=False) as uow:
        actions = list(uow.session.scalars(select(AuditEntryRow.action).order_by(AuditEntryRow.seq)))
    assert actions == ["user.create", "team.create", "user.create", "role.grant", "key.create"]


def test_revoked_and_expired_keys_are_refused(client: TestClient, make_user: MakeUser) -> None:
    _, key = make_user("viewer")
    assert client.get("/api/v1/whoami", headers=bearer(key)).status_code == 200
    kid = [k for k in client.get("/api/v1/keys").json()["items"] if k["principal"] == "user:u1"][0]["id"]
    assert client.delete(f"/api/v1/keys/{kid}").status_code == 200
    r = client.get("/api/v1/whoami", headers=bearer(key))
    assert r.status_code == 401 and r.json()["code"] == "api_key_revoked"
    r = client.get("/api/v1/whoami", headers=bearer(key[:-1] + ("A" if key[-1] != "A" else "B")))
    assert r.status_code == 401 and r.json()["code"] == "invalid_api_key"


def test_bad_input_gets_problem_json(client: TestClient) -> None:
    r = client.post("/api/v1/users", json={"name": "bob", "nope": 1})
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["errors"][0]["field"] == "nope"
    r = client.post("/api/v1/users", json={"name": 5})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"
    r = client.post("/api/v1/users", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422
    r = client.post("/api/v1/users", content=b'{"name":"' + b"x" * (2 << 20) + b'"}')
    assert r.status_code == 413 and r.json()["code"] == "payload_too_large"
    r = client.post("/api/v1/roles", json={"principal": "ghost", "role": "viewer"})
    assert r.status_code == 404 and "charter user add ghost" in r.json()["detail"]
    r = client.post("/api/v1/roles", json={"principal": "admin", "role": "wizard"})
    assert r.status_code == 422 and r.json()["field"] == "role"
    assert client.post("/api/v1/users", json={"name": "dup"}).status_code == 201
    assert client.post("/api/v1/users", json={"name": "dup"}).status_code == 409
    assert client.get("/api/v1/nowhere").status_code == 404


def test_api_keys_never_stored_in_clear(client: TestClient, container: Container, admin_key: str) -> None:
    created = client.post("/api/v1/keys", json={"principal": "admin"}).json()["key"]
    secrets = [admin_key, created, admin_key.split("_", 2)[2], created.split("_", 2)[2]]
    dump = []
    with container.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f"SELECT * FROM {table}")):
                dump.append(repr(tuple(row)))
    blob = "\n".join(dump)
    assert blob, "dump is empty"
    for secret in secrets:
        assert secret not in blob


def test_readyz_and_openapi(app: object, admin_key: str) -> None:
    with TestClient(app) as c:  # type: ignore[arg-type]
        assert c.get("/healthz").json()["status"] == "ok"
        assert c.get("/readyz").json()["status"] == "ready"
        spec = c.get("/api/v1/openapi.json").json()
        assert "/whoami" in spec["paths"]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _assert_private(s: Settings) -> None:
    assert _mode(s.home) == 0o700, oct(_mode(s.home))
    assert _mode(s.keys_dir) == 0o700
    for f in s.keys_dir.iterdir():
        assert _mode(f) == 0o600, f
    url = make_url(s.resolved_database_url)
    if url.get_backend_name() == "sqlite":
        db = Path(str(url.database))
        files = [p for p in db.parent.iterdir() if p.name.startswith(db.name)]  # the database, its -wal and -shm
        assert db in files
        for f in files:
            assert _mode(f) == 0o600, (f, oct(_mode(f)))


def test_init_and_join_keep_the_data_dir_private(settings: Settings, tmp_path: Path) -> None:
    """The issue: charter.db was 0644 (anyone on the host could read every audit entry and key digest). `charter
    init`, and `charter init --join` in a second data dir, leave the data dir 0700 and the database and key files
    0600, also when the operator made the directory beforehand with looser modes."""
    old = os.umask(0o022)
    try:
        settings.home.mkdir(parents=True)
        settings.home.chmod(0o755)
        bootstrap.init(settings)
        c = bootstrap.build(settings)  # a running process: the -wal and -shm files exist now
        try:
            with c.uow() as uow:
                uow.session.execute(text("SELECT 1"))
            _assert_private(settings)
        finally:
            c.close()
        joined = settings.model_copy(update={"home": tmp_path / "joined"})
        bootstrap.init(joined, join=keybundle.read_key_files(settings.keys_dir))
        _assert_private(joined)
    finally:
        os.umask(old)
