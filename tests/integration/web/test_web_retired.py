"""The system page marks a retired model version, with the reason on hover."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.catalog import service as catalog
from charter.catalog.questionnaire import NO_PROHIBITED
from charter.catalog.schemas import ModelVersionCreate, SystemCreate
from charter.licenses import retire
from tests.integration.web.conftest import Client, sign_in


def test_a_retired_version_is_marked(container: Container, web: Client, user: Callable[..., str]) -> None:
    with container.uow() as uow:
        body = {"name": "scorer", "purpose": "x", "answers": {"prohibited": NO_PROHIBITED}}
        catalog.register_system(uow, SYSTEM_ACTOR, SystemCreate.model_validate(body))
    for version in ("1.0", "2.0"):
        with container.uow() as uow:
            digest = "sha256:" + hashlib.sha256(version.encode()).hexdigest()
            mv = ModelVersionCreate(version=version, digest=digest, size_bytes=1)
            catalog.register_model_version(uow, SYSTEM_ACTOR, "scorer", mv)
    with container.uow() as uow:
        retire.retire(uow, SYSTEM_ACTOR, "scorer@1.0", "replaced by 2.0 after the bias review")
    page = sign_in(web(), user("vera", "viewer")).get("/systems/scorer")
    assert page.status_code == 200
    rows = {line.split("<strong>")[1].split("<")[0]: line for line in page.text.split("<tr>") if "<strong>" in line}
    assert "retired" in rows["1.0"] and "replaced by 2.0 after the bias review" in rows["1.0"]
    assert "retired" not in rows["2.0"]
