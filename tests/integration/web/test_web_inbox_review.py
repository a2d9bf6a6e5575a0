"""The sign-off inbox shows what a reviewer must weigh — conditions, the assessment and its failing rules,
provenance gaps — and never reinstates a suspended license in one click without showing the breach."""

from __future__ import annotations

import re
from collections.abc import Callable

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.evaluation import service as evaluation
from charter.licenses import service as licenses
from tests.integration.web.conftest import MODEL, Client, page_csrf, sign_in
from tests.integration.web.test_web_license_state import text_of

EVIDENCE = {
    "source": "monitoring",
    "model": MODEL,
    "window": "win_1",
    "window_start": "2026-11-01T03:00:00Z",
    "window_end": "2026-11-01T04:00:00Z",
    "rows": 4000,
    "metric": "drift.psi_max",
    "op": "<",
    "observed": 2.41,
    "threshold": 0.25,
    "condition": "drift.psi_max < 0.25 => suspend",
}


def item_of(page: str, license_id: str) -> str:
    found = re.search(rf'<section class="card inbox-item" id="item-{license_id}">(.*?)</section>', page, flags=re.S)
    assert found is not None, "the license is not in the inbox"
    return text_of(found.group(1))


def test_the_inbox_shows_conditions_failing_rules_and_provenance_gaps(
    web: Client, user: Callable[..., str], container: Container, requested: str
) -> None:
    with container.uow() as uow:  # assessed against the built-in policies with no evaluation: rules fail
        failed = evaluation.reassess(uow, SYSTEM_ACTOR, MODEL)
    failing = [r for r in failed.results if r.verdict == "fail"]
    assert failing
    user("lena", ("reviewer", "ml-lead"))
    item = item_of(sign_in(web(), "lena").get("/inbox").text, requested)
    assert "drift.psi_max < 0.25 => suspend" in item  # the condition, as written
    assert "fail" in item and failing[0].rule_id in item and failing[0].reason[:40] in item
    assert "no training dataset linked" in item  # the provenance gap


def test_reinstating_a_suspended_license_shows_the_breach_and_is_never_one_click(
    web: Client, user: Callable[..., str], container: Container, active: str
) -> None:
    with container.uow() as uow:
        licenses.suspend(uow, SYSTEM_ACTOR, active, "condition breached: drift.psi_max < 0.25", EVIDENCE)
    user("mo", ("reviewer", "ml-lead"))  # a second ML lead (lena signed the issue stage; anyone may sign anew)
    client = sign_in(web(), "mo")
    item = item_of(client.get("/inbox").text, active)
    assert "reinstatement" in item and "Why it was suspended" in item
    assert "drift.psi_max = 2.41 (condition: drift.psi_max < 0.25)" in item
    assert "2026-11-01 03:00 UTC → 2026-11-01 04:00 UTC" in item and "4,000 rows" in item
    assert "Suspended by system:charter" in item

    csrf = page_csrf(client, "/inbox")
    one_click = {"csrf": csrf, "function": "ml-lead", "decision": "approve", "comment": ""}
    r = client.post(f"/inbox/{active}", data=one_click)
    assert r.status_code == 422 and "reviewed the breach" in r.text
    r = client.post(f"/inbox/{active}", data={**one_click, "acknowledge": "breach-reviewed"})
    assert r.status_code == 422 and "why it is safe again" in r.text
    with container.uow() as uow:
        assert "ml-lead" in licenses.status(uow, SYSTEM_ACTOR, active).missing_signoffs  # nothing recorded

    ok = {**one_click, "acknowledge": "breach-reviewed", "comment": "reference profile refreshed; PSI back to 0.03"}
    r = client.post(f"/inbox/{active}", data=ok)
    assert r.status_code == 303 and "state=" not in r.headers["location"]
    forged = r.headers["location"] + "&state=active&name=all%20clear"  # the page never echoes these
    done = text_of(client.get(forged).text)
    assert "Recorded your approval of faq-bot@1.0.0 · staging" in done and "the license is now suspended" in done
    assert "all clear" not in done
    with container.uow() as uow:
        assert "ml-lead" not in licenses.status(uow, SYSTEM_ACTOR, active).missing_signoffs
