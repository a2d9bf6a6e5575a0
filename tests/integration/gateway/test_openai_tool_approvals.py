"""Human approvals and argument conditions for OpenAI tool calls at the gateway, as for MCP `tools/call`.

Real uvicorn, a real aiohttp model server on loopback answering with tool calls, real keys, the approval store in
the database and the audit log. The model calls `transfer`, which the license marks `approval: role:legal`:
the answer is withheld and an approval asked; once a legal reviewer approves it, the same request with
`Charter-Approval: ID` passes exactly once, and only for the same arguments.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from charter.audit.tables import AuditEntryRow
from charter.auth import service as auth_service
from charter.auth.model import SYSTEM_ACTOR
from charter.auth.schemas import AppCreate, KeyCreate
from charter.bootstrap import Container
from charter.core.clock import pinned
from charter.deployments import approvals
from charter.deployments.index import Snapshot
from charter.deployments.model import Deployment, Grant, ToolRule
from charter.gateway.app import StoredApprovals
from charter.gateway.index import LiveIndex
from tests.hostile.gateway_support import ModelServer
from tests.integration.gateway.harness import served_gateway
from tests.support.builders import user

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
DIGEST = "sha256:" + "cd" * 32
PURPOSE = "payments"
TOOLS = [{"type": "function", "function": {"name": "transfer"}}, {"type": "function", "function": {"name": "lookup"}}]


class World:
    def __init__(self, container: Container, model: ModelServer) -> None:
        now = time.time()
        self.grant = Grant(
            license_id="lic_pay",
            digest=DIGEST,
            env="production",
            state="active",
            purposes=frozenset({PURPOSE}),
            callers=frozenset({"app:agent"}),
            tools=frozenset({"transfer", "lookup", "refund"}),
            nbf=now - 60,
            exp=now + 3600,
            tool_rules=(
                ToolRule("transfer", "approval", "role:legal"),
                ToolRule("refund", "condition", "args.amount <= 500"),
            ),
        )
        dep = Deployment(
            id="dep_p",
            name="pay-agent",
            model="pay@1",
            system="pay",
            digest=DIGEST,
            env="production",
            upstream=model.url,
        )
        self.deps = {"pay-agent": dep}
        self.index = LiveIndex(lambda: 1, self._load, poll_s=0.05)
        self.url = ""

    def _load(self) -> Snapshot:
        return Snapshot(version=1, grants={(DIGEST, "production"): (self.grant,)}, deployments=self.deps)


@pytest.fixture
def world(container: Container) -> Iterator[tuple[World, str, str]]:
    keys = []
    for app in ("agent", "other-agent"):
        with container.uow() as uow:
            auth_service.add_app(uow, SYSTEM_ACTOR, AppCreate(name=app))
        with container.uow() as uow:
            keys.append(auth_service.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal=f"app:{app}")).key)

    model = ModelServer().start()
    try:
        w = World(container, model)
        approvals = StoredApprovals(container)
        with served_gateway(container, w.index, fence=lambda conn: 1, approvals=approvals) as (_, url):
            w.url = url
            yield w, keys[0], keys[1]
    finally:
        model.stop()


def _ask(w: World, key: str, script: str, *, approval: str | None = None, stream: bool = False) -> httpx.Response:
    body: dict[str, Any] = {"model": "pay-agent", "messages": [{"role": "user", "content": script}], "tools": TOOLS}
    if stream:
        body["stream"] = True
    headers = {"Authorization": f"Bearer {key}", "Charter-Purpose": PURPOSE}
    if approval:
        headers["Charter-Approval"] = approval
    return httpx.post(w.url + "/v1/chat/completions", json=body, headers=headers, timeout=10)


def _entry(container: Container, decision_id: str) -> dict[str, Any]:
    with container.uow(write=False) as uow:
        rows = uow.session.scalars(select(AuditEntryRow).where(AuditEntryRow.action.like("inference.%")))
        found = [json.loads(r.body) for r in rows]
    (entry,) = [e for e in found if e["details"]["decision_id"] == decision_id]
    assert isinstance(entry, dict)
    return entry


def _actions(container: Container, approval_id: str) -> list[str]:
    with container.uow(write=False) as uow:
        rows = uow.session.scalars(select(AuditEntryRow).where(AuditEntryRow.resource == f"approval:{approval_id}"))
        return [json.loads(r.body)["action"] for r in rows]


TRANSFER = 'args:transfer:{"to": "DE44 5001", "amount": 900}'


def test_a_tool_call_needing_approval_is_held_then_passes_once_for_the_same_arguments(
    world: tuple[World, str, str], container: Container
) -> None:
    w, key, other = world
    held = _ask(w, key, TRANSFER)
    assert held.status_code == 403, held.text
    problem = held.json()
    assert problem["code"] == "approval_required" and problem["license_id"] == "lic_pay"
    approval_id = problem["approval_id"]
    assert approval_id.startswith("apr_") and "role:legal" in problem["detail"]
    assert f"Charter-Approval: {approval_id}" in problem["detail"]
    assert "DE44" not in held.text  # the model's answer (and its call) is withheld
    entry = _entry(container, problem["decision_id"])
    assert entry["outcome"] == "denied" and entry["details"]["reason"] == "approval_required"
    assert entry["details"]["tool_calls"][0]["tool"] == "transfer"
    with container.uow(write=False) as uow:
        pending = approvals.get(uow, SYSTEM_ACTOR, approval_id)
    assert pending.state == "pending" and pending.args == {"to": "DE44 5001", "amount": 900}
    assert pending.deployment == "pay-agent" and pending.tool == "transfer" and pending.agent == "app:agent"
    assert pending.args_sha256 == entry["details"]["tool_calls"][0]["args_sha256"]

    waiting = _ask(w, key, TRANSFER, approval=approval_id)
    assert waiting.status_code == 403 and waiting.json()["code"] == "approval_refused"
    assert "still waiting" in waiting.json()["detail"]

    treasurer = user(container, "tess", "reviewer", "legal")
    with container.uow() as uow:
        approvals.decide(uow, treasurer, approval_id, approve=True)
    assert _ask(w, other, TRANSFER, approval=approval_id).json()["code"] in ("caller_not_in_scope", "approval_refused")
    changed = _ask(w, key, 'args:transfer:{"to": "DE44 5001", "amount": 9000}', approval=approval_id)
    assert changed.status_code == 403 and "other arguments" in changed.json()["detail"]
    passed = _ask(w, key, TRANSFER, approval=approval_id)
    assert passed.status_code == 200, passed.text
    call = passed.json()["choices"][0]["message"]["tool_calls"][0]["function"]
    assert call["name"] == "transfer" and json.loads(call["arguments"])["amount"] == 900
    ok_entry = _entry(container, passed.headers["charter-decision-id"])
    assert ok_entry["outcome"] == "success" and ok_entry["details"]["tool_calls"][0]["approval_id"] == approval_id
    again = _ask(w, key, TRANSFER, approval=approval_id)
    assert again.status_code == 403 and "already used" in again.json()["detail"]
    actions = _actions(container, approval_id)
    assert actions[0] == "approval.request" and "approval.approve" in actions and "approval.use" in actions


def test_denied_and_expired_approvals_refuse_and_other_tools_pass(
    world: tuple[World, str, str], container: Container
) -> None:
    w, key, _ = world
    assert _ask(w, key, "call:lookup").status_code == 200  # no rule: passes as before
    assert _ask(w, key, 'args:refund:{"amount": 20}').status_code == 200
    over = _ask(w, key, 'args:refund:{"amount": 800}')
    assert over.status_code == 403 and over.json()["code"] == "tool_condition_failed"
    assert "args.amount <= 500" in over.json()["detail"]
    bad = _ask(w, key, "args:refund:not json")
    assert bad.status_code == 403 and bad.json()["code"] == "tool_condition_failed"
    twice = _ask(w, key, 'args:refund:{"amount": 1, "amount": 900}')  # which amount would the tool read?
    assert twice.status_code == 403 and "repeat a key" in twice.json()["detail"]
    treasurer = user(container, "tess", "reviewer", "legal")
    denied = _ask(w, key, TRANSFER).json()["approval_id"]
    with container.uow() as uow:
        approvals.decide(uow, treasurer, denied, approve=False, reason="not this month")
    refused = _ask(w, key, TRANSFER, approval=denied)
    assert refused.status_code == 403 and "was denied by user:tess" in refused.json()["detail"]
    with pinned() as clock:
        late = _ask(w, key, TRANSFER).json()["approval_id"]
        with container.uow() as uow:
            approvals.decide(uow, treasurer, late, approve=True)
        clock.advance(approvals.DEFAULT_TTL + timedelta(seconds=1))
        expired = _ask(w, key, TRANSFER, approval=late)
        assert expired.status_code == 403 and "has expired" in expired.json()["detail"]


def _events(r: httpx.Response) -> list[Any]:
    """The `data:` payloads of an SSE answer, JSON-decoded (`[DONE]` as the string)."""
    out: list[Any] = []
    for line in r.text.splitlines():
        if line.startswith("data: "):
            data = line[6:]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def _streamed_args(events: list[Any]) -> str:
    return "".join(
        c["function"].get("arguments", "")
        for e in events
        if isinstance(e, dict) and "choices" in e
        for c in e["choices"][0]["delta"].get("tool_calls", [])
    )


def test_a_streamed_call_needing_approval_is_held_until_complete_then_passes_once_approved(
    world: tuple[World, str, str], container: Container
) -> None:
    """`"stream": true`: the text before the call streams; the call's events are held until its arguments are
    whole, then replaced by an error event (approval asked) or, with the approval, released with `[DONE]`."""
    w, key, _ = world
    held = _ask(w, key, TRANSFER, stream=True)
    assert held.status_code == 200 and held.headers["content-type"].startswith("text/event-stream")
    events = _events(held)
    assert events[0]["choices"][0]["delta"]["content"] == "thinking "  # before the call: sent as it came
    error = events[-1]["error"]
    assert error["code"] == "approval_required" and error["approval_id"].startswith("apr_")
    assert "DE44" not in held.text and "transfer" not in json.dumps(events[:-1])  # the call never went out
    assert "[DONE]" not in events
    entry = _entry(container, held.headers["charter-decision-id"])
    assert entry["outcome"] == "denied" and entry["details"]["reason"] == "approval_required"
    assert entry["details"]["held"] is True and entry["details"]["tool_calls"][0]["tool"] == "transfer"
    approval_id = error["approval_id"]
    with container.uow(write=False) as uow:
        assert approvals.get(uow, SYSTEM_ACTOR, approval_id).args == {"to": "DE44 5001", "amount": 900}
    with container.uow() as uow:
        approvals.decide(uow, user(container, "tess", "reviewer", "legal"), approval_id, approve=True)
    other_args = _ask(w, key, 'args:transfer:{"to": "DE44 5001", "amount": 9000}', stream=True, approval=approval_id)
    assert _events(other_args)[-1]["error"]["code"] == "approval_refused" and "9000" not in other_args.text
    passed = _ask(w, key, TRANSFER, stream=True, approval=approval_id)
    events = _events(passed)
    assert events[-1] == "[DONE]" and json.loads(_streamed_args(events)) == {"to": "DE44 5001", "amount": 900}
    ok = _entry(container, passed.headers["charter-decision-id"])
    assert ok["outcome"] == "success" and ok["details"]["tool_calls"][0]["approval_id"] == approval_id
    again = _ask(w, key, TRANSFER, stream=True, approval=approval_id)
    assert "already used" in _events(again)[-1]["error"]["message"]


def test_streamed_calls_meet_conditions_on_their_whole_arguments_and_unruled_tools_are_not_held(
    world: tuple[World, str, str], container: Container
) -> None:
    w, key, _ = world
    over = _ask(w, key, 'args:refund:{"amount": 800}', stream=True)
    error = _events(over)[-1]["error"]
    assert error["code"] == "tool_condition_failed" and "args.amount <= 500" in error["message"]
    assert "800" not in over.text.replace(error["message"], "")  # the pieces of the call never went out
    fine = _events(_ask(w, key, 'args:refund:{"amount": 20}', stream=True))
    assert fine[-1] == "[DONE]" and json.loads(_streamed_args(fine)) == {"amount": 20}
    bad = _events(_ask(w, key, "args:refund:not json", stream=True))
    assert bad[-1]["error"]["code"] == "tool_condition_failed"
    plain = _ask(w, key, "call:lookup", stream=True)  # no rule: streamed as before, nothing held
    assert _events(plain)[-1] == "[DONE]"
    entry = _entry(container, plain.headers["charter-decision-id"])
    assert entry["outcome"] == "success" and "held" not in entry["details"]


def test_an_answer_hiding_a_second_call_needing_approval_is_refused_without_spending_or_asking(
    world: tuple[World, str, str], container: Container
) -> None:
    """One approval passes one call: two calls of `transfer` in one answer are refused as a whole."""
    w, key, _ = world
    approval_id = _ask(w, key, 'args:transfer:{"q": 1}').json()["approval_id"]
    with container.uow() as uow:
        approvals.decide(uow, user(container, "tess", "reviewer", "legal"), approval_id, approve=True)
    two = _ask(w, key, "call:transfer,transfer", approval=approval_id)
    assert two.status_code == 403 and two.json()["code"] == "approval_refused"
    assert "2 tools needing approval" in two.json()["detail"] and "approval_id" not in two.json()
    with container.uow(write=False) as uow:
        assert approvals.get(uow, SYSTEM_ACTOR, approval_id).state == "approved"  # not spent
        assert len(approvals.list_all(uow, SYSTEM_ACTOR, "pending")) == 0  # nothing asked
    assert _ask(w, key, "call:transfer", approval=approval_id).status_code == 200  # the approved call, once
