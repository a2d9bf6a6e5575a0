"""Offboarding: disabling a user or an app stops every way it authenticates, at once, and is audited; enabling it
again restores it. Nobody can lock everyone out (yourself, the last admin)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from starlette.testclient import TestClient

from charter.auth import repository as auth_repository
from charter.auth import service as auth_service
from charter.auth.model import SYSTEM_ACTOR
from charter.auth.schemas import AppCreate, KeyCreate, RoleGrant
from charter.bootstrap import Container
from charter.core.errors import Conflict
from charter.server import Dispatcher
from tests.conftest import MakeUser, bearer
from tests.integration.web.conftest import PASSWORD, Client, sign_in

API = "/api/v1"


def test_a_disabled_user_loses_keys_password_and_sessions(
    container: Container, admin_key: str, web: Client, user: Callable[..., str]
) -> None:
    user("dora", "ml-engineer")
    with container.uow() as uow:
        key = auth_service.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal="dora")).key
    browser = sign_in(web(), "dora")
    assert browser.get("/").status_code == 200
    with TestClient(Dispatcher(container)) as api:
        assert api.get(f"{API}/whoami", headers=bearer(key)).status_code == 200

        r = api.post(f"{API}/users/dora/disable", json={"reason": "left the company"}, headers=bearer(admin_key))
        assert r.status_code == 200 and r.json()["disabled"] is True, r.text

        refused = api.get(f"{API}/whoami", headers=bearer(key))
        assert refused.status_code == 401 and refused.json()["code"] == "principal_disabled"
        assert browser.get("/").status_code in (302, 303, 401)  # the open session no longer works
        again = web()
        r_login = again.post("/login", data={"csrf": _csrf(again), "mode": "password", "username": "dora",
                                            "password": PASSWORD, "next": "/"})  # fmt: skip
        assert r_login.status_code != 303

        listed = {u["name"]: u for u in api.get(f"{API}/users", headers=bearer(admin_key)).json()["items"]}
        assert listed["dora"]["disabled"] is True
        log = api.get(f"{API}/audit/entries", params={"action": "user.disable"}, headers=bearer(admin_key)).json()
        assert [e["resource"] for e in log["items"]] == ["user:dora"]
        assert log["items"][0]["details"]["reason"] == "left the company"

        r = api.post(f"{API}/users/dora/enable", headers=bearer(admin_key))
        assert r.status_code == 200 and r.json()["disabled"] is False
        assert api.get(f"{API}/whoami", headers=bearer(key)).status_code == 200


def test_a_disabled_app_cannot_call(container: Container, admin_key: str) -> None:
    with container.uow() as uow:
        auth_service.add_app(uow, SYSTEM_ACTOR, AppCreate(name="portal"))
    with container.uow() as uow:
        key = auth_service.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal="app:portal")).key
    with TestClient(Dispatcher(container)) as api:
        r = api.post(f"{API}/apps/portal/disable", json={"reason": "key leaked"}, headers=bearer(admin_key))
        assert r.status_code == 200 and r.json()["kind"] == "app" and r.json()["disabled"] is True
        assert api.get(f"{API}/whoami", headers=bearer(key)).status_code == 401
        apps = api.get(f"{API}/apps", headers=bearer(admin_key)).json()["items"]
        assert [a["disabled"] for a in apps if a["name"] == "portal"] == [True]


def test_guards_and_errors(container: Container, admin_key: str, make_user: MakeUser) -> None:
    _, engineer = make_user("ml-engineer")
    with TestClient(Dispatcher(container)) as api:
        me = api.get(f"{API}/whoami", headers=bearer(admin_key)).json()["name"]
        r = api.post(f"{API}/users/{me}/disable", json={"reason": "x"}, headers=bearer(admin_key))
        assert r.status_code == 409 and r.json()["code"] == "cannot_disable_self"

        second, second_key = make_user("admin")
        r = api.post(f"{API}/users/{me}/disable", json={"reason": "handover"}, headers=bearer(second_key))
        assert r.status_code == 200  # another admin remains: allowed
        r = api.post(f"{API}/users/{second}/disable", json={"reason": "x"}, headers=bearer(second_key))
        assert r.status_code == 409 and r.json()["code"] == "cannot_disable_self"
        r = api.post(f"{API}/users/{me}/enable", headers=bearer(second_key))
        assert r.status_code == 200

        r = api.post(f"{API}/users/nobody/disable", json={"reason": "x"}, headers=bearer(admin_key))
        assert r.status_code == 404 and "charter user list" in r.json()["detail"]
        r = api.post(f"{API}/users/{me}/disable", json={}, headers=bearer(admin_key))
        assert r.status_code == 422 and "reason" in r.text
        r = api.post(f"{API}/users/{second}/disable", json={"reason": "x"}, headers=bearer(engineer))
        assert r.status_code == 403


def test_the_last_enabled_admin_cannot_be_disabled(container: Container, admin_key: str, make_user: MakeUser) -> None:
    """Only reachable by the system actor (an admin cannot disable themself), but the guard holds for anyone."""
    with TestClient(Dispatcher(container)) as api:
        me = api.get(f"{API}/whoami", headers=bearer(admin_key)).json()["name"]
    with container.uow() as uow, pytest.raises(Conflict) as err:
        auth_service.set_disabled(uow, SYSTEM_ACTOR, "user", me, disabled=True, reason="x")
    assert err.value.code == "last_admin"
    other, _ = make_user("admin")
    with container.uow() as uow:
        assert auth_service.set_disabled(uow, SYSTEM_ACTOR, "user", me, disabled=True, reason="x").disabled
    with container.uow() as uow, pytest.raises(Conflict):  # a disabled admin's grant does not count
        auth_service.set_disabled(uow, SYSTEM_ACTOR, "user", other, disabled=True, reason="x")


def _csrf(client: TestClient) -> str:
    from tests.integration.web.conftest import login_csrf

    return login_csrf(client)


def test_the_last_enabled_admin_role_cannot_be_revoked(
    container: Container, admin_key: str, make_user: MakeUser
) -> None:
    """Revoking admin from the only enabled admin would lock everyone out of identity management, as disabling would."""
    with TestClient(Dispatcher(container)) as api:
        me = api.get(f"{API}/whoami", headers=bearer(admin_key)).json()["name"]
        revoke = {"principal": me, "role": "admin"}
        r = api.post(f"{API}/roles/revoke", json=revoke, headers=bearer(admin_key))
        assert r.status_code == 409 and r.json()["code"] == "last_admin", r.text
        assert "grant admin to someone else first" in r.json()["detail"]
        other, other_key = make_user("admin")
        with container.uow() as uow:  # a disabled admin does not count
            auth_service.set_disabled(uow, SYSTEM_ACTOR, "user", other, disabled=True, reason="x")
        r = api.post(f"{API}/roles/revoke", json=revoke, headers=bearer(admin_key))
        assert r.status_code == 409 and r.json()["code"] == "last_admin", r.text
        with container.uow() as uow:
            auth_service.set_disabled(uow, SYSTEM_ACTOR, "user", other, disabled=False)
        r = api.post(f"{API}/roles/revoke", json=revoke, headers=bearer(admin_key))
        assert r.status_code == 200, r.text
        r = api.post(f"{API}/roles/revoke", json={"principal": other, "role": "admin"}, headers=bearer(other_key))
        assert r.status_code == 409 and r.json()["code"] == "last_admin", r.text


@pytest.mark.parametrize("how", ["disable", "revoke"])
def test_two_admins_removed_at_once_leave_one(
    container: Container, admin_key: str, make_user: MakeUser, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """Two admins each removing the other at the same moment: one change wins, the other is refused (409), never
    both (write skew: each transaction counted two admins before the other committed)."""
    with TestClient(Dispatcher(container)) as api:
        first = api.get(f"{API}/whoami", headers=bearer(admin_key)).json()["name"]
    second, _ = make_user("admin")
    both_counted = threading.Barrier(2)
    count = auth_repository.enabled_admins

    def slow_count(session: Any) -> int:
        n = count(session)
        try:  # hold the transaction open until the other one counted too (it never gets here if it waits to lock)
            both_counted.wait(timeout=1.5)
        except threading.BrokenBarrierError:
            pass
        return n

    monkeypatch.setattr(auth_repository, "enabled_admins", slow_count)
    outcomes: dict[str, str] = {}

    def remove(name: str) -> None:
        try:
            with container.uow() as uow:
                if how == "disable":
                    auth_service.set_disabled(uow, SYSTEM_ACTOR, "user", name, disabled=True, reason="x")
                else:
                    auth_service.revoke_role(uow, SYSTEM_ACTOR, RoleGrant(principal=name, role="admin"))
            outcomes[name] = "ok"
        except Conflict as exc:
            outcomes[name] = exc.code

    threads = [threading.Thread(target=remove, args=(n,)) for n in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes.values()) == ["last_admin", "ok"], outcomes
    monkeypatch.setattr(auth_repository, "enabled_admins", count)
    with container.uow() as uow:
        assert auth_repository.enabled_admins(uow.session) == 1
