"""Licenses, the sign-off inbox and decisions through the dashboard, authorized by the licenses service."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.integration.web.conftest import Client, page_csrf, sign_in


def test_approval_from_the_inbox_activates(web: Client, user: Callable[..., str], requested: str) -> None:
    user("lena", ("reviewer", "ml-lead"))
    client = sign_in(web(), "lena")
    inbox = client.get("/inbox")
    assert inbox.status_code == 200 and f'id="item-{requested}"' in inbox.text
    r = client.post(f"/inbox/{requested}", data={"function": "ml-lead", "decision": "approve", "comment": "ok"})
    assert r.status_code == 403  # no CSRF token
    csrf = page_csrf(client, "/inbox")
    r = client.post(
        f"/inbox/{requested}",
        data={"csrf": csrf, "function": "ml-lead", "decision": "reject", "comment": ""},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 422 and "a comment is required" in r.text and r.headers["HX-Retarget"] == "#flash"
    r = client.post(
        f"/inbox/{requested}",
        data={"csrf": csrf, "function": "ml-lead", "decision": "approve", "comment": "checked"},
        headers={"HX-Request": "true"},
    )
    assert r.status_code == 200 and "badge-state-active" in r.text and "<html" not in r.text
    page = client.get(f"/licenses/{requested}")
    assert page.status_code == 200 and 'id="license-token"' in page.text
    token = re.search(r'id="license-token">([^<]+)<', page.text)
    assert token is not None and token.group(1).count(".") == 2
    assert "Nothing is waiting for your sign-off." in client.get("/inbox").text
    again = client.post(
        f"/inbox/{requested}", data={"csrf": csrf, "function": "ml-lead", "decision": "approve", "comment": "x"}
    )
    assert again.status_code == 409  # no longer awaiting sign-offs


def test_reviewer_of_another_function_and_the_requester_cannot_sign(
    web: Client, user: Callable[..., str], requested: str
) -> None:
    user("sam", ("reviewer", "security"))
    client = sign_in(web(), "sam")
    assert f'id="item-{requested}"' not in client.get("/inbox").text
    csrf = page_csrf(client, "/inbox")
    r = client.post(f"/inbox/{requested}", data={"csrf": csrf, "function": "ml-lead", "decision": "approve"})
    assert r.status_code == 403 and "Not allowed" in r.text
    rita = sign_in(web(), "rita")
    assert rita.get("/inbox").status_code == 200  # the page renders for anyone; it lists nothing for non-reviewers
    r = rita.post(f"/inbox/{requested}", data={"csrf": page_csrf(rita), "function": "ml-lead", "decision": "approve"})
    assert r.status_code == 403


def test_license_pages(web: Client, user: Callable[..., str], requested: str) -> None:
    user("vic", "viewer")
    client = sign_in(web(), "vic")
    listing = client.get("/licenses?state=requested")
    assert listing.status_code == 200 and requested in listing.text
    assert requested not in client.get("/licenses?state=active").text
    assert client.get("/licenses?state=bogus").status_code == 422
    page = client.get(f"/licenses/{requested}")
    assert page.status_code == 200
    assert 'data-function="ml-lead"' in page.text and "awaiting a reviewer" in page.text
    assert "your roles do not include" in page.text  # history needs audit.read
    assert client.get("/licenses/lic_nope").status_code == 404
    overview = client.get("/")
    assert "faq-bot@1.0.0" in overview.text and "ml-lead" in overview.text
