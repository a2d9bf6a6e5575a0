"""Licenses read as people name them (`system@version · env`), with their true state on every page, and their
history as a readable timeline ([First hour] dashboard complaints)."""

from __future__ import annotations

import html
import re
from collections.abc import Callable

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.licenses import service as licenses
from tests.integration.web.conftest import Client, sign_in

NAME = "faq-bot@1.0.0 · staging"


def text_of(page: str) -> str:
    """The visible text of a page, whitespace collapsed (tags dropped, entities decoded)."""
    body = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", body)))


def section(page: str, heading: str) -> str:
    """The text of the `<section>` whose heading starts with `heading`."""
    for found in re.findall(r"<section\b.*?</section>", page, flags=re.S):
        if re.search(rf"<h2[^>]*>\s*{re.escape(heading)}", found):
            return text_of(found)
    raise AssertionError(f"no section headed {heading!r}")


def test_licenses_are_named_system_version_env_not_truncated_ids(
    web: Client, user: Callable[..., str], active: str
) -> None:
    client = sign_in(web(), "lena")
    listing = text_of(client.get("/licenses").text)
    assert NAME in listing
    assert re.search(r"lic_\w{6,}…", listing) is None  # no truncated id anywhere
    overview = client.get("/").text
    assert NAME in text_of(overview) and "…" not in section(overview, "Expiring")
    system = client.get("/systems/faq-bot").text
    assert NAME in section(system, "Licenses")
    page = client.get(f"/licenses/{active}").text
    assert f'<h1><span class="license-name">{html.escape(NAME)}</span>' in page
    assert active in page  # the full id is still there to copy


def test_a_revoked_license_never_reads_valid_or_licensed(
    web: Client, user: Callable[..., str], container: Container, active: str
) -> None:
    with container.uow() as uow:
        licenses.revoke(uow, SYSTEM_ACTOR, active, "model card claims were wrong")
    client = sign_in(web(), "lena")
    page = client.get(f"/licenses/{active}").text
    visible = text_of(page)
    assert 'id="license-state"><span class="badge badge-state-revoked"' in page
    assert "Revoked" in visible and "model card claims were wrong" in visible
    assert re.search(r"\bin \d+ days?\b", visible) is None, "a revoked license must not count down to an expiry"
    assert "valid until" not in visible.lower()
    row = next(r for r in re.findall(r"<tr>.*?</tr>", client.get("/licenses").text, flags=re.S) if active in r)
    assert "revoked" in text_of(row) and re.search(r"\bin \d+ days?\b", text_of(row)) is None
    versions = section(client.get("/systems/faq-bot").text, "Model versions")
    assert "licensed" not in versions.replace("not licensed", "")  # the version no longer reads "licensed"
    assert "revoked" in versions
    system_licenses = section(client.get("/systems/faq-bot").text, "Licenses")
    assert re.search(r"\b20\d\d-\d\d-\d\d\b.*in \d+ days", system_licenses) is None


def test_a_suspended_license_says_it_cannot_serve(
    web: Client, user: Callable[..., str], container: Container, active: str
) -> None:
    with container.uow() as uow:
        licenses.suspend(uow, SYSTEM_ACTOR, active, "fairness gap found in the audit", category="fairness")
    client = sign_in(web(), "lena")
    visible = text_of(client.get(f"/licenses/{active}").text)
    assert "Suspended" in visible and "refuses this license" in visible
    assert "fairness gap found in the audit" in visible
    row = next(r for r in re.findall(r"<tr>.*?</tr>", client.get("/licenses").text, flags=re.S) if active in r)
    assert "suspended" in text_of(row) and "not usable" in text_of(row)


def test_history_is_a_readable_timeline(
    web: Client, user: Callable[..., str], container: Container, active: str
) -> None:
    with container.uow() as uow:
        licenses.suspend(uow, SYSTEM_ACTOR, active, "drift <0.25 exceeded", category="drift")
    client = sign_in(web(), "lena")
    page = client.get(f"/licenses/{active}").text
    assert "\\u003c" not in page and "\\u003e" not in page
    history = section(page, "History")
    assert "{" not in history and '"' not in history  # no JSON
    for line in (
        "Requested by user:rita",
        "Sign-off approved as ml-lead by user:lena",
        "checked the card",
        "Activated: token signed, gateways admit it by user:lena",
        "Suspended by system:charter",
        "drift <0.25 exceeded",
        "Conditions drift.psi_max < 0.25 => suspend",
    ):
        assert line in history, (line, history)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", history)
