"""The dashboard's assessment page says who computed the figures: self-reported ones are marked as such."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.integration.policies_eval.conftest import VERSIONS, evaluation_body, register_credit_scoring, upload_parts
from tests.integration.web.conftest import Client, sign_in

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_assessment_page_marks_self_reported_figures(client: TestClient, web: Client, user: Callable[..., str]) -> None:
    register_credit_scoring(client)
    mine: dict[str, Any] = client.post(f"{VERSIONS}/evaluations", json=evaluation_body("mitigated")).json()
    theirs: dict[str, Any] = client.post(f"{VERSIONS}/evaluations/upload", **upload_parts("mitigated")).json()
    browser = sign_in(web(), user("ada", "admin"))
    page = browser.get(f"/assessments/{mine['assessment']['id']}")
    assert page.status_code == 200 and "self-reported" in page.text and "charter assessment verify" in page.text
    page = browser.get(f"/assessments/{theirs['assessment']['id']}")
    assert page.status_code == 200 and "self-reported" not in page.text
    assert "the server, from the uploaded predictions" in page.text
