"""The overview's Notifications card: admins see deliveries waiting, retrying and given up, with the latest errors;
other roles do not see the card."""

from __future__ import annotations

from collections.abc import Callable

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseCreate
from charter.notifications import routing, service
from charter.notifications.channels import Channels
from charter.notifications.service import Plan
from tests.integration.web.conftest import Client, sign_in
from tests.support import builders
from tests.support.server import free_port


def test_admins_see_failing_notifications_and_others_do_not_see_the_card(
    container: Container, web: Client, user: Callable[..., str]
) -> None:
    dead = f"http://127.0.0.1:{free_port()}/hook"  # nothing listens: every try fails
    plan = Plan(Channels(None, {"slack": ("slack", dead)}, container.settings.upstream_allowlist),
                routing.parse_routes(None), "http://127.0.0.1:8400")  # fmt: skip
    model, _ = builders.assessed_model(container, "chatbot")
    builders.app_key(container, "portal")
    body = {"model": model, "env": "production", "purposes": ["support"], "callers": ["app:portal"], "days": 30}
    with container.uow() as uow:
        licenses.request(uow, SYSTEM_ACTOR, LicenseCreate.model_validate(body))  # an event for the outbox
    user("ada", "admin")
    user("vic", "viewer")
    service.fan_out(container.uow, plan)
    service.deliver_due(container.uow, plan)
    with container.uow(write=False) as uow:
        assert service.health(uow).retrying >= 1

    page = sign_in(web(), "ada").get("/")
    assert page.status_code == 200 and 'id="notifications"' in page.text
    assert "ConnectError" in page.text and "slack: slack" in page.text
    assert 'id="notifications"' not in sign_in(web(), "vic").get("/").text
