"""Gateway signals from the real audit log into monitoring windows: counted incrementally per window on the monitoring
grid (an entry at a window's start belongs to that window), below the minimum number of calls a rate has no value,
refusals for the license's own state never count, and a breach suspends the license in the check's transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.core.clock import ManualClock, pinned
from charter.deployments.decisions import inference_event
from charter.deployments.model import Grant, Reason, Verdict
from charter.licenses import service as licenses
from charter.monitoring import gateway_signals as gs
from charter.monitoring import gateway_windows, queries
from charter.monitoring import repository as repo
from charter.monitoring.gateway_windows import GatewayCounts
from tests.integration.monitoring.support import monitored

WINDOW_S = 60.0
T0 = datetime.fromtimestamp((datetime.now(UTC).timestamp() // WINDOW_S + 2) * WINDOW_S, UTC)  # on the 60 s grid


def _decide(
    c: Container, license_id: str, digest: str, n: int, *, reason: str | None = None, status: int = 200
) -> None:
    grant = Grant(license_id=license_id, digest=digest, env="production", state="active")
    verdict = Verdict(True, grant=grant) if reason is None else Verdict(False, Reason(reason), grant=grant)
    with c.uow() as uow:
        for i in range(n):
            event = inference_event(
                decision_id=f"dec_{reason}_{i}",
                caller="app:loan-portal",
                deployment="credit-prod",
                verdict=verdict,
                status=status if reason is None else 403,
                latency_ms=1.0,
                reason=reason,
            )
            uow.record(event)
        uow.commit()


def _window(c: Container, digest: str, start: datetime) -> dict[str, float | None] | None:
    with c.uow(write=False) as uow:
        for w in repo.windows_of(uow, digest, limit=10, env="production"):
            if w.start.replace(tzinfo=UTC) == start:
                return dict(w.metrics)
    return None


def _check(c: Container, counts: GatewayCounts, clock: ManualClock) -> int:
    """As the monitor's scheduled pass does: count in a read transaction, then write what changed in another."""
    with c.uow(write=False) as uow:
        touched = gateway_windows.count(uow, counts, clock.now)
    with c.uow() as uow:
        written = len(gateway_windows.record(uow, counts, touched))
        uow.commit()
    return written


def _state(c: Container, license_id: str) -> str:
    with c.uow(write=False) as uow:
        return licenses.get(uow, SYSTEM_ACTOR, license_id).state


def test_refused_calls_over_the_minimum_suspend_and_windows_stay_apart(container: Container) -> None:
    c = container
    world = monitored(c, conditions=["gateway.tool_scope_refusal_rate < 0.5 => suspend"])
    counts = GatewayCounts(WINDOW_S, min_calls=4)
    with pinned(T0 + timedelta(seconds=59)) as clock:
        # Last second of window A: 2 allowed calls and 1 upstream 5xx, one tool-scope refusal (4 calls: at the minimum).
        _decide(c, world.license_id, world.digest, 2)
        _decide(c, world.license_id, world.digest, 1, status=503)
        _decide(c, world.license_id, world.digest, 1, reason="tool_not_in_scope")
        assert _check(c, counts, clock) == 1
        a = _window(c, world.digest, T0)
        assert a is not None and a[gs.CALLS] == 4 and a[gs.TOOL_SCOPE_REFUSAL_RATE] == 0.25
        assert a[gs.REFUSAL_RATE] == 0.25 and a[gs.ERROR_RATE] is None  # 3 forwarded < 4
        assert _check(c, counts, clock) == 0  # nothing new: nothing written

        # Window B starts: 3 refusals only (below the minimum of 4): no value, no action.
        clock.advance(seconds=1)
        _decide(c, world.license_id, world.digest, 3, reason="tool_not_in_scope")
        assert _check(c, counts, clock) == 1
        b = _window(c, world.digest, T0 + timedelta(seconds=WINDOW_S))
        assert b is not None and b[gs.CALLS] == 3 and b[gs.TOOL_SCOPE_REFUSAL_RATE] is None
        assert _state(c, world.license_id) == "active"
        assert _window(c, world.digest, T0) == a  # the entries at B's start did not leak into A

        # One more refusal reaches the minimum: 4 of 4 refused for tool scope → suspended.
        _decide(c, world.license_id, world.digest, 1, reason="tool_not_in_scope")
        assert _check(c, counts, clock) == 1
        assert _state(c, world.license_id) == "suspended"
        with c.uow(write=False) as uow:
            lic = licenses.get(uow, SYSTEM_ACTOR, world.license_id)
        assert lic.reason_category == "security"  # refused out of scope: reinstated by the ML lead and security

        # The suspended license refuses everything: those refusals are not behaviour and change no count.
        _decide(c, world.license_id, world.digest, 10, reason="license_suspended")
        assert _check(c, counts, clock) == 0

        # A process starting cold counts the same windows from the log.
        fresh = GatewayCounts(WINDOW_S, min_calls=4)
        with c.uow(write=False) as uow:
            fresh.scan(uow, clock.now)
        assert fresh.tally(T0.timestamp(), [world.license_id]) == gs.Tally(
            calls=4, refused=1, tool_scope_refused=1, forwarded=3, errors=1
        )
        assert fresh.tally(T0.timestamp() + WINDOW_S, [world.license_id]) == gs.Tally(
            calls=4, refused=4, tool_scope_refused=4
        )
        with c.uow(write=False) as uow:
            latest = repo.latest_window(uow, world.digest, "production")
            assert latest is not None
            found = [(ch.metric, ch.status, ch.observed, ch.fired) for ch in repo.checks_of(uow, latest.id)]
        assert found == [("gateway.tool_scope_refusal_rate", "breached", 1.0, "suspend")]

    # Reports see the windows of a model version without a reference profile too.
    with c.uow(write=False) as uow:
        shown = queries.summary(uow, world.system)
    assert shown is not None and shown["profiles"] == []
    newest = shown["windows"][0]
    assert newest["metrics"]["gateway.calls"] == 4
    assert newest["breaches"] == ["gateway.tool_scope_refusal_rate < 0.5 => suspend"]


def test_without_gateway_conditions_nothing_is_counted_or_written(container: Container) -> None:
    c = container
    world = monitored(c, conditions=["drift.psi_max < 0.25 => suspend"])
    _decide(c, world.license_id, world.digest, 30, reason="tool_not_in_scope")
    counts = GatewayCounts(WINDOW_S, min_calls=4)
    with c.uow() as uow:
        assert gateway_windows.count(uow, counts, datetime.now(UTC)) == set()
        assert gateway_windows.record(uow, counts, gateway_windows.count(uow, counts, datetime.now(UTC))) == []
    assert counts.cursor is None and counts.counts == {}
    with c.uow(write=False) as uow:
        assert repo.latest_window(uow, world.digest) is None
    assert _state(c, world.license_id) == "active"
