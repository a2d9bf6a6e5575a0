"""Real concurrency on SQLite and PostgreSQL: simultaneous approvals and suspensions never lose an update."""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import partial

from sqlalchemy import func, select

from charter.audit.tables import AuditEntryRow
from charter.core.errors import CharterError
from charter.licenses import service
from charter.licenses.model import StateAction
from charter.licenses.schemas import StateChange
from charter.signoffs.tables import SignOffRow
from tests.conftest import MakeUser
from tests.integration.licenses.assessments import assess
from tests.integration.licenses.conftest import World


def _race(calls: list[Callable[[], object]]) -> list[BaseException | None]:
    """Run the calls at the same moment, one thread each; return each one's exception (or None)."""
    barrier = threading.Barrier(len(calls))
    results: list[BaseException | None] = [None] * len(calls)

    def run(i: int) -> None:
        barrier.wait()
        try:
            calls[i]()
        except BaseException as exc:
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def _count(world: World, action: str, resource: str) -> int:
    with world.c.uow(write=False) as uow:
        stmt = select(func.count()).where(AuditEntryRow.action == action, AuditEntryRow.resource == resource)
        return int(uow.session.scalar(stmt) or 0)


def test_simultaneous_approvals_all_count_and_the_last_activates(world: World) -> None:
    for round_ in range(3):
        model = world.system("high") + "@1.0"
        assess(world, model, blockers=[])
        lic = world.request(model)
        fns = ["ml-lead", "security", "legal", "ethics"]
        errors = _race([partial(world.approve, lic.id, fn) for fn in fns])
        assert errors == [None] * 4, (round_, errors)
        final = world.get(lic.id)
        assert final.state == "active", round_
        with world.c.uow(write=False) as uow:
            n = uow.session.scalar(select(func.count()).where(SignOffRow.subject_id == lic.id))
        assert n == 4
        ref = f"license:{lic.id}"
        assert _count(world, "signoff.approve", ref) == 4
        assert _count(world, "license.approve", ref) == 1
        assert _count(world, "license.activate", ref) == 1


def test_one_person_racing_two_functions_counts_once(world: World, make_user: MakeUser) -> None:
    _, key = make_user(("reviewer", "legal"), ("reviewer", "ethics"), name="both")
    both = world.actor(key)
    lic = world.request(world.system("high") + "@1.0")
    errors = _race([lambda: world.approve(lic.id, "legal", both), lambda: world.approve(lic.id, "ethics", both)])
    assert sorted(e is None for e in errors) == [False, True]
    failed = next(e for e in errors if e is not None)
    assert isinstance(failed, CharterError) and failed.code in {"signoff_same_person", "signoff_conflict"}
    with world.c.uow(write=False) as uow:
        assert uow.session.scalar(select(func.count()).where(SignOffRow.subject_id == lic.id)) == 1


def _active(world: World) -> str:
    model = world.system("limited") + "@1.0"
    assess(world, model, blockers=[])
    lic = world.request(model)
    world.approve_all(lic.id)
    return lic.id


def _do(world: World, license_id: str, verb: str) -> None:
    with world.c.uow() as uow:
        service.change_state(uow, world.manager, license_id, StateAction(verb), StateChange(reason=f"race {verb}"))


def test_simultaneous_suspensions_apply_once(world: World) -> None:
    lid = _active(world)
    before = world.get(lid).version
    errors = _race([lambda: _do(world, lid, "suspend") for _ in range(4)])
    ok = [e for e in errors if e is None]
    assert len(ok) == 1, errors
    assert all(isinstance(e, CharterError) and e.code == "license_invalid_transition" for e in errors if e is not None)
    after = world.get(lid)
    assert after.state == "suspended" and after.version > before
    assert _count(world, "license.suspend", f"license:{lid}") == 1


def test_suspend_racing_revoke_ends_consistent(world: World) -> None:
    for _ in range(3):
        lid = _active(world)
        errors = _race([partial(_do, world, lid, v) for v in ("suspend", "revoke")])
        final = world.get(lid)
        suspended = _count(world, "license.suspend", f"license:{lid}")
        revoked = _count(world, "license.revoke", f"license:{lid}")
        # Revoke always succeeds (from active or suspended); suspend only if it ran first.
        assert errors[1] is None and revoked == 1 and final.state == "revoked"
        assert suspended == (1 if errors[0] is None else 0)
