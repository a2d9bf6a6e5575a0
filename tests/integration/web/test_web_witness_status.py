"""The audit page says whether the latest checkpoint is witnessed: none configured, or who cosigned and who refused."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from charter.audit.cosign import Cosigner, cosigner_key
from charter.audit.witnessing import Target, Witnessing
from charter.bootstrap import Container
from tests.integration.web.conftest import Client, sign_in

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def test_audit_page_shows_the_witness_status_of_the_latest_checkpoint(
    container: Container, web: Client, user: Callable[..., str]
) -> None:
    log = container.audit_log
    browser = sign_in(web(), user("ada", "admin"))
    cp = log.checkpointer.checkpoint()
    assert cp is not None
    page = browser.get("/audit").text
    assert "none configured (CHARTER_WITNESSES)" in page

    raw = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    )
    gone = Target(Cosigner.parse(cosigner_key("witness.example", raw)), "http://127.0.0.1:9")  # nothing listens
    log.checkpointer.witnessing = Witnessing([gone], 1, timeout_s=2.0)
    try:
        assert "not submitted yet" in browser.get("/audit").text
        log.checkpointer.witness(cp)
        page = browser.get("/audit").text
        assert "✗ not witnessed" in page and "0 of 1 cosigned (quorum 1)" in page
        assert "witness.example: unreachable" in page
    finally:
        log.checkpointer.witnessing.close()
        log.checkpointer.witnessing = None
