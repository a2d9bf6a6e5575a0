"""`PUT /users/{name}/password` (`charter user set-password`): an admin sets anyone's dashboard password, a user their
own, nobody else's; the new password signs the user in, the old one and every open session stop working; the audit
entry names no secret."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from charter.bootstrap import Container
from charter.server import Dispatcher
from tests.conftest import MakeUser, bearer
from tests.integration.web.conftest import PASSWORD, Client, login_csrf, sign_in

API = "/api/v1"
NEW = "a much longer passphrase"


def _login(client: TestClient, name: str, password: str) -> int:
    data = {"csrf": login_csrf(client), "mode": "password", "username": name, "password": password, "next": "/"}
    return client.post("/login", data=data).status_code


def test_admin_sets_a_password_sessions_end_and_the_log_keeps_no_secret(
    container: Container, admin_key: str, web: Client, user: Callable[..., str]
) -> None:
    user("dora", "ml-engineer")
    browser = sign_in(web(), "dora")
    assert browser.get("/").status_code == 200
    with TestClient(Dispatcher(container)) as api:
        r = api.put(f"{API}/users/dora/password", json={"password": NEW}, headers=bearer(admin_key))
        assert r.status_code == 200 and r.json()["name"] == "dora", r.text
        assert browser.get("/").status_code in (302, 303, 401)  # the open session ended
        assert _login(web(), "dora", PASSWORD) != 303
        assert _login(web(), "dora", NEW) == 303
        log = api.get(f"{API}/audit/entries", params={"action": "user.set_password"}, headers=bearer(admin_key))
        [entry] = log.json()["items"]
        assert entry["resource"] == "user:dora" and entry["details"]["sessions_ended"] == 1
        assert NEW not in log.text and PASSWORD not in log.text


def test_a_user_sets_their_own_password_but_nobody_elses(
    container: Container, admin_key: str, make_user: MakeUser
) -> None:
    me, my_key = make_user("senior-engineer")
    other, _ = make_user("ml-engineer")
    with TestClient(Dispatcher(container)) as api:
        assert api.put(f"{API}/users/{me}/password", json={"password": NEW}, headers=bearer(my_key)).status_code == 200
        r = api.put(f"{API}/users/{other}/password", json={"password": NEW}, headers=bearer(my_key))
        assert r.status_code == 403, r.text
        r = api.put(f"{API}/users/nobody/password", json={"password": NEW}, headers=bearer(my_key))
        assert r.status_code == 403  # who exists is not told to non-admins
        r = api.put(f"{API}/users/nobody/password", json={"password": NEW}, headers=bearer(admin_key))
        assert r.status_code == 404 and r.json()["code"] == "principal_not_found"


def test_bad_passwords_are_refused_naming_the_field(container: Container, admin_key: str, make_user: MakeUser) -> None:
    name, _ = make_user()
    with TestClient(Dispatcher(container)) as api:
        for body in ({"password": "short"}, {"password": "x" * 201}, {}, {"password": NEW, "extra": 1}):
            r = api.put(f"{API}/users/{name}/password", json=body, headers=bearer(admin_key))
            assert r.status_code == 422, (body, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        r = api.put(f"{API}/users/{name}/password", json={"password": "short"}, headers=bearer(admin_key))
        assert "password" in r.text
        assert api.put(f"{API}/users/{name}/password", json={"password": NEW}).status_code == 401
