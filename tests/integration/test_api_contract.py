"""The API's contract, read from its OpenAPI document and exercised: every JSON answer has a typed schema, every list
is a `{items, next}` page with `cursor` and `limit`, and walking `next` visits every item once."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

API = "/api/v1"
# Answers that are documents, not JSON objects: HTML and PDF reports, zip packs, audit exports.
DOCUMENTS = ("/reports/systems/", "/report.html", "/report.pdf", "/audit/export")
# Not paged by design: metric series (`limit` counts the newest monitoring windows they span) and the compliance
# summary (a report document whose rows come with totals).
ONE_PAGE = ("/monitoring/systems/{system}/versions/{version}/metrics", "/reports/compliance")


@pytest.fixture
def openapi(client: TestClient) -> dict[str, Any]:
    doc: dict[str, Any] = client.get(f"{API}/openapi.json").json()
    return doc


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in doc["paths"].items() for method, op in item.items()]


def test_every_json_answer_declares_a_typed_schema(openapi: dict[str, Any]) -> None:
    untyped = []
    for path, method, op in _operations(openapi):
        if any(d in path for d in DOCUMENTS):
            continue
        ok = [r for code, r in op["responses"].items() if code.startswith("2")]
        assert ok, f"{method} {path}: no success response documented"
        for answer in ok:
            schema = answer.get("content", {}).get("application/json", {}).get("schema")
            resolved = _resolve(openapi, schema or {})
            if not schema or not (resolved.get("properties") or resolved.get("anyOf") or resolved.get("oneOf")):
                untyped.append(f"{method.upper()} {path}")
    assert not untyped, "untyped answers: " + ", ".join(untyped)


def test_every_list_is_a_page_with_cursor_and_limit(openapi: dict[str, Any]) -> None:
    lists = 0
    for path, method, op in _operations(openapi):
        schema = op["responses"].get("200", {}).get("content", {}).get("application/json", {}).get("schema", {})
        props = _resolve(openapi, schema).get("properties", {})
        if method != "get" or props.get("items", {}).get("type") != "array" or path in ONE_PAGE:
            continue
        lists += 1
        assert "next" in props, f"{path}: a list answers {{items, next}}"
        params = {p["name"] for p in op.get("parameters", [])}
        assert {"cursor", "limit"} <= params, f"{path}: a list takes cursor and limit ({sorted(params)})"
    assert lists >= 20


def test_walking_next_visits_every_item_once(client: TestClient) -> None:
    for i in range(7):
        assert client.post(f"{API}/teams", json={"name": f"team-{i}"}).status_code == 201
    everything = [t["name"] for t in client.get(f"{API}/teams", params={"limit": 1000}).json()["items"]]
    seen: list[str] = []
    params: dict[str, Any] = {"limit": 3}
    while True:
        page = client.get(f"{API}/teams", params=params).json()
        assert len(page["items"]) <= 3
        seen += [t["name"] for t in page["items"]]
        if page["next"] is None:
            break
        params["cursor"] = page["next"]
    assert seen == everything and len(everything) >= 7


@pytest.mark.parametrize("query", [{"cursor": "not-ours"}, {"cursor": "bzEuNQ"}, {"limit": 0}, {"limit": 1001}])
def test_a_bad_cursor_or_limit_is_a_problem_naming_the_field(client: TestClient, query: dict[str, Any]) -> None:
    r = client.get(f"{API}/systems", params=query)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert next(iter(query)) in r.json()["detail"]


def test_audit_checkpoints_page_with_cursor_like_entries(client: TestClient) -> None:
    for i in range(3):
        client.post(f"{API}/teams", json={"name": f"cp-{i}"})
        client.get(f"{API}/audit/checkpoints/latest")
    first = client.get(f"{API}/audit/checkpoints", params={"limit": 1}).json()
    assert first["next"] is not None
    second = client.get(f"{API}/audit/checkpoints", params={"limit": 1, "cursor": first["next"]}).json()
    legacy = client.get(f"{API}/audit/checkpoints", params={"limit": 1, "after": first["next"]}).json()
    assert second["items"] and second == legacy
    assert second["items"][0]["size"] > first["items"][0]["size"]
