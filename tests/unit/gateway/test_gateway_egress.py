"""Where Charter may send requests: URL rules, the allowlist, the connect-time resolver check, the settings."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from pydantic import ValidationError

from charter.core import egress
from charter.gateway.upstream import CheckedResolver, UpstreamRefused
from charter.settings import Settings


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:8000", "https://models.example.com/v1", "http://10.0.0.7:8000/base", "http://[::1]:9000"],
)
def test_ordinary_upstreams_pass(url: str) -> None:
    assert egress.url_refusal(url, egress.Allow()) is None


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://169.254.169.254/", "link-local"),
        ("http://2852039166/", "link-local"),
        ("http://0xa9.0xfe.0xa9.0xfe/", "link-local"),
        ("http://[::ffff:a9fe:a9fe]/", "link-local"),
        ("http://[64:ff9b::a9fe:a9fe]/", "link-local"),
        ("http://[2002:a9fe:a9fe::1]/", "link-local"),
        ("http://[fe80::1%25eth0]/", "percent"),
        ("http://metadata.goog/", "metadata"),
        ("http://u:p@h/", "userinfo"),
        ("http://h/?a=1", "query"),
        ("http://h/#x", "fragment"),
        ("ftp://h/", "http"),
        ("http:///x", "no host"),
        ("http://h:99999/", "parse"),
        ("http://hé/", "ASCII"),
    ],
)
def test_bad_upstreams_are_refused_with_a_reason(url: str, why: str) -> None:
    reason = egress.url_refusal(url, egress.Allow())
    assert reason is not None and why in reason


def test_the_allowlist_names_hosts_suffixes_and_networks() -> None:
    allow = egress.parse_allow("models.internal, *.example.com, 10.0.0.0/8, 2001:db8::/32")
    assert allow.enabled
    assert egress.url_refusal("http://models.internal:8000", allow) is None
    assert egress.url_refusal("http://a.b.example.com", allow) is None
    assert egress.url_refusal("http://10.1.2.3", allow) is None
    assert egress.url_refusal("http://[2001:db8::1]", allow) is None
    assert "CHARTER_UPSTREAM_ALLOW" in (egress.url_refusal("http://192.168.1.1", allow) or "")
    assert egress.check_resolved("http://elsewhere.test", allow, resolve=lambda h: ["10.9.9.9"]) is None
    assert "not in" in (egress.check_resolved("http://elsewhere.test", allow, resolve=lambda h: ["8.8.8.8"]) or "")
    names_only = egress.parse_allow("models.internal")
    assert "not in" in (egress.url_refusal("http://other.internal", names_only) or "")
    with pytest.raises(ValueError, match="neither"):
        egress.parse_allow("ok.example, bad host!")
    # a host name whose answer changed to a metadata address is refused even when listed by name
    assert "link-local" in (
        egress.check_resolved("http://x.test", egress.Allow(), resolve=lambda h: ["169.254.169.254"]) or ""
    )


def test_the_resolver_refuses_forbidden_and_unlisted_answers_at_connect_time() -> None:
    async def resolve(allow: egress.Allow) -> str:
        resolver = CheckedResolver(allow)
        try:
            results = await resolver.resolve("localhost", 80)
            return ",".join(r["host"] for r in results)
        finally:
            await resolver.close()

    assert "127.0.0.1" in asyncio.run(resolve(egress.Allow()))
    with pytest.raises(UpstreamRefused, match="CHARTER_UPSTREAM_ALLOW"):
        asyncio.run(resolve(egress.parse_allow("10.0.0.0/8")))
    assert asyncio.run(resolve(egress.parse_allow("localhost")))


def test_settings_check_the_allowlist_and_the_webhook_url(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="CHARTER_UPSTREAM_ALLOW"):
        Settings(home=tmp_path, upstream_allow="not a host")
    with pytest.raises(ValidationError, match="CHARTER_WEBHOOK_URL.*metadata"):
        Settings(home=tmp_path, webhook_url="http://metadata.google.internal/hook")
    with pytest.raises(ValidationError, match="CHARTER_WEBHOOK_URL.*userinfo"):
        Settings(home=tmp_path, webhook_url="https://u:p@hooks.example.com/x")
    with pytest.raises(ValidationError, match="CHARTER_WEBHOOK_URL.*not in"):
        Settings(home=tmp_path, webhook_url="https://hooks.example.com/x", upstream_allow="models.internal")
    ok = Settings(home=tmp_path, webhook_url="https://hooks.example.com/x?token=1", upstream_allow="*.example.com")
    assert ok.webhook_url and ok.upstream_allowlist.enabled
