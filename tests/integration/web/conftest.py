"""A dashboard client on the web app alone (no API, no gateway) and helpers to sign in."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from charter.auth import service as auth_service
from charter.auth.model import SYSTEM_ACTOR, Actor
from charter.auth.schemas import AppCreate, RoleGrant, UserCreate
from charter.bootstrap import Container
from charter.catalog import service as catalog
from charter.catalog.questionnaire import NO_PROHIBITED
from charter.catalog.schemas import ModelVersionCreate, SystemCreate
from charter.evaluation import service as evaluation
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseCreate
from charter.policies.engine import evaluate
from charter.signoffs.schemas import SignOffCreate
from charter.web.app import create
from tests.support.web import digest

PASSWORD = "correct horse battery staple"
Client = Callable[..., TestClient]


@pytest.fixture
def web(container: Container) -> Iterator[Client]:
    """Make TestClients on the dashboard; `base_url` picks loopback (default) or a public host name."""
    clients: list[TestClient] = []

    def _make(base_url: str = "http://127.0.0.1", login_rate: int | None = None) -> TestClient:
        c = container
        if login_rate is not None:
            settings = c.settings.model_copy(update={"login_rate_per_minute": login_rate})
            c = dataclasses.replace(container, settings=settings)
        client = TestClient(create(c), base_url=base_url, follow_redirects=False)
        clients.append(client)
        return client

    yield _make
    for client in clients:
        client.close()


@pytest.fixture
def user(container: Container) -> Callable[..., str]:
    """Create a user with the dashboard password and roles; returns the name."""

    def _make(name: str, *roles: str | tuple[str, str]) -> str:
        with container.uow() as uow:
            auth_service.add_user(uow, SYSTEM_ACTOR, UserCreate(name=name, password=PASSWORD))
        for role in roles:
            r, fn = (role, None) if isinstance(role, str) else role
            with container.uow() as uow:
                auth_service.grant_role(uow, SYSTEM_ACTOR, RoleGrant(principal=name, role=r, function=fn))
        return name

    return _make


def login_csrf(client: TestClient) -> str:
    page = client.get("/login")
    assert page.status_code == 200
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


def sign_in(client: TestClient, name: str, password: str = PASSWORD, next_url: str = "/") -> TestClient:
    r = client.post(
        "/login",
        data={"csrf": login_csrf(client), "mode": "password", "username": name, "password": password, "next": next_url},
    )
    assert r.status_code == 303, r.text
    return client


def page_csrf(client: TestClient, path: str = "/") -> str:
    found = re.search(r'"X-CSRF-Token": "([^"]+)"', client.get(path).text)
    assert found is not None
    return found.group(1)


MODEL = "faq-bot@1.0.0"


@pytest.fixture
def requested(container: Container, user: Callable[..., str]) -> str:
    """A minimal-risk model with a passing assessment and a license requested by rita (needs ml-lead)."""
    user("rita", "ml-engineer")
    answers = {"prohibited": NO_PROHIBITED}
    with container.uow() as uow:
        catalog.register_system(uow, SYSTEM_ACTOR, SystemCreate(name="faq-bot", purpose="FAQ", answers=answers))
    version = ModelVersionCreate(version="1.0.0", digest=digest(MODEL), size_bytes=10)
    with container.uow() as uow:
        catalog.register_model_version(uow, SYSTEM_ACTOR, "faq-bot", version)
    with container.uow() as uow:
        auth_service.add_app(uow, SYSTEM_ACTOR, AppCreate(name="helpdesk"))
    with container.uow() as uow:
        evaluation.record_assessment(uow, SYSTEM_ACTOR, MODEL, evaluate([], {}), {})
    body = LicenseCreate(
        model=MODEL,
        env="staging",
        purposes=["faq"],
        callers=["app:helpdesk"],
        days=10,
        conditions=["drift.psi_max < 0.25 => suspend"],
    )
    with container.uow() as uow:
        return licenses.request(uow, actor_of(container, "rita"), body).id


def actor_of(container: Container, name: str) -> Actor:
    """The user `name` as the services see it (with its current grants)."""
    with container.uow(write=False) as uow:
        return auth_service.actor_by_id(uow, auth_service.principal_by_ref(uow.session, name).id)


@pytest.fixture
def active(container: Container, user: Callable[..., str], requested: str) -> str:
    """The requested license, approved by lena (ml-lead) and so active."""
    user("lena", ("reviewer", "ml-lead"), "auditor")
    body = SignOffCreate(function="ml-lead", decision="approve", comment="checked the card")
    with container.uow() as uow:
        licenses.sign(uow, actor_of(container, "lena"), requested, body)
    return requested
