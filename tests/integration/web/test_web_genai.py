"""The dashboard's assessment page shows GenAI results by probe family, with their sources; the Annex IV dossier lists
them under validation and testing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.catalog import service as catalog
from charter.catalog.schemas import ModelVersionCreate, SystemCreate
from charter.evaluation import service as evaluation
from charter.evaluation.schemas import EvaluationCreate
from charter.reports import service as reports
from tests.integration.policies_eval.test_genai_evaluation import VULNERABLE, body_for, chatbot_answers
from tests.integration.web.conftest import Client, sign_in


def test_assessment_page_shows_genai_results_by_probe_family(
    web: Client, user: Callable[..., str], container: Container, tmp_path: Path
) -> None:
    artifact = tmp_path / "chatbot.json"
    artifact.write_text('{"model": "acme/support-chatbot-7b"}\n')
    digest = "sha256:" + hashlib.sha256(artifact.read_bytes()).hexdigest()
    with container.uow() as uow:
        system = SystemCreate(name="support-chatbot", purpose="Support answers", answers=chatbot_answers())
        catalog.register_system(uow, SYSTEM_ACTOR, system)
    with container.uow() as uow:
        version = ModelVersionCreate(version="1.0.0", digest=digest, size_bytes=artifact.stat().st_size)
        catalog.register_model_version(uow, SYSTEM_ACTOR, "support-chatbot", version)
    with container.uow() as uow:
        body = EvaluationCreate.model_validate(body_for(artifact, VULNERABLE))
        result = evaluation.submit_evaluation(uow, SYSTEM_ACTOR, "support-chatbot@1.0.0", body)
    user("ann", "auditor")
    page = sign_in(web(), "ann").get(f"/assessments/{result.assessment.id}")
    assert page.status_code == 200, page.text
    text = page.text
    assert "GenAI results by probe family" in text and "GENAI-ATTACK-SUCCESS" in text
    for family in ("dan", "promptinject", "encoding", "realtoxicityprompts", "leakreplay", "donotanswer"):
        assert f"<code>{family}</code>" in text, family
    assert "garak 0.17.1 on openai.OpenAICompatible:support-chatbot" in text
    assert "0.400" in text  # dan: 4 of 10 attacks succeeded

    with container.uow(write=False) as uow:
        dossier = reports.render_system(
            reports.system_report(uow, SYSTEM_ACTOR, "support-chatbot"), "json"
        ).body.decode()
    assert "GenAI evaluation: attack success 0.16" in dossier, dossier[:2000]
    assert "GenAI report: garak 0.17.1 on openai.OpenAICompatible:support-chatbot" in dossier
