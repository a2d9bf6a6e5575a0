"""Hostile-input campaign against the gateway and the HTTP listeners, run on the real product.

`charter serve` and `charter gateway` (subprocesses, real database) in front of a scripted model server that records
every request reaching it. Attacks are rows of `ATTACKS`: a request sent byte for byte, the refusal (or answer)
expected, whether it earns its own audit entry, and whether anything may reach the model server. To add an attack,
add a row; behaviours that need more than one request (streams, deadlines, summaries) are the tests below the table.

The world: license for `credit@1.0` (caller app:loan-portal, purpose credit-scoring, tool lookup_customer) and four
deployments of it on the same model server: `chat` (OpenAI, base /m), `raw` (HTTP, base /base/raw), `secret`
(HTTP, base /base/secret: what path escapes aim at) and `hop` (OpenAI, base /redirect: answers 302 elsewhere).
"""

from __future__ import annotations

import json
import posixpath
import re
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_to_bytes

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from charter import bootstrap
from charter.audit.tables import AuditEntryRow
from charter.auth import service as auth_service
from charter.auth.model import SYSTEM_ACTOR
from charter.auth.schemas import KeyCreate
from charter.bootstrap import Container
from charter.deployments import service as deployments
from charter.deployments.schemas import DeploymentCreate
from charter.settings import Settings
from tests.hostile.gateway_support import ModelServer, closed_within, raw_request, wait_for
from tests.support.builders import user
from tests.support.db import BACKENDS, env_for, settings_for
from tests.support.gateway_fake.world import licensed
from tests.support.server import Server

pytestmark = pytest.mark.e2e

LIMIT_S = 1.0  # CHARTER_HEADER_TIMEOUT_S and CHARTER_BODY_TIMEOUT_S of the product under attack
MAX_ANSWER = 1 << 20  # CHARTER_MAX_ANSWER_BYTES: the most of a model server's answer the gateway holds


@dataclass
class Product:
    settings: Settings
    container: Container
    serve: Server
    gateway: Server
    model: ModelServer
    elsewhere: ModelServer
    keys: dict[str, str]

    def entries(self, action: str) -> list[dict[str, Any]]:
        with self.container.uow(write=False) as uow:
            rows = uow.session.scalars(select(AuditEntryRow.body).where(AuditEntryRow.action.like(action)))
            return [json.loads(bytes(b)) for b in rows]

    def entry(self, decision_id: str) -> dict[str, Any]:
        found = [e for e in self.entries("inference.%") if e["details"]["decision_id"] == decision_id]
        assert len(found) == 1, f"{len(found)} audit entries for {decision_id}"
        return found[0]


@pytest.fixture(scope="module", params=BACKENDS)
def product(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Product]:
    work = tmp_path_factory.mktemp("hostile-gateway")
    with settings_for(str(request.param), work / "home") as s:
        admin = bootstrap.init(s).admin
        assert admin is not None
        c = bootstrap.build(s)
        world = licensed(c)
        auditor = user(c, "prometheus", "auditor")
        with c.uow() as uow:
            auditor_key = auth_service.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal=auditor.ref)).key
        elsewhere = ModelServer().start()
        model = ModelServer(elsewhere=elsewhere.url).start()
        for name, base, kind in (
            ("chat", "/m", "openai"),
            ("raw", "/base/raw", "http"),
            ("secret", "/base/secret", "http"),
            ("hop", "/redirect", "openai"),
        ):
            body = {"name": name, "model": world.model, "upstream": model.url + base, "kind": kind}
            with c.uow() as uow:
                deployments.add(uow, SYSTEM_ACTOR, DeploymentCreate.model_validate(body), allow=s.upstream_allowlist)
        env = {
            **env_for(s),
            "CHARTER_HEADER_TIMEOUT_S": str(LIMIT_S),
            "CHARTER_BODY_TIMEOUT_S": str(LIMIT_S),
            "CHARTER_GATEWAY_REFUSAL_SUMMARY_S": "0.5",
            "CHARTER_MAX_ANSWER_BYTES": str(MAX_ANSWER),
            "CHARTER_LOG_LEVEL": "warning",
        }
        serve = Server(env, log=work / "serve.log").start(timeout=90)
        gateway = Server(env, command="gateway", log=work / "gateway.log").start(timeout=90)
        keys = {"app": world.app_key, "admin": admin.key, "auditor": auditor_key, "none": "", "bogus": "chk_x_nope"}
        try:
            yield Product(s, c, serve, gateway, model, elsewhere, keys)
        finally:
            gateway.stop()
            serve.stop()
            model.stop()
            elsewhere.stop()
            c.close()


def _chat(content: str = "score 42", **extra: Any) -> bytes:
    return json.dumps({"model": "chat", "messages": [{"role": "user", "content": content}], **extra}).encode()


def _tools(*names: str) -> list[dict[str, Any]]:
    return [{"type": "function", "function": {"name": n}} for n in names]


CHAT = b"/v1/chat/completions"
DUP_TOOLS = (
    b'{"model": "chat", "tools": [{"type": "function", "function": {"name": "send_email"}}], "tools": [],'
    b' "messages": [{"role": "user", "content": "hi"}]}'
)


@dataclass(frozen=True)
class Attack:
    """One request and what the gateway must do with it."""

    name: str
    target: bytes  # request target (path and query), sent byte for byte
    status: int
    code: str | None
    body: bytes = _chat()
    method: str = "POST"
    key: str = "app"  # which key: app (licensed caller), none, bogus, admin, auditor
    audited: bool = True  # its own audit entry (an inference decision) rather than a count in the summary
    upstream: bool = False  # whether the model server may see it


ESCAPES = [
    b"../secret/x",
    b"./../secret/x",
    b"%2e%2e/secret/x",
    b"%2E%2E/secret/x",
    b"%2e./secret/x",
    b".%2E/secret/x",
    b"..%2fsecret",
    b"..%2Fsecret%2Fx",
    b"..%2F..%2Fsecret%2Fv1%2Fchat%2Fcompletions",  # the reproduction
    b"%252e%252e%252fsecret",
    b"%25252e%25252e/secret",
    b"..%5csecret",
    b"..%5Csecret",
    b"..\\secret",
    b"..;/secret/x",
    b"x/..;/..;/secret",
    b"x;jsessionid=1",
    b"%c0%ae%c0%ae/secret",
    b"%c0%af",
    b"%e0%80%ae%e0%80%ae/secret",
    b"%u002e%u002e/secret",
    b"..%00/secret",
    b"..%20/secret",
    b"...",
    b"x//..//secret",
    b"%",
    b"%zz",
    b"x/%2e",
    b"x/.",
]

ATTACKS: list[Attack] = [
    # --- path escape from /gw/raw to the sibling deployment's base (and beyond) ---
    *(Attack(f"escape {p!r}", b"/gw/raw/" + p, 400, "path_not_allowed") for p in ESCAPES),
    Attack("escape in the query string", b"/gw/raw/x?a=%2e%2e%2f#frag", 200, None, upstream=True),
    Attack("raw overlong UTF-8 dots", b"/gw/raw/\xc0\xae\xc0\xae/secret", 400, None, audited=False),  # the parser
    Attack("encoded deployment name", b"/gw/r%61w/x", 400, "path_not_allowed", audited=False),
    Attack("encoded /gw/ prefix", b"/gw%2fraw/../secret", 400, "path_not_allowed", audited=False),
    Attack("dot-dot deployment name", b"/gw/../secret/x", 400, "path_not_allowed", audited=False),
    Attack("a plain path is forwarded", b"/gw/raw/predict/a.b/c-d_e~f:1@x?x=1", 200, None, upstream=True),
    # --- tool scope on every route to an OpenAI deployment ---
    Attack(
        "/gw to an OpenAI deployment",
        b"/gw/chat/v1/chat/completions",
        400,
        "openai_route_required",
        body=_chat(tools=_tools("send_email")),
    ),  # fmt: skip
    Attack("tool outside the license", CHAT, 403, "tool_not_in_scope", body=_chat(tools=_tools("send_email"))),
    Attack("duplicate tools: bad first, empty last", CHAT, 400, "ambiguous_request", body=DUP_TOOLS),
    Attack(
        "duplicate model", CHAT, 400, "ambiguous_request", body=b'{"model": "chat", "model": "hop", "messages": []}'
    ),  # fmt: skip
    Attack(
        "duplicate function name in a tool",
        CHAT,
        400,
        "ambiguous_request",
        body=b'{"model": "chat", "messages": [], "tools": [{"type": "function",'
        b' "function": {"name": "send_email", "name": "lookup_customer"}}]}',
    ),  # fmt: skip
    Attack(
        "tools key spelled with \\u escapes",
        CHAT,
        403,
        "tool_not_in_scope",
        body=b'{"model": "chat", "messages": [], "\\u0074ools": [{"type": "function",'
        b' "function": {"name": "send_email"}}]}',
    ),  # fmt: skip
    Attack(
        "tool_choice forces an unlicensed tool",
        CHAT,
        403,
        "tool_not_in_scope",
        body=_chat(
            tools=_tools("lookup_customer"), tool_choice={"type": "function", "function": {"name": "send_email"}}
        ),
    ),  # fmt: skip
    Attack("legacy functions", CHAT, 403, "tool_not_in_scope", body=_chat(functions=[{"name": "send_email"}])),
    Attack("tools as an object", CHAT, 400, "invalid_request", body=_chat(tools={"send_email": {}})),
    Attack("nameless tool", CHAT, 403, "tool_not_in_scope", body=_chat(tools=[{"type": "function"}])),
    Attack("licensed tool passes", CHAT, 200, None, body=_chat(tools=_tools("lookup_customer")), upstream=True),
    # --- tool calls in the answer ---
    Attack(
        "answer calls an unlicensed tool", CHAT, 403, "tool_not_in_scope", body=_chat("call:send_email"), upstream=True
    ),  # fmt: skip
    Attack("answer calls a licensed tool", CHAT, 200, None, body=_chat("call:lookup_customer"), upstream=True),
    Attack(
        "answer calls one good, one bad",
        CHAT,
        403,
        "tool_not_in_scope",
        body=_chat("call:lookup_customer,send_email"),
        upstream=True,
    ),  # fmt: skip
    Attack(
        "answer uses legacy function_call",
        CHAT,
        403,
        "tool_not_in_scope",
        body=_chat("legacy:send_email"),
        upstream=True,
    ),  # fmt: skip
    Attack(
        "answer escapes its tool_calls key",
        CHAT,
        403,
        "tool_not_in_scope",
        body=_chat("escaped:send_email"),
        upstream=True,
    ),  # fmt: skip
    Attack(
        "answer repeats tool_calls", CHAT, 403, "tool_not_in_scope", body=_chat("dup:send_email"), upstream=True
    ),  # fmt: skip
    Attack(
        "answer gzip-encoded", CHAT, 502, "upstream_response_unreadable", body=_chat("gzip:send_email"), upstream=True
    ),  # fmt: skip
    Attack(
        "answer is SSE without its content type",
        CHAT,
        403,
        "tool_not_in_scope",
        body=_chat("nocontenttype:send_email"),
        upstream=True,
    ),  # fmt: skip
    # --- upstream redirects ---
    Attack("upstream redirects", CHAT, 502, "upstream_redirect", body=_chat(model="hop"), upstream=True),
    # --- keyless, bad keys, made-up deployments: refused and counted, no entry each ---
    Attack("no key", CHAT, 401, "missing_api_key", key="none", audited=False),
    Attack("bogus key", b"/gw/raw/x", 401, "invalid_api_key", key="bogus", audited=False),
    Attack(
        "made-up deployment (OpenAI)", CHAT, 404, "deployment_not_found", body=_chat(model="ghost-1"), audited=False
    ),  # fmt: skip
    Attack("made-up deployment (/gw)", b"/gw/ghost-2/x", 404, "deployment_not_found", audited=False),
    Attack("body is not JSON", CHAT, 400, "invalid_request", body=b"{nope", audited=False),
]


def _headers(product: Product, attack: Attack) -> dict[str, str]:
    headers = {"Charter-Purpose": "credit-scoring", "X-Probe": attack.name, "Content-Type": "application/json"}
    key = product.keys[attack.key]
    if key:
        headers["Authorization"] = f"Bearer {key}"
    return headers


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_attack(product: Product, attack: Attack) -> None:
    r = raw_request(product.gateway.url, attack.method, attack.target, _headers(product, attack), attack.body)
    assert r.status == attack.status, (r.status, r.body[:300])
    if attack.code is not None:
        assert r.headers["content-type"] == "application/problem+json" and r.code == attack.code, r.body[:300]
    seen = product.model.requests_with(attack.name)
    if attack.upstream:
        assert seen, "the call should have reached the model server"
        for s in seen:
            if attack.target.startswith(b"/gw/raw/"):
                assert s.raw_path.startswith("/base/raw/"), s.raw_path
            assert "authorization" not in s.headers and "charter-purpose" not in s.headers
    else:
        assert not seen, f"reached the model server: {[s.raw_path for s in seen]}"
    assert not product.elsewhere.seen, "a redirect was followed"
    if attack.audited:
        entry = product.entry(r.headers["charter-decision-id"])
        if attack.code is not None:
            assert (
                entry["action"] in ("inference.deny", "inference.error") and entry["details"]["reason"] == attack.code
            )
    elif r.status >= 400:
        assert "charter-decision-id" not in r.headers


# --- the forwarded path, as the model server receives it -----------------------------------------------------------

PIECES = [
    "..", ".", "%2e", "%2E", "%2e%2e", "%252e", "%25252e", "%2f", "%2F", "%5c", "%5C", ";", "..;", "%c0%ae",
    "%c0%af", "%e0%80%ae", "%u002e", "%00", "%20", "%41", "~", ":", "@", "a", "b", "v1", "secret", "%252f", "%",
]  # fmt: skip


def _climbs_out(raw_path: str, base: str) -> bool:
    """Whether some server reading `raw_path` leniently (decoding up to three times, `\\` and `;` as separators,
    dot segments resolved) would land outside `base`."""
    data = raw_path.encode()
    for _ in range(3):
        data = unquote_to_bytes(data)
    text = data.decode("latin-1").replace("\\", "/")
    text = re.sub(r";[^/]*", "", text)
    resolved = posixpath.normpath(text)
    return not (resolved + "/").startswith(base + "/")


@settings(max_examples=120, deadline=None)
@given(st.lists(st.lists(st.sampled_from(PIECES), min_size=1, max_size=3).map("".join), min_size=1, max_size=6))
def test_forwarded_path_never_leaves_the_base(product: Product, segments: list[str]) -> None:
    probe = "prop-" + str(time.monotonic_ns())
    target = ("/gw/raw/" + "/".join(segments)).encode()
    headers = {"Authorization": f"Bearer {product.keys['app']}", "Charter-Purpose": "credit-scoring", "X-Probe": probe}
    r = raw_request(product.gateway.url, "GET", target, headers)
    seen = product.model.requests_with(probe)
    if r.status == 200:
        assert len(seen) == 1
        assert seen[0].raw_path.startswith("/base/raw/")
        assert not _climbs_out(seen[0].raw_path, "/base/raw"), seen[0].raw_path
    else:
        assert r.status == 400 and not seen, (r.status, r.body[:200])


# --- streams ---------------------------------------------------------------------------------------------------


def _stream(product: Product, content: str) -> tuple[int, bytes, str]:
    headers = {"Authorization": f"Bearer {product.keys['app']}", "Charter-Purpose": "credit-scoring"}
    body = {"model": "chat", "stream": True, "messages": [{"role": "user", "content": content}]}
    with httpx.stream(
        "POST", product.gateway.url + "/v1/chat/completions", json=body, headers=headers, timeout=20
    ) as r:
        data = b"".join(r.iter_raw())
        return r.status_code, data, r.headers["charter-decision-id"]


def test_stream_ends_with_an_error_event_at_the_first_unlicensed_call(product: Product) -> None:
    status, data, decision = _stream(product, "call:lookup_customer,send_email")
    assert status == 200  # the headers went out before the model chose its tools
    events = [e for e in data.split(b"\n\n") if e]
    last = json.loads(events[-1].removeprefix(b"data: "))
    assert last["error"]["code"] == "tool_not_in_scope" and last["error"]["decision_id"] == decision
    before = b"\n\n".join(events[:-1])
    assert b"lookup_customer" in before and b"send_email" not in before  # nothing of the refused call
    assert b"[DONE]" not in data
    entry = product.entry(decision)
    assert entry["action"] == "inference.deny" and entry["details"]["reason"] == "tool_not_in_scope"
    assert entry["details"]["tools_called"] == ["send_email"] and entry["details"]["stream"] is True


def test_stream_with_a_tool_name_in_pieces_is_cut(product: Product) -> None:
    status, data, decision = _stream(product, "pieces:lookup_|customer")
    assert b"[DONE]" not in data and b'"tool_not_in_scope"' in data
    assert b'"customer"' not in data
    assert product.entry(decision)["action"] == "inference.deny"


def test_stream_with_licensed_calls_passes_whole(product: Product) -> None:
    status, data, decision = _stream(product, "call:lookup_customer")
    assert status == 200 and data.endswith(b"data: [DONE]\n\n") and b"error" not in data
    assert product.entry(decision)["action"] == "inference.allow"


def test_a_model_server_answer_over_the_limit_is_withheld_whole_or_streamed(product: Product) -> None:
    """A runaway (or hostile) model server cannot make the gateway hold an answer of any size in memory."""
    headers = {"Authorization": f"Bearer {product.keys['app']}", "Charter-Purpose": "credit-scoring"}
    body = {"model": "chat", "messages": [{"role": "user", "content": f"huge:{MAX_ANSWER + 1}"}]}
    r = httpx.post(product.gateway.url + "/v1/chat/completions", json=body, headers=headers, timeout=20)
    assert r.status_code == 502 and r.json()["code"] == "upstream_answer_too_large"
    assert "CHARTER_MAX_ANSWER_BYTES" in r.json()["detail"]
    assert product.entry(r.headers["charter-decision-id"])["details"]["reason"] == "upstream_answer_too_large"
    with pytest.raises(httpx.RemoteProtocolError):  # the stream is cut before its end, as for a failing upstream
        _stream(product, f"hugestream:{MAX_ANSWER + 1}")
    fine = httpx.post(
        product.gateway.url + "/v1/chat/completions",
        json={**body, "messages": [{"role": "user", "content": f"huge:{MAX_ANSWER // 2}"}]},
        headers=headers,
        timeout=20,
    )
    assert fine.status_code == 200 and len(fine.content) > MAX_ANSWER // 2


def test_nothing_an_upstream_sends_after_done_reaches_the_client(product: Product) -> None:
    status, data, decision = _stream(product, "afterdone:lookup_customer")
    assert status == 200 and data.endswith(b"data: [DONE]\n\n") and b"send_email" not in data
    assert product.entry(decision)["action"] == "inference.allow"


# --- refused calls that name nothing known: counted, summarised; metrics stay bounded -----------------------------


def test_junk_is_summarised_once_per_period_not_audited_per_call(product: Product) -> None:
    def counted(reason: str) -> int:
        return sum(e["details"]["counts"].get(reason, 0) for e in product.entries("gateway.refusals"))

    before = len(product.entries("inference.%"))
    keyless, unknown = counted("missing_api_key"), counted("deployment_not_found")
    app = {"Authorization": f"Bearer {product.keys['app']}"}
    for i in range(25):
        raw_request(product.gateway.url, "POST", CHAT, {"X-Probe": "junk"}, _chat(model=f"made-up-{i}"))
        raw_request(product.gateway.url, "GET", f"/gw/made-up-{i}/x".encode(), app)
    wait_for(lambda: counted("missing_api_key") >= keyless + 25 and counted("deployment_not_found") >= unknown + 25)
    summaries = product.entries("gateway.refusals")
    assert {e["actor"] for e in summaries} == {"system:gateway"} and all(e["outcome"] == "denied" for e in summaries)
    assert len(summaries) < 25  # one entry per period, not one per call
    assert len(product.entries("inference.%")) == before
    auditor = {"Authorization": f"Bearer {product.keys['auditor']}"}
    metrics = httpx.get(product.gateway.url + "/metrics", headers=auditor)
    assert metrics.status_code == 200 and "made-up" not in metrics.text


@pytest.mark.parametrize(("key", "status"), [("none", 401), ("app", 403), ("auditor", 200), ("admin", 200)])
def test_metrics_need_metrics_read(product: Product, key: str, status: int) -> None:
    headers = {"Authorization": f"Bearer {product.keys[key]}"} if product.keys[key] else {}
    for server in (product.gateway, product.serve):
        assert httpx.get(server.url + "/metrics", headers=headers).status_code == status


# --- upstream URLs ----------------------------------------------------------------------------------------------

BAD_UPSTREAMS = [
    "http://169.254.169.254/latest",
    "http://169.254.169.254.:80",
    "http://2852039166/",
    "http://0xa9fea9fe/",
    "http://0251.0376.0251.0376/",
    "http://169.254.43518/",
    "http://[::ffff:169.254.169.254]/",
    "http://[fe80::1]/",
    "http://[fd00:ec2::254]/",
    "http://100.100.100.200/",
    "http://metadata.google.internal/",
    "http://METADATA.google.internal./",
    "http://user:secret@127.0.0.1:8000",
    "http://127.0.0.1:8000@169.254.169.254/",
    "http://good.example\\@169.254.169.254/",
    "http://127.0.0.1:8000/v1?key=x",
    "http://127.0.0.1%2e:8000/",
]


@pytest.mark.parametrize("upstream", BAD_UPSTREAMS)
def test_deployment_upstream_refused(product: Product, upstream: str) -> None:
    body = {"name": "evil", "model": "credit@1.0", "upstream": upstream, "kind": "http"}
    r = httpx.post(
        product.serve.url + "/api/v1/deployments",
        json=body,
        headers={"Authorization": f"Bearer {product.keys['admin']}"},
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json" and "upstream" in r.text


# --- the listeners: declared sizes, slow clients, forwarded addresses --------------------------------------------


def _servers(product: Product) -> list[tuple[str, Server]]:
    return [("serve", product.serve), ("gateway", product.gateway)]


@pytest.mark.parametrize(
    ("which", "target"),
    [("gateway", b"/v1/chat/completions"), ("gateway", b"/gw/raw/x"), ("serve", b"/api/v1/deployments")],
)
def test_declared_oversize_body_is_refused_before_it_is_read(product: Product, which: str, target: bytes) -> None:
    port = dict(_servers(product))[which].port
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = (
            b"POST " + target + b" HTTP/1.1\r\nHost: g\r\nContent-Type: application/json\r\n"
            b"Authorization: Bearer " + product.keys["app"].encode() + b"\r\nCharter-Purpose: credit-scoring\r\n"
            b"Content-Length: 40000000\r\n\r\n"
        )
        sock.sendall(head)
        closed, got = closed_within(sock, 5)
    assert got.startswith(b"HTTP/1.1 413"), got[:200]
    assert b"payload_too_large" in got and closed


@pytest.mark.parametrize("which", ["serve", "gateway"])
@pytest.mark.parametrize(
    "partial",
    [
        b"",  # connects and says nothing
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n",  # headers never finish
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {app}\r\n"
        b'Content-Length: 100\r\n\r\n{"mod',  # the body never finishes
    ],
    ids=["silent", "partial-headers", "partial-body"],
)
def test_slow_clients_are_cut_off(product: Product, which: str, partial: bytes) -> None:
    server = dict(_servers(product))[which]
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(partial.replace(b"{app}", product.keys["app"].encode()))
        started = time.monotonic()
        closed, got = closed_within(sock, LIMIT_S + 4)
    assert closed, f"connection still open after {time.monotonic() - started:.1f} s"
    if partial:
        assert got.startswith(b"HTTP/1.1 408"), got[:200]


def test_trickled_headers_do_not_extend_the_deadline(product: Product) -> None:
    with socket.create_connection(("127.0.0.1", product.gateway.port), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        started = time.monotonic()
        closed = False
        while not closed and time.monotonic() - started < LIMIT_S + 4:
            try:
                sock.sendall(b"X-A: b\r\n")
            except OSError:
                closed = True
                break
            closed, _ = closed_within(sock, 0.2)
    assert closed, "a client trickling header lines kept its connection open"


def test_forwarded_for_from_loopback_does_not_dodge_the_login_limit(product: Product) -> None:
    statuses = []
    with httpx.Client(base_url=product.serve.url, follow_redirects=False, timeout=30) as web:
        for i in range(12):
            page = web.get("/login")
            csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
            assert csrf is not None
            form = {"csrf": csrf.group(1), "mode": "password", "username": f"nobody{i}", "password": "x" * 12}
            r = web.post("/login", data=form, headers={"X-Forwarded-For": f"203.0.113.{i}"})
            statuses.append(r.status_code)
    assert 429 in statuses, statuses


def test_withheld_answers_are_audited_with_the_upstream_digest(product: Product) -> None:
    headers = {"Authorization": f"Bearer {product.keys['app']}", "Charter-Purpose": "credit-scoring"}
    r = raw_request(product.gateway.url, "POST", CHAT, headers, _chat("call:send_email"))
    assert r.status == 403 and b"send_email" in r.body and b"call_0" not in r.body
    entry = product.entry(r.headers["charter-decision-id"])
    assert entry["details"]["answer"] == "withheld" and set(entry["digests"]) == {"request", "response"}
