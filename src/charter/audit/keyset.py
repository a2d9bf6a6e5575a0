"""The key set of a log: recorded once (first `charter init`), then every process must hold exactly those keys.

A process with another audit key cannot sign checkpoints that extend the log; one with another HMAC key writes body
digests nobody can check against a body later; one with another license key issues tokens the JWKS does not list.
So a process whose keys differ from the recorded set refuses to start, and `audit verify` names entries whose
digests carry another HMAC key's id.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, inspect, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from charter.audit.sink import Executor
from charter.audit.tables import KEY_FINGERPRINTS
from charter.core.clock import utcnow
from charter.core.keybundle import KeysMismatch
from charter.core.signing import KeyRing
from charter.storage.uow import UnitOfWorkFactory

NAMES = ("license", "audit", "hmac")
LABELS = {"license": "license signing key", "audit": "audit checkpoint key", "hmac": "audit HMAC key"}
JOIN_HINT = (
    "copy the deployment's keys: `charter export keys --output FILE` where they are right, then "
    "`charter init --join FILE` here (with CHARTER_HOME set to this process's data dir)"
)
_LOCK_KEY = 0x6B657973  # pg_advisory_xact_lock key of the first recording ("keys")


def _conn(s: Executor) -> Connection:
    return s.connection() if isinstance(s, Session) else s


def recorded(s: Executor) -> dict[str, str] | None:
    """The recorded key set; None when none is recorded yet or the table does not exist (migration pending)."""
    conn = _conn(s)
    if not inspect(conn).has_table(KEY_FINGERPRINTS.name):
        return None
    rows = conn.execute(select(KEY_FINGERPRINTS.c.name, KEY_FINGERPRINTS.c.fingerprint)).all()
    got = {str(name): str(fp) for name, fp in rows}
    return got or None


def differences(recorded_set: Mapping[str, str], local: Mapping[str, str]) -> list[str]:
    """One phrase per key that differs, e.g. `audit HMAC key: this process has id ab…, the database recorded cd…`."""
    return [
        f"{LABELS[n]}: this process has {local.get(n)}, the database recorded {recorded_set.get(n)}"
        for n in NAMES
        if recorded_set.get(n) != local.get(n)
    ]


def mismatch_error(recorded_set: Mapping[str, str], local: Mapping[str, str], where: str) -> KeysMismatch:
    diff = "; ".join(differences(recorded_set, local))
    return KeysMismatch(f"the keys in {where} are not the deployment's ({diff}): {JOIN_HINT}")


def check(uows: UnitOfWorkFactory, keys: KeyRing, where: str) -> dict[str, str] | None:
    """Raise KeysMismatch when a key set is recorded and `keys` differ from it; return the recorded set."""
    with uows(write=False) as uow:
        got = recorded(uow.session)
    if got is not None and got != keys.fingerprints():
        raise mismatch_error(got, keys.fingerprints(), where)
    return got


def ensure(uows: UnitOfWorkFactory, keys: KeyRing, where: str) -> None:
    """At process start: `keys` must be the recorded set; none recorded yet (a log older than key sets): record them.

    Nothing happens while the table is missing: the schema is behind, and /readyz says so until `charter migrate`.
    """
    with uows(write=False) as uow:
        if not inspect(_conn(uow.session)).has_table(KEY_FINGERPRINTS.name):
            return
    if check(uows, keys, where) is None:
        record(uows, keys, where)


def record(uows: UnitOfWorkFactory, keys: KeyRing, where: str) -> bool:
    """Record `keys` as the deployment's key set unless one is recorded (then they must match): True if recorded.

    Safe against two first processes at once: the loser finds the winner's set and, if it differs, raises.
    """
    mine = keys.fingerprints()
    with uows() as uow:
        conn = _conn(uow.session)
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        got = recorded(conn)
        if got is None:
            now = utcnow()
            rows = [{"name": n, "fingerprint": mine[n], "created_at": now} for n in NAMES]
            dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
            conn.execute(dialect.insert(KEY_FINGERPRINTS).values(rows).on_conflict_do_nothing(index_elements=["name"]))
            got = recorded(conn)
            if got == mine:
                uow.commit()
                return True
        if got != mine:
            raise mismatch_error(got or {}, mine, where)
    return False
