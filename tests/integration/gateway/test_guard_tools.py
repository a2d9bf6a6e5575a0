"""The SDK guard checks tools like the gateway: offered in a call's arguments, called in its answer, chunk by chunk
in a returned stream. A real container and database decide and audit (`LocalDecider`)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from pydantic import BaseModel
from sqlalchemy import select

from charter.audit.tables import AuditEntryRow
from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.deployments import service
from charter.deployments.schemas import DeploymentCreate
from charter.guard import Guard, LicenseDenied
from charter.guard.local import LocalDecider
from tests.support.gateway_fake.world import licensed

BODY = {"name": "credit-prod", "model": "credit@1.0", "env": "production", "upstream": "http://127.0.0.1:9/"}


@pytest.fixture
def guard(container: Container) -> Guard:
    world = licensed(container)  # tools: lookup_customer
    with container.uow() as uow:
        service.add(
            uow, SYSTEM_ACTOR, DeploymentCreate.model_validate(BODY), allow=container.settings.upstream_allowlist
        )
    return Guard("credit-prod", purpose="credit-scoring", decider=LocalDecider(container, world.app_key))


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
