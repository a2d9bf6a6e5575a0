"""A dashboard client on the web app alone (no API, no gateway) and helpers to sign in."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator

import pytest
from starlette.testclient import TestClient

from charter.auth import service as auth_service
from charter.auth.model import SYSTEM_ACTOR
from charter.auth.schemas import RoleGrant, UserCreate
from charter.bootstrap import Container
from charter.web.app import create

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
