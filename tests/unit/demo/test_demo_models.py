"""The demo's toy model servers: deterministic answers, OpenAI shapes, and 4xx problems that name the field."""

from __future__ import annotations

import json

import pytest
from starlette.testclient import TestClient

from charter.demo import content, models


@pytest.fixture
def client() -> TestClient:
    return TestClient(models.app())


def test_credit_scores_are_deterministic_and_ordered(client: TestClient) -> None:
    good = client.post("/credit-scoring/v1/predict", json={"income": 90_000, "debt": 5_000})
    poor = client.post("/credit-scoring/v1/predict", json={"income": 25_000, "debt": 20_000})
    assert good.status_code == poor.status_code == 200
    assert good.json()["decision"] == "approve" and poor.json()["decision"] == "refer"
    assert good.json()["score"] > poor.json()["score"]
    again = client.post("/credit-scoring/v1/predict", json={"income": 90_000, "debt": 5_000})
    assert again.json() == good.json()
    batch = client.post("/credit-scoring/v1/predict", json={"instances": [{"income": 90_000, "debt": 5_000}] * 2})
    assert batch.json() == {"predictions": [good.json(), good.json()]}


@pytest.mark.parametrize(
    ("body", "status", "names"),
    [
        (b"{not json", 400, "not JSON"),
        (b"[1, 2]", 400, "JSON object"),
        (json.dumps({"income": 1}).encode(), 422, "body.debt"),
        (json.dumps({"income": -5, "debt": 1}).encode(), 422, "body.income"),
        (json.dumps({"income": True, "debt": 1}).encode(), 422, "body.income"),
        (
            json.dumps({"instances": [{"income": 1, "debt": 1}, {"income": "x", "debt": 1}]}).encode(),
            422,
            "instances[1].income",
        ),  # fmt: skip
        (json.dumps({"instances": []}).encode(), 422, "instances"),
    ],
)
def test_bad_applicants_get_a_problem_naming_the_field(
    client: TestClient, body: bytes, status: int, names: str
) -> None:
    resp = client.post("/credit-scoring/v1/predict", content=body)
    assert resp.status_code == status
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert names in resp.json()["detail"]


def test_chat_answers_plain_and_streamed(client: TestClient) -> None:
    assert client.get("/support-chatbot/v1/models").json()["data"][0]["id"] == "support-chatbot"
    msg = {"model": "support-chatbot", "messages": [{"role": "user", "content": "hi"}]}
    plain = client.post("/support-chatbot/v1/chat/completions", json=msg).json()
    assert plain["choices"][0]["message"]["content"] == models.ANSWER
    streamed = client.post("/support-chatbot/v1/chat/completions", json={**msg, "stream": True})
    events = [line[6:] for line in streamed.text.split("\n\n") if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    text = "".join(json.loads(e)["choices"][0]["delta"]["content"] for e in events[:-1])
    assert text == models.ANSWER
    bad = client.post("/support-chatbot/v1/chat/completions", json={"model": "x"})
    assert bad.status_code == 422 and "messages" in bad.json()["detail"]


def test_upstream_urls_are_per_deployment() -> None:
    assert content.model_upstream("http://127.0.0.1:9100/", models.CREDIT) == "http://127.0.0.1:9100/credit-scoring/v1"


@pytest.mark.parametrize("name", [content.CREDIT_DEPLOYMENT, content.CHAT_DEPLOYMENT, "credit-example"])
def test_every_deployment_prefix_answers(client: TestClient, name: str) -> None:
    """The demo's two deployments and any a walk-through adds with `--upstream …/NAME/v1` reach a model (no 502)."""
    r = client.post(f"/{name}/v1/predict", json={"income": 52000, "debt": 9000})
    assert r.status_code == 200 and r.json() == {"score": 0.7506, "decision": "approve"}, r.text
    chat = {"model": name, "messages": [{"role": "user", "content": "hi"}]}
    r = client.post(f"/{name}/v1/chat/completions", json=chat)
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["content"] == models.ANSWER
    assert client.get(f"/{name}/v1/models").json()["data"][0]["id"] == name
