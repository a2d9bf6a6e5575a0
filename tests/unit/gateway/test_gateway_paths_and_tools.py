"""The pure checks behind the gateway's refusals: forwarded paths, repeated keys, tool calls in answers and streams."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from charter.core.errors import InvalidInput
from charter.deployments.tools import AmbiguousDocument, called_tools, check_request_keys, strict_loads
from charter.gateway import paths
from charter.gateway.inbound import call_tools, openai_call
from charter.gateway.toolcheck import EventStream, check_payload

ALLOWED = frozenset({"lookup_customer"})


@pytest.mark.parametrize(
    "rest",
    [b"", b"predict", b"predict/", b"a/b.c/d-e_f~g", b"v1/models:1@x", b"x%41y", b"a+b,c=d!$&'()*"],
)
def test_plain_paths_pass(rest: bytes) -> None:
    paths.check(rest)


@pytest.mark.parametrize(
    "rest",
    [
        b"..", b".", b"...", b"a/..", b"a/./b", b"%2e%2e", b"%2E%2e", b".%2e", b"%2e", b"a%2fb", b"a%2Fb", b"a%5cb",
        b"a\\b", b"a;b", b"..;", b"%252e", b"%25", b"%", b"%z1", b"%u002e", b"%c0%ae", b"%00", b"%20", b"%7f",
        b"a//b", b"\xc3\xa9", b"a b", b"a?b", b"a#b",
    ],
)  # fmt: skip
def test_escapes_are_refused(rest: bytes) -> None:
    with pytest.raises(paths.PathNotAllowed):
        paths.check(rest)


def test_split_takes_the_name_from_the_raw_path() -> None:
    assert paths.split(b"/gw/credit-scoring/v1/predict") == ("credit-scoring", b"v1/predict")
    assert paths.split(b"/gw/x") == ("x", b"")
    for raw in (b"/gw%2fx/y", b"/gw/X/y", b"/gw/../y", b"/gw/%78/y", b"/gw//y"):
        with pytest.raises(paths.PathNotAllowed):
            paths.split(raw)
    with pytest.raises(paths.PathNotAllowed):
        paths.check_query(b"a=\xff")


def _body(raw: bytes) -> tuple[str, ...]:
    return call_tools(raw, openai_call(raw).doc)


def test_repeated_deciding_keys_are_refused_and_others_are_not() -> None:
    ok = b'{"model": "m", "messages": [{"role": "user", "content": "a", "content": "b"}]}'
    assert _body(ok) == ()
    for raw in (
        b'{"model": "m", "tools": [], "tools": []}',
        b'{"model": "m", "model": "n"}',
        b'{"model": "m", "tool_choice": "auto", "tool_choice": "none"}',
        b'{"model": "m", "tools": [{"type": "function", "function": {"name": "a", "name": "b"}}]}',
        b'{"model": "m", "tools": [{"type": "function", "function": {"name": "a"}, "function": {"name": "b"}}]}',
        b'{"model": "m", "functions": [{"name": "a", "name": "b"}]}',
        b'{"model": "m", "\\u0074ools": [], "tools": []}',
    ):
        with pytest.raises(InvalidInput) as err:
            _body(raw)
        assert err.value.code == "ambiguous_request", raw


def test_tools_offered_and_forced() -> None:
    raw = json.dumps(
        {
            "model": "m",
            "tools": [{"type": "function", "function": {"name": "a"}}, {"type": "code_interpreter"}, "bare"],
            "functions": [{"name": "legacy"}],
            "tool_choice": {"type": "function", "function": {"name": "forced"}},
        }
    ).encode()
    assert _body(raw) == ("a", "<code_interpreter>", "bare", "legacy", "forced")
    assert _body(b'{"model": "m", "tool_choice": "required"}') == ()
    for bad in (b'{"model": "m", "tools": {"a": 1}}', b'{"model": "m", "tool_choice": 3}'):
        with pytest.raises(InvalidInput):
            _body(bad)


def test_tool_calls_in_answers() -> None:
    answer = {
        "choices": [
            {"index": 0, "message": {"tool_calls": [{"function": {"name": "a"}}], "function_call": {"name": "b"}}}
        ]
    }
    assert called_tools(answer) == [((0, 0), "a"), ((0, -1), "b")]
    with pytest.raises(AmbiguousDocument):
        called_tools(strict_loads(b'{"choices": [], "choices": []}'))
    with pytest.raises(AmbiguousDocument):
        check_request_keys(
            strict_loads(b'{"tool_choice": {"type": "function", "function": {"name": "a", "name": "b"}}}')
        )
    assert check_payload(b'{"choices": [{"message": {"content": "say \\"tool_calls\\""}}]}', ALLOWED) is None
    refused = check_payload(
        json.dumps({"choices": [{"message": {"tool_calls": [{"function": {"name": "x"}}]}}]}).encode(), ALLOWED
    )
    assert refused is not None and refused.tools == ("x",)
    assert check_payload(b"plain text about tool_calls", ALLOWED) is None
    assert check_payload(b'{"tool_calls": [oops', ALLOWED) is not None  # unreadable JSON that mentions them


def _event(delta: dict[str, object]) -> bytes:
    return b"data: " + json.dumps({"choices": [{"index": 0, "delta": delta}]}).encode() + b"\n\n"


def _call(index: int, name: str | None = None, args: str = "") -> bytes:
    fn: dict[str, object] = {"arguments": args}
    if name is not None:
        fn["name"] = name
    return _event({"tool_calls": [{"index": index, "function": fn}]})


def test_event_stream_sends_whole_events_and_holds_the_end() -> None:
    stream = EventStream(ALLOWED)
    text = _event({"content": "hi"})
    assert stream.feed(text[:7]) == b""
    assert stream.feed(text[7:] + b"data: [DO") == text
    assert stream.feed(b"NE]\n\n") == b""
    stream.finish()
    assert stream.held == b"data: [DONE]\n\n" and stream.refusal is None
    crlf = EventStream(ALLOWED)
    assert crlf.feed(b"data: {}\r\n\r\ndata: [DONE]\r\n\r\n") == b"data: {}\r\n\r\n"


def test_event_stream_stops_at_the_first_unlicensed_call() -> None:
    stream = EventStream(ALLOWED)
    good = _call(0, "lookup_customer") + _call(0, args="{}")
    assert stream.feed(good + _call(1, "send_email") + _call(1, args="{}")) == good
    assert stream.refusal is not None and stream.refusal.tools == ("send_email",)
    assert stream.feed(_event({"content": "more"})) == b""
    pieces = EventStream(ALLOWED)
    assert pieces.feed(_call(0, "lookup_")) == b""  # not a licensed name
    escaped = EventStream(ALLOWED)
    evil = _call(0, "send_email").replace(b'"tool_calls"', b'"\\u0074ool_calls"')
    assert escaped.feed(evil) == b"" and escaped.refusal is not None
    split = EventStream(frozenset({"lookup", "lookup_customer"}))
    assert split.feed(_call(0, "lookup") + _call(0, "_customer")) == _call(0, "lookup")
    assert split.refusal is not None and "pieces" in split.refusal.detail


RULED_STREAM = (
    _event({"content": "checking "})
    + _call(0, "lookup_customer", '{"id"')
    + _call(0, args=": 7}")
    + _call(1, "transfer", '{"to": "DE4')
    + _call(1, args='4", "amount": 900}')
    + _event({"content": "done"})
    + b"data: [DONE]\n\n"
)


@given(cuts=st.lists(st.integers(min_value=1, max_value=len(RULED_STREAM) - 1), max_size=12, unique=True))
def test_a_ruled_call_holds_the_stream_from_its_first_event_whatever_the_chunks(cuts: list[int]) -> None:
    """What goes out before the ruled call is the same however the upstream's bytes are cut; from the call's first
    event on everything is held, and its argument pieces join into the whole call."""
    stream = EventStream(frozenset({"lookup_customer", "transfer"}), frozenset({"transfer"}))
    bounds = [0, *sorted(cuts), len(RULED_STREAM)]
    sent = b"".join(stream.feed(RULED_STREAM[a:b]) for a, b in zip(bounds, bounds[1:], strict=False))
    stream.finish()
    before = RULED_STREAM.index(b'data: {"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1')
    assert sent == RULED_STREAM[:before] and stream.held == RULED_STREAM[before:]
    assert stream.holding and stream.refusal is None
    (call,) = stream.ruled_calls()
    assert call.tool == "transfer" and call.args == {"to": "DE44", "amount": 900} and call.args_sha256


def test_a_ruled_call_whose_arguments_repeat_their_key_is_refused() -> None:
    stream = EventStream(frozenset({"transfer"}), frozenset({"transfer"}))
    evil = _call(0, "transfer").replace(b'"arguments": ""', b'"arguments": "{}", "arguments": ""')
    assert stream.feed(evil) == b"" and stream.refusal is not None and "ambiguous" in stream.refusal.detail


def test_nothing_after_done_is_released() -> None:
    """`data: [DONE]` ends an OpenAI stream: an upstream that goes on (a tool call no client should act on, which a
    naive SSE reader would) has the rest dropped, in the same chunk or later ones."""
    stream = EventStream(ALLOWED)
    assert stream.feed(_event({"content": "hi"}) + b"data: [DONE]\n\n" + _call(0, "send_email")) == _event(
        {"content": "hi"}
    )
    stream.feed(_call(1, "send_email") + b"data: [DONE]\n\n")
    stream.finish()
    assert stream.held == b"data: [DONE]\n\n" and stream.refusal is None
