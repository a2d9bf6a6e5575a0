"""The SDK guard checks tools like the gateway: offered in a call's arguments, called in its answer, chunk by chunk
in a returned stream. A real container and database decide and audit (`LocalDecider`)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from charter.audit.tables import AuditEntryRow
from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.deployments import approvals, service
from charter.deployments.schemas import DeploymentCreate
from charter.guard import Guard, LicenseDenied
from charter.guard.local import LocalDecider
from charter.licenses import service as licenses
from charter.licenses.runtime import issuer_for
from tests.support.builders import user
from tests.support.gateway_fake.world import Licensed, licensed

BODY = {"name": "credit-prod", "model": "credit@1.0", "env": "production", "upstream": "http://127.0.0.1:9/"}


def _deployed_guard(container: Container, world: Licensed) -> Guard:
    """The deployment `credit-prod` of the licensed model, and a guard deciding for the license's app in process."""
    with container.uow() as uow:
        service.add(
            uow, SYSTEM_ACTOR, DeploymentCreate.model_validate(BODY), allow=container.settings.upstream_allowlist
        )
    return Guard("credit-prod", purpose="credit-scoring", decider=LocalDecider(container, world.app_key))


@pytest.fixture
def guard(container: Container) -> Guard:
    return _deployed_guard(container, licensed(container))  # tools: lookup_customer


def _denials(container: Container) -> list[dict[str, Any]]:
    with container.uow(write=False) as uow:
        rows = uow.session.scalars(select(AuditEntryRow.body).where(AuditEntryRow.action == "inference.deny"))
        return [json.loads(bytes(b)) for b in rows]


def _answer(*names: str) -> dict[str, Any]:
    calls = [
        {"id": f"c{i}", "type": "function", "function": {"name": n, "arguments": "{}"}} for i, n in enumerate(names)
    ]
    return {"choices": [{"index": 0, "message": {"role": "assistant", "tool_calls": calls}}]}


def _chunk(index: int, name: str | None = None, args: str = "") -> dict[str, Any]:
    fn: dict[str, Any] = {"arguments": args}
    if name is not None:
        fn["name"] = name
    return {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": index, "function": fn}]}}]}


class Message(BaseModel):  # the shape the OpenAI SDK returns (pydantic models with model_dump)
    choices: list[dict[str, Any]]


def test_an_answer_calling_an_unlicensed_tool_is_withheld(guard: Guard, container: Container) -> None:
    @guard
    def chat(prompt: str) -> dict[str, Any]:
        return _answer("lookup_customer", "send_email")

    with pytest.raises(LicenseDenied) as denied:
        chat("hi")
    assert denied.value.code == "tool_not_in_scope"
    assert _denials(container)[-1]["details"]["tools"] == ["lookup_customer", "send_email"]

    @guard
    def fine(prompt: str) -> Message:
        return Message.model_validate(_answer("lookup_customer"))

    assert isinstance(fine("hi"), Message)

    @guard
    def model_object(prompt: str) -> Message:
        return Message.model_validate(_answer("send_email"))

    with pytest.raises(LicenseDenied):
        model_object("hi")


def test_tools_offered_in_the_arguments_are_checked_before_the_model_runs(guard: Guard) -> None:
    ran: list[bool] = []

    @guard
    def chat(messages: list[Any], **kwargs: Any) -> str:
        ran.append(True)
        return "ok"

    with pytest.raises(LicenseDenied) as denied:
        chat([], tools=[{"type": "function", "function": {"name": "send_email"}}])
    assert denied.value.code == "tool_not_in_scope" and not ran
    with pytest.raises(LicenseDenied):
        chat([], tool_choice={"type": "function", "function": {"name": "send_email"}})
    assert chat([], tools=[{"type": "function", "function": {"name": "lookup_customer"}}]) == "ok"


def test_a_stream_stops_at_its_first_unlicensed_call(guard: Guard) -> None:
    @guard
    def chat(prompt: str) -> Iterator[dict[str, Any]]:
        yield {"choices": [{"index": 0, "delta": {"content": "hm"}}]}
        yield _chunk(0, "lookup_customer")
        yield _chunk(0, args="{}")
        yield _chunk(1, "send_email")
        yield _chunk(1, args='{"to": "x"}')

    got: list[dict[str, Any]] = []
    with pytest.raises(LicenseDenied) as denied:
        for chunk in chat("hi"):
            got.append(chunk)
    assert denied.value.code == "tool_not_in_scope"
    assert len(got) == 3 and "send_email" not in json.dumps(got)


def test_an_async_stream_stops_at_its_first_unlicensed_call(guard: Guard) -> None:
    @guard
    async def chat(prompt: str) -> AsyncIterator[dict[str, Any]]:
        async def chunks() -> AsyncIterator[dict[str, Any]]:
            yield _chunk(0, "lookup_customer")
            yield _chunk(1, "send_email")

        return chunks()

    async def run() -> list[dict[str, Any]]:
        got = []
        async for chunk in await chat("hi"):
            got.append(chunk)
        return got

    with pytest.raises(LicenseDenied):
        asyncio.run(run())


@pytest.fixture
def ruled_guard(container: Container) -> Guard:
    """`transfer` needs legal's approval; `refund` only up to 500 (the license's rules, as the gateway applies them)."""
    world = licensed(
        container,
        tools=("lookup_customer", "transfer", "refund"),
        tool_conditions=["refund => args.amount <= 500"],
        approvals=["transfer => role:legal"],
    )
    with container.uow() as uow:
        signed = licenses.token(uow, SYSTEM_ACTOR, world.license_id, issuer_for(container)).token
    rules = json.loads(base64.urlsafe_b64decode(signed.split(".")[1] + "=="))["scope"]["tool_rules"]
    assert {(r["tool"], r["kind"]) for r in rules} == {("refund", "condition"), ("transfer", "approval")}  # offline too
    return _deployed_guard(container, world)


def _called(name: str, args: str) -> dict[str, Any]:
    call = {"id": "c0", "type": "function", "function": {"name": name, "arguments": args}}
    return {"choices": [{"index": 0, "message": {"role": "assistant", "tool_calls": [call]}}]}


def test_an_answer_breaking_a_tool_condition_is_withheld_with_the_condition_named(
    ruled_guard: Guard, container: Container
) -> None:
    answers = iter(['{"amount": 20}', '{"amount": 800}', '{"amount": 1, "amount": 900}', "[1]"])

    @ruled_guard
    def chat(prompt: str) -> dict[str, Any]:
        return _called("refund", next(answers))

    assert chat("small")["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "refund"
    for why in ("args.amount <= 500", "repeat a key", "must be a JSON object"):
        with pytest.raises(LicenseDenied) as denied:
            chat("again")
        assert denied.value.code == "tool_condition_failed" and why in str(denied.value), str(denied.value)
    entry = _denials(container)[-1]["details"]
    assert entry["tool_calls"][0]["tool"] == "refund"


def test_an_answer_needing_approval_is_withheld_until_approved_then_passes_once(
    ruled_guard: Guard, container: Container
) -> None:
    args = '{"to": "DE44 5001", "amount": 900}'

    @ruled_guard
    def chat(prompt: str) -> dict[str, Any]:
        return _called("transfer", prompt)

    with pytest.raises(LicenseDenied) as held:
        chat(args)
    assert held.value.code == "approval_required"
    approval_id = held.value.details["approval_id"]
    assert f"guard.approved('{approval_id}')" in str(held.value)
    with container.uow(write=False) as uow:
        asked = approvals.get(uow, SYSTEM_ACTOR, approval_id)
    assert asked.tool == "transfer" and asked.args == {"to": "DE44 5001", "amount": 900} and asked.state == "pending"
    with container.uow() as uow:
        approvals.decide(uow, user(container, "tess", "reviewer", "legal"), approval_id, approve=True)
    with ruled_guard.approved(approval_id):
        with pytest.raises(LicenseDenied) as other:
            chat('{"to": "DE44 5001", "amount": 9000}')  # not the call the human approved
        assert other.value.code == "approval_refused"
        passed = chat(args)["choices"][0]["message"]["tool_calls"][0]["function"]
        assert json.loads(passed["arguments"])["amount"] == 900
        with pytest.raises(LicenseDenied) as again:
            chat(args)
        assert again.value.code == "approval_refused" and "already used" in str(again.value)


def test_a_stream_calling_a_ruled_tool_is_held_until_its_arguments_are_whole(ruled_guard: Guard) -> None:
    def script(amount: str) -> Iterator[dict[str, Any]]:
        yield {"choices": [{"index": 0, "delta": {"content": "refunding"}}]}
        yield _chunk(0, "refund", '{"amount"')
        yield _chunk(0, args=f": {amount}}}")
        yield {"choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}

    @ruled_guard
    def chat(amount: str) -> Iterator[dict[str, Any]]:
        return script(amount)

    got: list[dict[str, Any]] = []
    with pytest.raises(LicenseDenied) as denied:
        for chunk in chat("800"):
            got.append(chunk)
    assert denied.value.code == "tool_condition_failed"
    assert got == [next(script("800"))]  # the text before the call; none of the call's pieces
    assert len(list(chat("20"))) == 4

    @ruled_guard
    async def achat(amount: str) -> AsyncIterator[dict[str, Any]]:
        async def chunks() -> AsyncIterator[dict[str, Any]]:
            for chunk in script(amount):
                yield chunk

        return chunks()

    async def run(amount: str) -> list[dict[str, Any]]:
        return [chunk async for chunk in await achat(amount)]

    assert len(asyncio.run(run("20"))) == 4
    with pytest.raises(LicenseDenied) as async_denied:
        asyncio.run(run("800"))
    assert async_denied.value.code == "tool_condition_failed"
