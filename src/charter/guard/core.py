"""`governed`: the gateway's checks for in-process models, as a decorator or a (sync or async) context manager.

    @governed(deployment="credit-scoring-prod", purpose="credit-scoring")
    def predict(features): ...

    with governed(deployment="credit-scoring-prod", purpose="credit-scoring") as decision: ...

Each call is decided and audited before the model runs (via the Charter API, or a local container); when the
server cannot be reached and an `OfflineVerifier` is configured, the license token and status list decide and the
decision goes to a local JSONL spool. Payloads are never sent: only their SHA-256.

With `capture=True`, each call's features and prediction are counted into monitoring sketches in this process and
only the sketches are sent (`charter.guard.capture`).

Tools (`charter.guard.tools`): the declared `tools`, those a call's `tools=`/`functions=`/`tool_choice=` arguments
offer, and those the answer calls (also chunk by chunk in a returned stream) are all decided against the license;
an answer calling a tool outside it is withheld (`LicenseDenied`) in enforce mode. An answer calling a tool with
argument conditions or an approval in the license is decided with its arguments; one needing approval is refused
with the approval asked (`LicenseDenied`, code `approval_required`, `approval_id`), and passes once under
`with guard.approved(approval_id):` after a human approved it.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import inspect
import logging
import time
import warnings
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol, TypeVar, cast

import orjson

from charter.core.ids import new_id
from charter.deployments import toolscope
from charter.deployments.model import Grant, Reason, Request, Verdict
from charter.guard.capture import Capture, CaptureClient, call_features
from charter.guard.model import Decision, LicenseDenied, LicenseWarning, Mode
from charter.guard.offline import OfflineVerifier
from charter.guard.remote import RemoteDecider, Unreachable
from charter.guard.tools import acheck_answer, check_answer, offered

log = logging.getLogger("charter.guard")
F = TypeVar("F", bound=Callable[..., Any])
# The approval `Guard.approved` grants to the answers checked inside its block (this task or thread only).
_APPROVAL: ContextVar[str | None] = ContextVar("charter_guard_approval", default=None)


class Decider(Protocol):
    def decide(self, deployment: str, body: dict[str, Any]) -> Decision: ...


def payload_digest(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """sha256 of the call's arguments (JSON where possible, else their repr)."""
    try:
        data = orjson.dumps([list(args), kwargs], option=orjson.OPT_SORT_KEYS | orjson.OPT_SERIALIZE_NUMPY)
    except TypeError:
        data = repr((args, sorted(kwargs.items()))).encode()
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Guard:
    """Checks one deployment's license for each call; see the module docstring."""

    def __init__(
        self,
        deployment: str,
        *,
        purpose: str | None = None,
        tools: tuple[str, ...] | list[str] = (),
        mode: Mode | str = Mode.ENFORCE,
        caller: str | None = None,
        decider: Decider | None = None,
        url: str | None = None,
        api_key: str | None = None,
        offline: OfflineVerifier | None = None,
        spool: Path | str | None = None,
        capture: bool | Capture = False,
        capture_flush_s: float = 60.0,
    ) -> None:
        self.deployment = deployment
        self.purpose = purpose
        self.tools = tuple(tools)
        self.mode = Mode(mode)
        self.caller = caller
        self.remote = RemoteDecider(url, api_key) if decider is None else None
        self.decider: Decider = decider if decider is not None else cast(Decider, self.remote)
        self.offline = offline
        self.spool = Path(spool) if spool is not None else None
        self.last: Decision | None = None
        self.capture = self._capture(capture, capture_flush_s)

    def _capture(self, capture: bool | Capture, flush_s: float) -> Capture | None:
        if isinstance(capture, Capture) or not capture:
            return capture or None
        client = self.decider
        if not (hasattr(client, "capture_target") and hasattr(client, "submit_capture")):
            raise TypeError("capture=True needs a decider that can reach Charter (the API or a LocalDecider)")
        return Capture(self.deployment, cast(CaptureClient, client), flush_s=flush_s)

    def observe(self, features: Any, prediction: Any) -> None:
        """Count one call's features and prediction for monitoring (with `capture`; never raises)."""
        if self.capture is not None:
            self.capture.observe(features, prediction)

    def close(self) -> None:
        """Send what capture counted and release the HTTP client."""
        if self.capture is not None:
            self.capture.close()
        if self.remote is not None:
            self.remote.close()

    # --- deciding ------------------------------------------------------------------------------------------------

    def _body(
        self, digest: str | None, tools: tuple[str, ...], answer_calls: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "purpose": self.purpose,
            "tools": list(tools),
            "mode": str(self.mode),
            "request_digest": digest,
        }
        if answer_calls:
            body["answer_calls"] = answer_calls
            body["approval_id"] = _APPROVAL.get()
        return body

    @contextlib.contextmanager
    def approved(self, approval_id: str) -> Iterator[None]:
        """Answers checked inside this block may spend `approval_id` (granted by a human for one exact tool call)."""
        token = _APPROVAL.set(approval_id)
        try:
            yield
        finally:
            _APPROVAL.reset(token)

    def _offline(
        self, digest: str | None, tools: tuple[str, ...], why: str, answer_calls: list[dict[str, Any]] | None = None
    ) -> Decision:
        if self.offline is None or self.caller is None:
            return Decision(
                decision_id="",
                allowed=False,
                deployment=self.deployment,
                reason="license_status_unavailable",
                detail=f"Charter is unreachable ({why}) and no offline verifier is configured",
            )
        verdict = self.offline.decide(Request(self.caller, self.purpose, tools))
        grant = verdict.grant
        if verdict.allowed and grant is not None and answer_calls:
            verdict = _offline_answer(verdict, grant, self.deployment, answer_calls, why)
        decision = Decision(
            decision_id=new_id("dec"),
            allowed=verdict.allowed,
            deployment=self.deployment,
            reason=str(verdict.reason) if verdict.reason else None,
            detail=verdict.detail,
            license_id=verdict.license_id,
            degraded=verdict.degraded,
            offline=True,
            ruled_tools=tuple(sorted({r.tool for r in grant.tool_rules})) if grant is not None else (),
        )
        self._spool(decision, digest)
        return decision

    def _spool(self, decision: Decision, digest: str | None) -> None:
        if self.spool is None:
            return
        line = {
            "ts": time.time(),
            "decision_id": decision.decision_id,
            "deployment": self.deployment,
            "caller": self.caller,
            "license_id": decision.license_id,
            "allowed": decision.allowed,
            "reason": decision.reason,
            "degraded": decision.degraded,
            "mode": str(self.mode),
            "request_digest": digest,
        }
        with self.spool.open("ab") as fh:
            fh.write(orjson.dumps(line) + b"\n")

    def check(
        self,
        digest: str | None = None,
        *,
        tools: tuple[str, ...] | None = None,
        answer_calls: list[dict[str, Any]] | None = None,
    ) -> Decision:
        """Decide (and audit) one call; applies the mode: raises `LicenseDenied` in enforce mode. `answer_calls`:
        the answer's calls of tools with rules in the license (`{"tool", "arguments"}`), checked like the gateway's."""
        use = self.tools if tools is None else tools
        try:
            decision = self.decider.decide(self.deployment, self._body(digest, use, answer_calls))
        except Unreachable as exc:
            decision = self._offline(digest, use, str(exc), answer_calls)
        return self._apply(decision)

    async def acheck(
        self,
        digest: str | None = None,
        *,
        tools: tuple[str, ...] | None = None,
        answer_calls: list[dict[str, Any]] | None = None,
    ) -> Decision:
        """`check` for async code (the HTTP round trip does not block the loop)."""
        use = self.tools if tools is None else tools
        body = self._body(digest, use, answer_calls)
        try:
            if self.remote is not None:
                decision = await self.remote.adecide(self.deployment, body)
            else:
                decision = await asyncio.to_thread(self.decider.decide, self.deployment, body)
        except Unreachable as exc:
            decision = self._offline(digest, use, str(exc), answer_calls)
        return self._apply(decision)

    def tool_call(
        self, server: str, tool: str, args: dict[str, Any] | None = None, *, approval: str | None = None
    ) -> Decision:
        """Decide (and audit) an agent's call of `tool` on the MCP deployment `server` with `args`, as the gateway
        would at /mcp/{server}: the tool in the license's scope, its argument conditions true, and, when the license
        asks for one, a human's approval (`LicenseDenied` with code `approval_required` and `approval_id`; retry with
        `approval=` that id and the same arguments once it is approved). Enforce mode raises on refusal."""
        body = self._body(None, ())
        body["tool_call"] = {"tool": tool, "arguments": args or {}, "approval_id": approval}
        try:
            decision = self.decider.decide(server, body)
        except Unreachable as exc:
            decision = Decision("", False, server, "license_status_unavailable", f"Charter is unreachable ({exc})")
        return self._apply(decision)

    def _apply(self, decision: Decision) -> Decision:
        self.last = decision
        if decision.allowed:
            return decision
        if self.mode is Mode.ENFORCE:
            raise LicenseDenied(decision)
        if self.mode is Mode.WARN:
            msg = f"{self.deployment}: call not covered by a license ({decision.reason}): {decision.detail}"
            warnings.warn(msg, LicenseWarning, stacklevel=4)
            log.warning("%s", msg)
        return decision

    # --- decorator and context manager ---------------------------------------------------------------------------

    def _with_offered(self, kwargs: dict[str, Any]) -> tuple[str, ...]:
        """The guard's declared tools plus those the call's OpenAI-style keyword arguments offer."""
        extra = offered(kwargs)
        return tuple(dict.fromkeys(self.tools + extra)) if extra else self.tools

    def __call__(self, fn: F) -> F:
        if inspect.iscoroutinefunction(fn):

            @functools.wraps(fn)
            async def awrapper(*args: Any, **kwargs: Any) -> Any:
                digest = payload_digest(args, kwargs)
                use = self._with_offered(kwargs)
                ruled = frozenset((await self.acheck(digest, tools=use)).ruled_tools)
                result = await fn(*args, **kwargs)
                result = await acheck_answer(
                    result,
                    use,
                    lambda tools, calls: self.acheck(digest, tools=tools, answer_calls=calls),
                    lambda tools, calls: self.check(digest, tools=tools, answer_calls=calls),
                    ruled,
                )
                capture = self.capture
                if capture is not None:
                    if capture.ready:
                        capture.observe(call_features(args, kwargs), result)
                    else:  # the first call fetches the profile: not on the event loop
                        await asyncio.to_thread(capture.observe, call_features(args, kwargs), result)
                return result

            return cast(F, awrapper)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            digest = payload_digest(args, kwargs)
            use = self._with_offered(kwargs)
            ruled = frozenset(self.check(digest, tools=use).ruled_tools)
            result = check_answer(
                fn(*args, **kwargs),
                use,
                lambda tools, calls: self.check(digest, tools=tools, answer_calls=calls),
                ruled,
            )
            if self.capture is not None:
                self.capture.observe(call_features(args, kwargs), result)
            return result

        return cast(F, wrapper)

    def __enter__(self) -> Decision:
        return self.check()

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        return None

    async def __aenter__(self) -> Decision:
        return await self.acheck()

    async def __aexit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        return None


def _offline_answer(verdict: Verdict, grant: Grant, deployment: str, calls: list[dict[str, Any]], why: str) -> Verdict:
    """An answer's ruled calls decided from the license token alone: conditions are checked here; a call needing a
    human's approval is refused, since only Charter can ask for one or spend it."""
    found = toolscope.ruled_calls_of(grant, [(str(c["tool"]), c["arguments"]) for c in calls])
    checked = toolscope.check_answer(grant, deployment, found)
    if checked.refusal is not None:
        return Verdict(
            False, checked.refusal.reason, grant=grant, degraded=verdict.degraded, detail=checked.refusal.detail
        )
    if checked.held is not None:
        detail = (
            f"tool {checked.held.tool} needs approval by {checked.approver}, and approvals need Charter, which is "
            f"unreachable ({why})"
        )
        return Verdict(False, Reason.APPROVAL_REFUSED, grant=grant, degraded=verdict.degraded, detail=detail)
    return verdict


def governed(deployment: str, **options: Any) -> Guard:
    """A `Guard` for `deployment`: use as `@governed(...)` or `with governed(...) as decision:`."""
    return Guard(deployment, **options)
