"""Schemathesis over the whole OpenAPI document on a realistic world: no 5xx, no response-schema violation, every
operation's logic reached; per operation (every role) and stateful (following the document's links).

The world is the demo plus one of everything a destructive operation consumes (`api_world`). Per operation, the fuzz
first sends one realistic request (`api_world.requests`), then generated ones (valid and invalid, a bounded number)
with the path parameters of real resources (one in three keeps generated ones, for the not-found paths), as the admin,
as each demo person and app, then with no key and a malformed one. An operation is *reached* when some answer came
from its logic: a 2xx, or a domain refusal (409, or a 422 other than request validation); never a 404 or 403.
Failures are collected per operation and identity so one run reports every broken operation, not the first.

Examples per operation: CHARTER_FUZZ_EXAMPLES (admin; others get a third), CHARTER_FUZZ_STATEFUL (state machine
scenarios).
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis.errors import Flaky
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from charter.bootstrap import Container
from charter.server import Dispatcher
from tests.conftest import MakeUser
from tests.reliability import api_world

pytestmark = [pytest.mark.parametrize("backend", ["sqlite"], indirect=True), pytest.mark.timeout(900)]

ADMIN_EXAMPLES = int(os.environ.get("CHARTER_FUZZ_EXAMPLES", "5"))
OTHER_EXAMPLES = max(1, ADMIN_EXAMPLES // 3)
STATEFUL_SCENARIOS = int(os.environ.get("CHARTER_FUZZ_STATEFUL", "40"))
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# Routes whose handlers stream large artifacts; they are fuzzed, but only their status is checked.
BINARY = ("/reports/systems/", "/export", "/report.pdf")
# Identities beyond the admin: a demo person per role, an app that is a licensed caller.
PEOPLE = ("mara", "sam", "louise", "audrey", "app:loan-portal")
UNREACHED_CODES = {"not_found", "validation_failed", "forbidden", "missing_api_key", "invalid_api_key"}


def http_only(app: Dispatcher) -> Callable[..., Any]:
    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        """The whole process's app without its lifespan (the transport runs one per call; the API needs none)."""
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await app(scope, receive, send)

    return asgi


def checks_for(path: str) -> list[Any]:
    return [not_a_server_error] if any(b in path for b in BINARY) else CHECKS


def reached(response: Any) -> bool:
    """Whether the answer came from the operation's logic, not from a missing resource or refused input."""
    if 200 <= response.status_code < 300:
        return True
    if response.status_code not in (409, 422):
        return False
    try:
        code = response.json().get("code")
    except ValueError:
        return False
    return code not in UNREACHED_CODES


class Fuzz:
    """Runs cases and records failures, answer classes and which operations were reached."""

    def __init__(self, keys: dict[str, str], calls: dict[str, api_world.Call]) -> None:
        self.keys = keys
        self.calls = calls
        self.failures: list[str] = []
        self.statuses: Counter[str] = Counter()
        self.reached: set[str] = set()
        self.answers: dict[str, str] = {}  # operation -> its realistic request's answer (status, code)
        self.last: Any = None  # the latest answer
        self.count = 0

    def headers(self, who: str) -> dict[str, str]:
        key = self.keys.get(who)
        return {"Authorization": f"Bearer {key}"} if key else {}

    def send(self, op: Any, case: Any, who: str, headers: dict[str, str]) -> None:
        self.count += 1
        try:
            response = self.last = case.call(headers=headers)
        except Exception as exc:  # the app raised through the transport: a crash, not an HTTP answer
            self.failures.append(f"{who} {op.label}: raised {type(exc).__name__}: {exc}"[:400])
            return
        self.statuses[f"{who} {response.status_code // 100}xx"] += 1
        if who.endswith("(realistic)"):
            self.answers[op.label] = f"{response.status_code} {response.content[:200].decode(errors='replace')}"
        if reached(response):
            self.reached.add(op.label)
        try:
            case.validate_response(response, checks=checks_for(op.path))
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis groups its failures
            self.failures.append(f"{who} {op.label} -> {response.status_code}: {str(exc)[:300]}")

    def realistic(self, op: Any, call: api_world.Call | None = None) -> None:
        """The operation's realistic request (or `call`), as the identity it is meant for."""
        call = call or self.calls[op.label]
        parts: dict[str, Any] = {"path_parameters": call.path or None, "query": call.query or None}
        if call.body is not None:
            parts |= {"body": call.body, "media_type": call.media}
        case = op.Case(**parts)
        self.send(op, case, f"{call.who} (realistic)", self.headers(call.who))

    def generated(self, op: Any, who: str, headers: dict[str, str], examples: int) -> None:
        """`examples` generated cases; two in three on the path parameters of real resources."""
        seeded = self.calls[op.label].path
        n = 0

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=op.as_strategy())
        def test(case: Any) -> None:
            nonlocal n
            n += 1
            if seeded and n % 3:
                case.path_parameters = {**(case.path_parameters or {}), **seeded}
            self.send(op, case, who, headers)

        test()


def test_openapi_fuzz_on_a_realistic_world(container: Container, admin_key: str, make_user: MakeUser) -> None:
    started = time.perf_counter()
    world = api_world.seed(container, admin_key)
    seeded_s = time.perf_counter() - started
    keys = {"admin": admin_key, **{p: world.keys[p] for p in PEOPLE}}
    keys["viewer"] = make_user("viewer")[1]
    keys["ml-engineer@system:credit-scoring"] = make_user("ml-engineer", scope="system:credit-scoring")[1]
    calls = api_world.requests(world)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", http_only(Dispatcher(container)))
    ops = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]  # an Err has no ok(): fails
    assert {op.label for op in ops} == set(calls), "every operation needs a realistic request in api_world"
    fuzz = Fuzz(world.keys | keys, calls)
    for op in ops:  # first the realistic request of each operation, in document order (create before change)
        fuzz.realistic(op)
    realistic_reached = set(fuzz.reached)
    for who in keys:
        examples = ADMIN_EXAMPLES if who == "admin" else OTHER_EXAMPLES
        for op in ops:
            fuzz.generated(op, who, fuzz.headers(who), examples)
    for op in ops:  # and with no key, or a malformed one
        fuzz.generated(op, "anonymous", {}, 1)
        fuzz.generated(op, "bad-key", {"Authorization": "Bearer chk_" + "x" * 60}, 1)
    took = time.perf_counter() - started
    print(
        f"FUZZ operations={len(ops)} identities={len(keys) + 2} calls={fuzz.count} failures={len(fuzz.failures)} "
        f"reached={len(fuzz.reached)} (realistic {len(realistic_reached)}) seed={seeded_s:.1f}s total={took:.1f}s"
    )
    assert not fuzz.failures, f"{len(fuzz.failures)} failed checks:\n" + "\n".join(fuzz.failures[:40])
    unreached = sorted({op.label for op in ops} - fuzz.reached)
    assert not unreached, "operations whose logic no request reached:\n" + "\n".join(
        f"{label}: realistic request answered {fuzz.answers.get(label)}" for label in unreached
    )
    assert fuzz.statuses["anonymous 2xx"] == 0 and fuzz.statuses["bad-key 2xx"] == 0, fuzz.statuses  # no key, no answer
    assert fuzz.statuses["viewer 2xx"] > 10 and fuzz.statuses["app:loan-portal 2xx"] > 0, fuzz.statuses


def _value(expression: str, call: api_world.Call, body: Any) -> str:
    """A link's runtime expression (`$response.body#/a/b` or `$request.path.p`) evaluated on one exchange."""
    if expression.startswith("$request.path."):
        return call.path[expression.removeprefix("$request.path.")]
    for part in expression.removeprefix("$response.body#/").split("/"):
        body = body[part]
    return str(body)


def walk_links(schema: Any, world: api_world.World) -> tuple[list[str], int]:
    """Each create operation's realistic request, then every link of its answer, with the link's parameters:
    (links whose target's logic was not reached, links followed)."""
    calls = api_world.requests(world)
    fuzz = Fuzz(world.keys, calls)
    ops = {op.label: op for op in (r.ok() for r in schema.get_all_operations())}
    by_id = {op.definition.raw["operationId"]: op for op in ops.values()}
    missed, walked = [], 0
    for label, op in ops.items():
        links = next(
            (r.get("links") for code, r in op.definition.raw["responses"].items() if code.startswith("2")), None
        )
        if not links:
            continue
        call = calls[label]
        fuzz.realistic(op)
        answer = fuzz.last.json() if fuzz.last is not None and fuzz.last.status_code < 300 else None
        assert answer is not None, f"{label}: realistic create answered {fuzz.answers.get(label)}"
        for name, link in links.items():
            target = by_id[link["operationId"]]
            base = calls[target.label]
            params = {p: _value(e, call, answer) for p, e in link["parameters"].items()}
            walked += 1
            fuzz.realistic(target, api_world.Call(params, base.query, base.body, base.media, base.who))
            if target.label not in fuzz.reached or not reached(fuzz.last):
                missed.append(f"{label} -> {name}: {fuzz.answers.get(target.label)}")
            fuzz.reached.discard(target.label)
    assert not fuzz.failures, "\n".join(fuzz.failures)
    return missed, walked


def test_stateful_fuzz_follows_the_links(container: Container, admin_key: str) -> None:
    """Every link followed from a real create into its target's logic; then random scenarios of linked calls
    (create, then read or change what was created) as the admin on the seeded world."""
    started = time.perf_counter()
    world = api_world.seed(container, admin_key)
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", http_only(Dispatcher(container)))
    missed, walked = walk_links(schema, world)
    assert walked >= 60 and not missed, "links that did not reach their target's logic:\n" + "\n".join(missed)
    failures: list[str] = []
    followed: Counter[str] = Counter()  # link -> answers from its target's logic
    steps = Counter[str]()
    headers = {"Authorization": f"Bearer {admin_key}"}

    class Scenarios(schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": headers}

        def teardown(self) -> None:
            steps["scenarios"] += 1

        def step(self, input: Any) -> Any:
            steps["link" if input.transition is not None else "initial"] += 1
            output = super().step(input)
            if input.transition is not None and reached(output.response):
                followed[input.transition.id] += 1
            return output

        def validate_response(self, response: Any, case: Any, *args: Any, **kwargs: Any) -> None:
            label = case.operation.label
            try:
                case.validate_response(response, checks=checks_for(case.operation.path))
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{label} -> {response.status_code}: {str(exc)[:300]}")

    # As schemathesis' own runner does: a suite whose replay meets a database its earlier scenarios changed is
    # Flaky to Hypothesis (the API answered differently); its checks were recorded as they ran, so the next suite
    # (a new seed) carries on until enough scenarios ran.
    suites = flaky = 0
    while steps["scenarios"] < STATEFUL_SCENARIOS and suites < 10:
        suites += 1
        try:
            seed(suites)(Scenarios).run(
                settings=settings(
                    max_examples=STATEFUL_SCENARIOS - steps["scenarios"],
                    stateful_step_count=6,
                    deadline=None,
                    database=None,
                    phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck),
                )
            )
        except Flaky:
            flaky += 1
    took = time.perf_counter() - started
    print(
        f"STATEFUL links walked={walked} suites={suites} (replays that met a changed database: {flaky}) "
        f"steps={dict(steps)} "
        f"links followed={dict(followed)} {took:.1f}s"
    )
    assert not failures, f"{len(failures)} failed checks:\n" + "\n".join(failures[:40])
    assert len(followed) >= 3, f"links followed into their target's logic: {dict(followed)}"
