"""Schemathesis over the whole OpenAPI document, authenticated as every role: no 5xx, no response-schema violation.

Generated requests (valid and invalid, a bounded number per operation) go through the real ASGI stack in process;
a small licensed world gives the generated names something to hit. Failures are collected per operation and role
so one run reports every broken operation, not the first.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import content_type_conformance, not_a_server_error, response_schema_conformance

from charter.auth.model import SYSTEM_ACTOR, Role
from charter.bootstrap import Container
from charter.server import Dispatcher
from tests.conftest import MakeUser
from tests.reliability import stack

pytestmark = [pytest.mark.parametrize("backend", ["sqlite"], indirect=True), pytest.mark.timeout(900)]

# Examples per operation: the admin (who reaches every handler) gets the most.
ADMIN_EXAMPLES = int(os.environ.get("CHARTER_FUZZ_EXAMPLES", "5"))
OTHER_EXAMPLES = max(1, ADMIN_EXAMPLES // 3)
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]
# Routes whose handlers stream large artifacts; they are fuzzed, but only their status is checked.
BINARY = ("/reports/", "/export")


def run_operation(
    op: Any, headers: dict[str, str], examples: int, failures: list[str], who: str, statuses: Counter[str]
) -> int:
    """Call `examples` generated cases of one operation; record (never raise) every failed check."""
    calls = 0

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
        nonlocal calls
        calls += 1
        try:
            response = case.call(headers=headers)
        except Exception as exc:  # the app raised through the transport: a crash, not an HTTP answer
            failures.append(f"{who} {op.label}: raised {type(exc).__name__}: {exc}"[:400])
            return
        statuses[f"{who} {response.status_code // 100}xx"] += 1
        checks = [not_a_server_error] if any(b in op.path for b in BINARY) else CHECKS
        try:
            case.validate_response(response, checks=checks)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis groups its failures
            failures.append(f"{who} {op.label} -> {response.status_code}: {str(exc)[:300]}")

    test()
    return calls


def test_openapi_fuzz_as_every_role(container: Container, admin_key: str, make_user: MakeUser) -> None:
    stack.add_app(container)
    stack.license_system(container, "credit", "high", SYSTEM_ACTOR, {})
    keys: dict[str, str] = {"admin": admin_key}
    for role in Role:
        if role is Role.ADMIN:
            continue
        spec: str | tuple[str, str] = (role, "legal") if role is Role.REVIEWER else role
        keys[str(role)] = make_user(spec)[1]
    keys["ml-engineer@system:credit"] = make_user("ml-engineer", scope="system:credit")[1]
    app = Dispatcher(container)

    async def http_only(scope: Any, receive: Any, send: Any) -> None:
        """The whole process's app without its lifespan (the transport runs one per call; the API needs none)."""
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await app(scope, receive, send)

    if True:
        schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", http_only)
        ops = [r.ok() for r in schema.get_all_operations()]
        assert len(ops) >= 60
        failures: list[str] = []
        statuses: Counter[str] = Counter()
        calls = 0
        for who, key in keys.items():
            headers = {"Authorization": f"Bearer {key}"}
            examples = ADMIN_EXAMPLES if who == "admin" else OTHER_EXAMPLES
            for op in ops:
                calls += run_operation(op, headers, examples, failures, who, statuses)
        for op in ops:  # and with no key, or a malformed one
            calls += run_operation(op, {}, 1, failures, "anonymous", statuses)
            calls += run_operation(op, {"Authorization": "Bearer chk_" + "x" * 60}, 1, failures, "bad-key", statuses)
    print(f"FUZZ operations={len(ops)} identities={len(keys) + 2} calls={calls} failures={len(failures)}")
    assert calls > len(ops) * len(keys)
    # the fuzz got past authentication and validation often enough to exercise handlers
    assert statuses["admin 2xx"] > len(ops) // 2 and statuses["viewer 2xx"] > 10, statuses
    assert statuses["anonymous 2xx"] == 0 and statuses["bad-key 2xx"] == 0, statuses  # no key, no answer
    assert not failures, f"{len(failures)} failed checks:\n" + "\n".join(failures[:40])
