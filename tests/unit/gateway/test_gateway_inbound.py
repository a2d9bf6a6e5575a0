"""Reading calls: headers (the key never goes upstream), OpenAI bodies and their tools, problem bodies."""

from __future__ import annotations

import orjson
import pytest

from charter.core.errors import InvalidInput
from charter.gateway.inbound import call_tools, inbound, openai_call
from charter.gateway.problems import problem_body


def test_headers_split_into_key_purpose_and_forwarded() -> None:
    inb = inbound(
        [
            (b"host", b"gw"),
            (b"authorization", b"Bearer chk_0123456789_secret"),
            (b"charter-purpose", b"credit-scoring"),
            (b"charter-other", b"x"),
            (b"content-type", b"application/json"),
            (b"connection", b"keep-alive"),
            (b"x-request-id", b"r1"),
        ]
    )
    assert inb.token == "chk_0123456789_secret"
    assert inb.purpose == "credit-scoring"
    assert inb.forward == [("content-type", "application/json"), ("x-request-id", "r1")]
    assert inbound([(b"authorization", b"Basic abc")]).token is None


def test_openai_body_tools_and_stream() -> None:
    body = {
        "model": "credit-prod",
        "stream": True,
        "tools": [
            {"type": "function", "function": {"name": "lookup"}},
            {"type": "code_interpreter"},
        ],
        "functions": [{"name": "legacy"}],
    }
    raw = orjson.dumps(body)
    call = openai_call(raw)
    assert call.model == "credit-prod" and call.doc["stream"] is True
    assert call_tools(raw, call.doc) == ("lookup", "<code_interpreter>", "legacy")
    plain = b'{"model":"m","input":"x"}'
    assert call_tools(plain, openai_call(plain).doc) == ()


@pytest.mark.parametrize("body", [b"not json", b"[1]", b'{"input":"x"}', b'{"model":""}'])
def test_openai_body_errors(body: bytes) -> None:
    with pytest.raises(InvalidInput) as err:
        openai_call(body)
    assert err.value.code == "invalid_request"


def test_problem_body() -> None:
    doc = orjson.loads(problem_body(403, "license_suspended", "license lic_1 is suspended", license_id="lic_1", x=None))
    assert doc == {
        "type": "https://charter.dev/problems/license_suspended",
        "title": "License suspended",
        "status": 403,
        "code": "license_suspended",
        "detail": "license lic_1 is suspended",
        "license_id": "lic_1",
    }


def test_fast_decision_ids_match_the_core_layout() -> None:
    import random

    from charter.core.ids import _b32
    from charter.gateway.ids import decision_id, encode130

    rng = random.Random(7)
    for _ in range(2000):
        value = rng.getrandbits(130)
        assert encode130(value) == _b32(value, 26)
    a, b = decision_id(), decision_id()
    assert a.startswith("dec_") and len(a) == 30 and a != b


def test_upstream_urls() -> None:
    from charter.gateway.paths import openai_url, plain_url

    assert openai_url("http://h:8000", "/v1/chat/completions") == "http://h:8000/v1/chat/completions"
    assert openai_url("http://h:8000/v1", "/v1/chat/completions") == "http://h:8000/v1/chat/completions"
    assert plain_url("http://h:8000", b"predict/x") == "http://h:8000/predict/x"


def test_done_marker_is_held_even_across_chunk_boundaries() -> None:
    from charter.gateway.upstream import split_done

    assert split_done(b"", b'data: {"a":1}\n\n') == (b'data: {"a":1}\n\n', b"")
    assert split_done(b"", b'data: {"a":1}\n\ndata: [DONE]\n\n') == (b'data: {"a":1}\n\n', b"data: [DONE]\n\n")
    assert split_done(b"1}\n\ndata: [DO", b"NE]\n\n") == (b"", b"NE]\n\n")
    assert split_done(b"\n\nda", b"ta: [DONE]\n\n") == (b"", b"ta: [DONE]\n\n")
    assert split_done(b"\n\n", b"data: [DONE]") == (b"", b"data: [DONE]")
