"""Toy model servers behind the demo's deployments, so the tour's gateway calls reach a model.

    .venv/bin/python -m charter.demo.models          # listens on CHARTER_DEMO_MODELS_URL (http://127.0.0.1:9100)

- `credit-scoring` (plain HTTP, behind `/gw/credit-scoring/...`): `POST /credit-scoring/v1/predict` with
  `{"income": 52000, "debt": 9000}` answers `{"score": 0.7506, "decision": "approve"}`; `{"instances": [...]}` answers
  `{"predictions": [...]}` (the KServe v1 shape).
- `support-chatbot` (OpenAI-compatible): `GET /support-chatbot/v1/models` and
  `POST /support-chatbot/v1/chat/completions` (a canned answer; `"stream": true` streams it as server-sent events).
  Its license is suspended in the demo, so the gateway refuses calls before they get here.

Every path prefix answers the same way (`/NAME/v1/predict`, `/NAME/v1/chat/completions`), so a deployment added with
`--upstream http://127.0.0.1:9100/NAME/v1` reaches a model too.

They are demo fixtures, not models: deterministic, no authentication, meant for loopback only. Bad input gets a 4xx
problem body naming the field.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from charter.demo import content

CREDIT = content.CREDIT_DEPLOYMENT
CHAT = content.CHAT_DEPLOYMENT
ANSWER = "Thanks for reaching out. I can help with account, billing and delivery questions. What do you need?"


class BadInput(Exception):
    def __init__(self, status: int, title: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail = status, title, detail


def _problem(exc: BadInput) -> JSONResponse:
    body = {"type": "about:blank", "title": exc.title, "status": exc.status, "detail": exc.detail}
    return JSONResponse(body, status_code=exc.status, media_type="application/problem+json")


async def _json_object(request: Request) -> dict[str, Any]:
    try:
        doc = json.loads(await request.body())
    except ValueError as exc:
        raise BadInput(400, "Bad request", f"the body is not JSON ({exc}); send a JSON object") from exc
    if not isinstance(doc, dict):
        raise BadInput(400, "Bad request", "the body must be a JSON object")
    return doc


def score(applicant: Any, where: str = "body") -> dict[str, Any]:
    """A fixed logistic score of an applicant's income and debt (the demo's credit model)."""
    if not isinstance(applicant, dict):
        raise BadInput(422, "Invalid applicant", f"{where} must be an object with income and debt")
    values = {}
    for field in ("income", "debt"):
        value = applicant.get(field)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            raise BadInput(422, "Invalid applicant", f"{where}.{field} must be a number >= 0 (got {value!r})")
        values[field] = float(value)
    ratio = values["debt"] / max(values["income"], 1.0)
    z = 2.2 - 7.5 * ratio + (values["income"] - 40_000) / 60_000
    p = round(1 / (1 + math.exp(-z)), 4)
    return {"score": p, "decision": "approve" if p >= 0.5 else "refer"}


async def predict(request: Request) -> Response:
    try:
        doc = await _json_object(request)
        if "instances" in doc:
            items = doc["instances"]
            if not isinstance(items, list) or not items:
                raise BadInput(422, "Invalid instances", "instances must be a non-empty list of applicants")
            return JSONResponse({"predictions": [score(x, f"instances[{i}]") for i, x in enumerate(items)]})
        return JSONResponse(score(doc))
    except BadInput as exc:
        return _problem(exc)


async def models(request: Request) -> Response:
    name = str(request.path_params.get("deployment", CHAT))
    return JSONResponse({"object": "list", "data": [{"id": name, "object": "model", "owned_by": "charter-demo"}]})


async def chat(request: Request) -> Response:
    try:
        doc = await _json_object(request)
        messages = doc.get("messages")
        if not isinstance(messages, list) or not messages:
            raise BadInput(422, "Invalid request", "messages must be a non-empty list of chat messages")
    except BadInput as exc:
        return _problem(exc)
    created = int(time.time())
    model = str(doc.get("model") or CHAT)
    if doc.get("stream") is True:
        return StreamingResponse(_stream(model, created), media_type="text/event-stream")
    return JSONResponse(
        {
            "id": f"chatcmpl-demo-{created}",
            "object": "chat.completion",
            "created": created,
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": ANSWER}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": len(json.dumps(messages)) // 4, "completion_tokens": len(ANSWER) // 4},
        }
    )


async def _stream(model: str, created: int) -> AsyncIterator[bytes]:
    for i, word in enumerate(ANSWER.split(" ")):
        delta = {"content": word if i == 0 else " " + word}
        chunk = {"id": f"chatcmpl-demo-{created}", "object": "chat.completion.chunk", "created": created,
                 "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}  # fmt: skip
        yield b"data: " + json.dumps(chunk).encode() + b"\n\n"
    yield b"data: [DONE]\n\n"


def app() -> Starlette:
    return Starlette(
        routes=[
            # Any deployment name as the prefix: the demo's two, and the ones the README's walk-through adds.
            Route("/{deployment}/v1/predict", predict, methods=["POST"]),
            Route("/{deployment}/v1/models", models, methods=["GET"]),
            Route("/{deployment}/v1/chat/completions", chat, methods=["POST"]),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    from charter.settings import Settings

    parser = argparse.ArgumentParser(prog="python -m charter.demo.models", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=None, help="Listen address (default: CHARTER_DEMO_MODELS_URL).")
    args = parser.parse_args(argv)
    url = urlsplit(args.url or Settings().demo_models_url)
    host, port = url.hostname or "127.0.0.1", url.port or 80
    sys.stdout.write(f"demo models on http://{host}:{port}: /NAME/v1/predict, /NAME/v1/chat/completions\n")
    sys.stdout.flush()
    uvicorn.run(app(), host=host, port=port, log_level="warning")


if __name__ == "__main__":
    main()
