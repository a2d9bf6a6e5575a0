"""The Annex IV system report over the API: every point and section, facts from every domain, MISSING where
Charter holds nothing, escaping, authorization, and the PDF rendered by headless Chromium."""

from __future__ import annotations

import html
import io
import re
import unicodedata
from typing import Any

import pypdf
import pytest
from starlette.testclient import TestClient

from charter.catalog import service as catalog
from charter.catalog.schemas import SystemUpdate
from charter.reports.pdf import find_chromium
from tests.conftest import MakeUser, bearer
from tests.integration.reports.world import DIGEST, ReportWorld

SQLITE = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)  # the rest runs on every backend

ANNEX_IV_TITLES = (
    "1. General description of the AI system",
    "2. Detailed description of the elements and of the development process",
    "3. Monitoring, functioning and control",
    "4. Appropriateness of the performance metrics",
    "5. Risk management system (Art. 9)",
    "6. Relevant changes made through the lifecycle",
    "7. Harmonised standards and other specifications applied",
    "8. EU declaration of conformity (Art. 47)",
    "9. Post-market monitoring system and plan (Art. 72)",
)
EXTRA_TITLES = (
    "A. Risk classification",
    "B. Data provenance",
    "C. Evaluation results",
    "D. Licenses and sign-off timeline",
    "E. Audit summary",
)
NO_CHROMIUM = "headless Chromium not installed (apt-get install chromium, or `make test` installs it)"


def text_of(page: str) -> str:
    """The visible text of an HTML page, tags removed and whitespace collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))


def row(page: str, label: str) -> str:
    """The text of the Annex IV item row labelled `label`."""
    m = re.search(
        r"<tr class=\"item-(\w+)\"><th>" + re.escape(html.escape(label)) + r"</th><td>(.*?)</td><td class=\"src\">",
        page,
        re.S,
    )
    assert m, f"no row {label!r}"
    return f"{m.group(1)}: {text_of(m.group(2)).strip()}"


def items(doc: dict[str, Any], label: str) -> dict[str, Any]:
    found: list[dict[str, Any]] = [i for s in doc["annex_iv"] for i in s["items"] if i["label"] == label]
    assert len(found) == 1, label
    return found[0]


def test_html_dossier_states_every_domain(world: ReportWorld, client: TestClient) -> None:
    ref = world.documented_system()
    lic = world.license(ref)
    r = client.get("/api/v1/reports/systems/credit-scoring")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    page = r.text
    text = text_of(page)
    for title in ANNEX_IV_TITLES + EXTRA_TITLES:
        assert title in text, title
    # catalog: purpose, deployer, digest, datasets and provenance, classification answers and obligations
    assert row(page, "Intended purpose") == "ok: Creditworthiness assessment of consumer loan applicants."
    assert row(page, "Deployer") == "ok: ACME Bank"
    assert DIGEST in row(page, "Version described (artifact digest)")
    assert "credit-scoring-applications@1 (training)" in row(
        page, "Data requirements and datasheets (training, validation and test data)"
    )
    assert row(page, "Data provenance") == "ok: Complete."
    assert "annex_iii.point" in text and "5(b)" in text and "EUAIA-ART14" in text
    assert "lawful basis" in text.lower() and "contract" in text
    # evaluation: metrics, fairness per group, scan, rule verdicts with control ids
    assert "Accuracy 0.912" in row(page, "Expected level of accuracy, overall")
    assert "sex=female: accuracy 0.91 on 2400 rows" in row(page, "Degrees of accuracy for specific persons or groups")
    assert "Artifact scan: clean" in row(page, "Cybersecurity measures")
    assert "ETH-DP-DIFF" in text and "EUAIA-ART10, NIST-RMF-MEASURE-2.11" in text
    # licenses: scope, conditions, every sign-off with its reviewer, the audit timeline
    assert lic.id in row(page, "Forms in which the system is placed on the market or put into service")
    assert 'fairness.dp_diff["sex"] < 0.1 => suspend' in row(page, "Conditions enforced on live licenses")
    for fn in lic.required_signoffs:
        assert f"user:rev-{fn}" in text
    assert "license.request" in text and "signoff.approve" in text and "license.activate" in text
    # audit: entries about the system and the latest signed checkpoint
    assert "system.register" in text and "Latest signed checkpoint" in text and "charter.local/audit" in text
    # unfilled elements stay MISSING even for a well documented system
    assert row(page, "EU declaration of conformity (copy or reference)").startswith("missing: MISSING")
    assert row(page, "Post-market monitoring plan").startswith("missing: MISSING")


def test_bare_system_marks_missing_fields_and_invents_nothing(world: ReportWorld, client: TestClient) -> None:
    world.bare_system("chat-helper")
    page = client.get("/api/v1/reports/systems/chat-helper").text
    for label in (
        "Deployer",
        "Owner team",
        "Provider (contact)",
        "Instructions for use for the deployer",
        "Data requirements and datasheets (training, validation and test data)",
        "Expected level of accuracy, overall",
        "Degrees of accuracy for specific persons or groups",
        "Validation and testing procedures, data, metrics and dated, signed test logs",
        "Forms in which the system is placed on the market or put into service",
        "Harmonised standards applied (with Official Journal references)",
        "Monitoring windows of production data",
    ):
        assert row(page, label).startswith("missing: MISSING"), label
    assert row(page, "Deployer") == "missing: MISSING charter system update chat-helper --deployer ORG"
    # a minimal-risk system needs no declaration of conformity: not applicable, not missing, not invented
    assert row(page, "EU declaration of conformity (copy or reference)").startswith("not_applicable: Not applicable")
    assert "No assessment" in text_of(page)

    doc = client.get("/api/v1/reports/systems/chat-helper?format=json").json()
    deployer = items(doc, "Deployer")
    assert deployer == {**deployer, "status": "missing", "value": None}
    assert doc["missing"] > 20 and doc["documented"] + doc["missing"] == sum(
        1 for s in doc["annex_iv"] for i in s["items"] if i["status"] != "not_applicable"
    )

    with world.c.uow() as uow:
        catalog.update_system(uow, world.admin, "chat-helper", SystemUpdate(deployer="Helpdesk GmbH"))
    page = client.get("/api/v1/reports/systems/chat-helper").text
    assert row(page, "Deployer") == "ok: Helpdesk GmbH"
    assert items(client.get("/api/v1/reports/systems/chat-helper?format=json").json(), "Deployer")["value"] == (
        "Helpdesk GmbH"
    )


@SQLITE
def test_user_text_is_escaped(world: ReportWorld, client: TestClient) -> None:
    world.bare_system("chat-helper")
    with world.c.uow() as uow:
        evil = '<script>alert(1)</script><img src="http://evil.example/x">'
        catalog.update_system(uow, world.admin, "chat-helper", SystemUpdate(purpose=evil))
    page = client.get("/api/v1/reports/systems/chat-helper").text
    assert "<script>" not in page and "<img" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


@SQLITE
def test_report_authorization(world: ReportWorld, client: TestClient, make_user: MakeUser) -> None:
    world.documented_system()
    world.bare_system("chat-helper")
    _, scoped = make_user("viewer", scope="system:chat-helper")
    assert client.get("/api/v1/reports/systems/chat-helper", headers=bearer(scoped)).status_code == 200
    r = client.get("/api/v1/reports/systems/credit-scoring", headers=bearer(scoped))
    assert r.status_code == 403 and r.json()["code"] == "permission_denied"
    _, team = make_user("auditor", scope="team:lending")
    assert client.get("/api/v1/reports/systems/credit-scoring", headers=bearer(team)).status_code == 200
    assert client.get("/api/v1/reports/systems/chat-helper", headers=bearer(team)).status_code == 403
    r = client.get("/api/v1/reports/systems/nope")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
    assert client.get("/api/v1/reports/systems/chat-helper?format=docx").status_code == 422


@SQLITE
@pytest.mark.skipif(find_chromium() is None, reason=NO_CHROMIUM)
def test_pdf_is_rendered_with_every_section(world: ReportWorld, client: TestClient) -> None:
    world.documented_system()
    r = client.get("/api/v1/reports/systems/credit-scoring?format=pdf")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF-")
    assert 'filename="credit-scoring-annex-iv.pdf"' in r.headers["content-disposition"]
    reader = pypdf.PdfReader(io.BytesIO(r.content))
    assert len(reader.pages) > 3
    text = re.sub(r"\s+", " ", unicodedata.normalize("NFKC", " ".join(p.extract_text() for p in reader.pages)))
    for title in ANNEX_IV_TITLES + EXTRA_TITLES:
        assert title.split(". ", 1)[1].split(" (")[0][:30] in text, title
    assert "Technical documentation — credit-scoring" in text
    assert DIGEST in text.replace(" ", "") or DIGEST[:40] in text
    assert "MISSING" in text and "ETH-DP-DIFF" in text and "ACME Bank" in text


@SQLITE
def test_pdf_without_a_renderer_is_a_clear_503(
    world: ReportWorld, client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    world.bare_system("chat-helper")
    monkeypatch.setattr(world.c, "settings", world.c.settings.model_copy(update={"chromium": "/nonexistent/chromium"}))
    r = client.get("/api/v1/reports/systems/chat-helper?format=pdf")
    assert r.status_code == 503 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["code"] == "pdf_renderer_unavailable" and "chromium" in r.json()["detail"]
    assert client.get("/api/v1/reports/systems/chat-helper?format=html").status_code == 200
