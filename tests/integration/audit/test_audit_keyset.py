"""One key set per deployment: recorded at first init, enforced at start; verify names digests under other keys."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from charter import bootstrap
from charter.audit import keyset
from charter.audit.export import verify_database, verify_export
from charter.audit.note import Verifier
from charter.audit.service import AuditLog
from charter.audit.sink import AuditSink
from charter.audit.tables import KEY_FINGERPRINTS
from charter.bootstrap import Container
from charter.core.events import AuditEvent
from charter.core.keybundle import KeysMismatch
from charter.core.signing import HMAC_KEY, ensure_keys, hmac_key_id, load_keys
from charter.server import Dispatcher
from charter.settings import Settings
from charter.storage import migrate
from charter.storage.engine import make_engine
from charter.storage.uow import UnitOfWorkFactory


def _second_process(settings: Settings) -> Settings:
    """Settings of another process of the same deployment: its own data dir, the same database."""
    return settings.model_copy(
        update={"home": settings.home.parent / "other", "database_url": settings.resolved_database_url}
    )


def _inference(i: int) -> AuditEvent:
    body = f'{{"prompt": "applicant {i}"}}'
    return AuditEvent("app:portal", "inference.allow", "deployment:d", sensitive={"request": body}, governance=False)


def _append(c: Container, sink: AuditSink, n: int) -> list[int]:
    """`n` inference entries written through `sink` (a process's audit writer) in one transaction."""
    uows = UnitOfWorkFactory(c.engine, sink)
    with uows() as uow:
        seqs = [uow.record(_inference(i)) for i in range(n)]
        uow.commit()
    return seqs


def test_init_records_the_key_set_and_entries_name_their_hmac_key(container: Container) -> None:
    with container.uow(write=False) as uow:
        assert keyset.recorded(uow.session) == container.keys.fingerprints()
    [seq] = _append(container, container.audit, 1)
    log = container.audit_log
    assert isinstance(log, AuditLog)
    entry = log.entry(seq)
    assert entry.digests is not None and f'"hmac_key":"{container.keys.hmac_id}"' in entry.body
    assert container.keys.hmac.hex() not in entry.body and container.keys.hmac_id == hmac_key_id(container.keys.hmac)


def test_a_process_with_other_keys_refuses_to_start(settings: Settings, initialised: bootstrap.InitResult) -> None:
    other = _second_process(settings)
    ensure_keys(other.keys_dir)  # a data dir set up on its own: `charter init` elsewhere, or keys made by hand
    with pytest.raises(KeysMismatch) as err:
        bootstrap.build(other)
    msg = err.value.message
    for named in ("license signing key", "audit checkpoint key", "audit HMAC key", "charter init --join"):
        assert named in msg, msg
    assert str(other.keys_dir) in msg and initialised.keys["hmac"] in msg


def test_only_the_hmac_key_differing_is_named(settings: Settings, initialised: bootstrap.InitResult) -> None:
    other = _second_process(settings)
    other.keys_dir.mkdir(parents=True, mode=0o700)
    for path in settings.keys_dir.iterdir():
        (other.keys_dir / path.name).write_bytes(path.read_bytes())
    (other.keys_dir / HMAC_KEY).write_bytes(secrets.token_bytes(32))
    with pytest.raises(KeysMismatch) as err:
        bootstrap.check_keys(other)
    msg = err.value.message
    assert "audit HMAC key" in msg and "license signing key" not in msg and "audit checkpoint key" not in msg


def test_init_in_a_second_data_dir_without_join_creates_no_keys(
    settings: Settings, initialised: bootstrap.InitResult
) -> None:
    other = _second_process(settings)
    with pytest.raises(bootstrap.KeysMissing) as err:
        bootstrap.init(other)
    assert "charter init --join" in err.value.message
    assert not other.keys_dir.exists() or not any(other.keys_dir.iterdir())


def test_a_log_older_than_key_sets_records_the_first_process_keys(settings: Settings) -> None:
    bootstrap.init(settings)
    first = bootstrap.build(settings)
    with first.uow() as uow:
        uow.session.execute(KEY_FINGERPRINTS.delete())
        uow.commit()
    first.close()
    c = bootstrap.build(settings)
    try:
        with c.uow(write=False) as uow:
            assert keyset.recorded(uow.session) == c.keys.fingerprints()
    finally:
        c.close()


def test_verify_names_entries_written_under_a_foreign_hmac_key(container: Container, tmp_path: Path) -> None:
    _append(container, container.audit, 5)
    foreign = _append(container, AuditSink(secrets.token_bytes(32)), 3)  # a process that kept its own HMAC key
    _append(container, container.audit, 2)
    log = container.audit_log
    assert isinstance(log, AuditLog)
    log.checkpointer.checkpoint()

    report = verify_database(container.engine, public_raw=container.keys.audit.public_raw)
    assert not report.ok
    named = [p.seq for p in report.problems]
    assert named == foreign, report.problems
    assert report.first_bad is not None and report.first_bad.seq == foreign[0]
    assert "another HMAC key" in report.problems[0].reason and container.keys.hmac_id in report.problems[0].reason

    exported = b"".join(log.export())
    verifier = Verifier.parse(log.verifier_key())
    offline = verify_export(io.BytesIO(exported), verifier)
    assert [p.seq for p in offline.problems] == foreign


def test_parallel_verify_names_them_too(container: Container) -> None:
    foreign_sink = AuditSink(secrets.token_bytes(32))
    foreign = []
    for i in range(8):  # 8 chunks of 256 entries, one foreign entry in some of them
        seqs = _append(container, container.audit, 255 if i % 3 == 0 else 256)
        if i % 3 == 0:
            foreign += _append(container, foreign_sink, 1)
        assert seqs
    report = verify_database(
        container.engine, public_raw=container.keys.audit.public_raw, workers=2, chunk_height=8, min_chunks=1
    )
    assert [p.seq for p in report.problems] == foreign


def test_verify_with_a_key_the_key_set_does_not_name(container: Container) -> None:
    other = Settings(home=container.settings.home.parent / "elsewhere")
    ensure_keys(other.keys_dir)
    wrong = load_keys(other.keys_dir).audit.public_raw
    report = verify_database(container.engine, public_raw=wrong)
    assert any("key set recorded with the log names audit key" in p.reason for p in report.problems)


def test_readyz_is_503_when_the_checkpointer_refuses(container: Container) -> None:
    log = container.audit_log
    assert isinstance(log, AuditLog)
    with TestClient(Dispatcher(container)) as client:
        assert client.get("/readyz").status_code == 200
        log.checkpointer.refused = "checkpoint 3 does not verify with the audit key: bad signature"
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.json()["code"] == "checkpoint_refused" and "charter audit verify" in r.json()["detail"]


def test_readyz_is_503_when_the_keys_differ_from_the_recorded_set(container: Container) -> None:
    with TestClient(Dispatcher(container)) as client:
        assert client.get("/readyz").status_code == 200
        with container.uow() as uow:  # what a process that started before the key set was recorded would meet
            uow.session.execute(KEY_FINGERPRINTS.update().values(fingerprint="0" * 16))
            uow.commit()
        r = client.get("/readyz")
        assert r.status_code == 503 and r.json()["code"] == "keys_mismatch"


def test_pending_migrations_are_listed_oldest_first(settings: Settings) -> None:
    settings.home.mkdir(parents=True)
    engine = make_engine(settings.resolved_database_url, search_path=settings.database_schema)
    try:
        todo = migrate.pending(engine)
    finally:
        engine.dispose()
    assert todo[0].startswith("0001_") and todo == sorted(todo) and len(todo) >= 11
