"""Refusing and auditing calls: one durable entry per decision on a known deployment, counted summaries for the
rest, and the fence that keeps an allow from being ordered after the license change that would have refused it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.types import Send

from charter.audit.writer import FenceMoved
from charter.auth.model import Actor
from charter.core import tracing
from charter.core.errors import ErrorCode, status_of
from charter.core.events import AuditEvent
from charter.deployments.decisions import inference_event
from charter.deployments.model import Deployment, Reason, Verdict
from charter.deployments.ratelimit import Limiter
from charter.gateway.asgi import respond
from charter.gateway.index import LiveIndex
from charter.gateway.metrics import Metrics
from charter.gateway.problems import PROBLEM, problem_body
from charter.gateway.refusals import RefusalSummary

log = logging.getLogger("charter.gateway")


class Appender(Protocol):
    """The group-commit audit writer: resolves once the entry is durable.

    With `fence` (the license state version a call was allowed on) it raises FenceMoved, writing nothing, when a
    license change committed in the meantime: the call is then decided again on the new state.
    """

    async def append(self, event: AuditEvent, *, fence: int | None = None) -> int: ...


class AuditUnavailable(Exception):
    """The audit entry could not be made durable: the call must not be answered."""


@dataclass(slots=True)
class Call:
    """One call in flight."""

    started: float
    decision_id: str
    deployment: str = "-"
    caller: str = "anonymous"
    verdict: Verdict | None = None
    upstream_s: float | None = None
    facts: dict[str, Any] | None = None  # what the call declared (purpose, tools), for its audit entry
    fence: int | None = None  # license state version the call was allowed on
    asked: tuple[Deployment, Actor, str | None, tuple[str, ...]] | None = None  # to decide again
    approval: str | None = None  # the approval id the caller sent (Charter-Approval), for a tool call needing one


_REDECIDE_TRIES = 5


def _status_for(reason: str) -> int:
    """A denial's status from the catalogue: 429 rate limited, 503 status unavailable, else 403."""
    return status_of(reason, 403)


class Auditing:
    """The refusal and audit half of the gateway (`handler.Gateway` is the other)."""

    index: LiveIndex
    audit: Appender
    metrics: Metrics
    refusals: RefusalSummary

    limiter: Limiter

    def _decide(self, dep: Deployment, actor: Actor, purpose: str | None, tools: tuple[str, ...]) -> Verdict:
        raise NotImplementedError

    def _rate_limited(self, call: Call, dep: Deployment, verdict: Verdict) -> tuple[str, bytes] | None:
        """None while an allowed call is within its license's (or deployment's) rate; else the refusal's detail and
        Retry-After value, with the call's verdict turned into the rate-limit refusal."""
        grant = verdict.grant
        assert grant is not None
        rps = grant.rate_limit_rps or dep.rate_limit_rps
        bucket = self.limiter.take((grant.license_id, dep.name), rps, grant.rate_burst or dep.rate_burst)
        if bucket is None:
            return None
        call.verdict = Verdict(False, Reason.RATE_LIMITED, grant=grant, degraded=verdict.degraded)
        retry = f"{max(1, round(bucket.retry_after()))}".encode()
        return f"license {grant.license_id} on {dep.name} allows {rps:g} calls/s", retry

    async def _refuse(
        self,
        send: Send,
        call: Call,
        status: int,
        code: str,
        detail: str,
        *,
        extra: list[tuple[bytes, bytes]] | None = None,
        request: bytes | None = None,
        response: bytes | None = None,
        close: bool = False,
        problem: dict[str, Any] | None = None,
    ) -> None:
        """Refuse a call to a known deployment: its own audit entry (durable first), then the problem (with
        `problem`'s extra members, e.g. an approval id)."""
        self.metrics.denial(code)
        try:
            await self._audit(call, status, code, request, response)
        except AuditUnavailable:
            await self._audit_down(send, call)
            return
        headers = [(b"charter-decision-id", call.decision_id.encode())]
        if extra:
            headers.extend(extra)
        if close:  # the body was not read: end the connection rather than read or skip it
            headers.append((b"connection", b"close"))
        body = problem_body(
            status, code, detail, decision_id=call.decision_id, license_id=_license(call), **(problem or {})
        )
        await respond(send, status, body, PROBLEM, headers)

    async def summarise(self, send: Send, status: int, code: str, detail: str, *, close: bool = False) -> None:
        """Refuse a call that names no known deployment with a valid key: counted for the periodic summary entry
        (and in metrics by reason), not audited one by one; no decision id, as there is no entry to look up."""
        self.metrics.denial(code)
        self.refusals.count(code)
        headers: list[tuple[bytes, bytes]] = []
        if status == 401:
            headers.append((b"www-authenticate", b'Bearer realm="charter"'))
        if close:
            headers.append((b"connection", b"close"))
        await respond(send, status, problem_body(status, code, detail), PROBLEM, headers)

    async def _audit_allowed(
        self,
        call: Call,
        status: int,
        reason: str | None,
        request: bytes | None,
        response: bytes | None,
        *,
        extra: dict[str, Any] | None = None,
    ) -> Verdict | None:
        """Audit an allowed call, fenced by the license state it was allowed on.

        When a license change committed before the entry could be (FenceMoved), catch the index up and decide again:
        still allowed, the entry is written on the new state; refused, nothing is written and the new verdict is
        returned, for the caller to refuse the call. So no allow is ever ordered after the entry of a change that
        would have refused it.
        """
        for _ in range(_REDECIDE_TRIES):
            try:
                await self._audit(call, status, reason, request, response, extra=extra, fence=call.fence)
                return None
            except FenceMoved as moved:
                if call.asked is None or not await self.index.catch_up(moved.current):
                    raise AuditUnavailable from moved
                version = self.index.snapshot.version
                verdict = self._decide(*call.asked)
                call.verdict = verdict
                call.fence = _fence(verdict, version)
                if not verdict.allowed:
                    return verdict
        raise AuditUnavailable("license state kept changing: the call could not be decided on a settled state")

    async def _withhold(self, send: Send, call: Call, verdict: Verdict, request: bytes) -> None:
        reason = str(verdict.reason)
        detail = (verdict.detail or f"license {verdict.license_id}: {reason}") + (
            "; it changed while the call was in flight, so the upstream's answer is withheld"
        )
        await self._refuse(send, call, _status_for(reason), reason, detail, request=request)

    async def _audit(
        self,
        call: Call,
        status: int,
        reason: str | None,
        request: bytes | None,
        response: bytes | None,
        *,
        extra: dict[str, Any] | None = None,
        fence: int | None = None,
    ) -> int:
        elapsed = time.perf_counter() - call.started
        if call.facts:
            extra = {**call.facts, **(extra or {})}
        event = inference_event(
            decision_id=call.decision_id,
            caller=call.caller,
            deployment=call.deployment,
            verdict=call.verdict,
            status=status,
            latency_ms=elapsed * 1000,
            reason=reason,
            request=request,
            response=response,
            extra=extra,
        )
        t0 = time.perf_counter()
        try:
            seq = await self.audit.append(event, fence=fence)
        except FenceMoved:
            raise
        except Exception as exc:
            log.error("audit append failed: %s", type(exc).__name__)
            raise AuditUnavailable from exc
        done = time.perf_counter()
        if tracing.tracer() is not None:
            _trace(call, reason, seq)
        self.metrics.audit(done - t0)

        self.metrics.request(call.deployment, event.action.partition(".")[2], done - call.started, call.upstream_s)
        return seq

    async def _audit_down(self, send: Send, call: Call) -> None:
        self.metrics.denial(ErrorCode.AUDIT_UNAVAILABLE)
        body = problem_body(
            503,
            ErrorCode.AUDIT_UNAVAILABLE,
            "the audit log cannot be written, so no call is answered; retry shortly",
            decision_id=call.decision_id,
        )
        await respond(send, 503, body, PROBLEM, [(b"retry-after", b"1")])


def _fence(verdict: Verdict, version: int) -> int | None:
    """The license state version an allow stands on; none for a degraded decision, which knows no current state
    (the grace rules govern it, and its entry must stay writable while license tables cannot be read)."""
    return version if verdict.allowed and not verdict.degraded else None


def _license(call: Call) -> str | None:
    return call.verdict.license_id if call.verdict is not None else None


def _trace(call: Call, reason: str | None, seq: int) -> None:
    """The decision's facts on the request's trace (tracing on only)."""
    verdict = call.verdict
    tracing.annotate(
        deployment=call.deployment,
        decision_id=call.decision_id,
        caller=call.caller,
        license_id=_license(call),
        decision="allow" if verdict is not None and verdict.allowed and reason is None else "deny",
        reason=reason or (str(verdict.reason) if verdict is not None and not verdict.allowed else None),
        audit_seq=seq,
    )
