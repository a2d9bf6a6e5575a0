"""Email and chat notifications: the right people hear of each change, through a real SMTP server (aiosmtpd) and real
HTTP chat receivers on loopback; failures are retried and visible, never blocking the change; digests gather."""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from email import message_from_bytes
from email.message import Message as Email
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import ValidationError
from sqlalchemy import update
from starlette.testclient import TestClient

from charter.auth import service as auth_service
from charter.auth.model import SYSTEM_ACTOR
from charter.auth.schemas import TeamCreate
from charter.auth.tables import PrincipalRow
from charter.core.clock import utcnow
from charter.core.lifespan import Lifespan
from charter.licenses import service as licenses
from charter.notifications import background, routing, service
from charter.notifications.channels import Channels, Smtp
from charter.notifications.service import Plan
from charter.server import Dispatcher
from charter.settings import Settings
from tests.conftest import MakeUser
from tests.integration.licenses.conftest import World
from tests.support.server import free_port

DASH = "https://charter.example.com"


class Inbox:
    """An aiosmtpd handler keeping what it was sent."""

    def __init__(self) -> None:
        self.mails: list[tuple[list[str], Email]] = []
        self.event = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append((list(envelope.rcpt_tos), message_from_bytes(envelope.content)))
        self.event.set()
        return "250 OK"

    def to(self) -> dict[str, list[Email]]:
        out: dict[str, list[Email]] = {}
        for rcpts, mail in self.mails:
            for r in rcpts:
                out.setdefault(r, []).append(mail)
        return out


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@dataclass
class Chat:
    """HTTP receivers for chat webhooks: every body per path; `fail` paths answer 500."""

    port: int
    bodies: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    fail: set[str] = field(default_factory=set)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def chat() -> Iterator[Chat]:
    state = Chat(port=0)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.bodies.setdefault(self.path, []).append(json.loads(body))
            self.send_response(500 if self.path in state.fail else 200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


def _body(mail: Email) -> str:
    payload = mail.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def _emails(world: World, **addresses: str) -> None:
    with world.c.uow() as uow:
        for name, email in addresses.items():
            uow.session.execute(update(PrincipalRow).where(PrincipalRow.name == name).values(email=email))
        uow.commit()


def _plan(port: int | None, chat: Chat | None = None, digest: int = 0, routes: str | None = None) -> Plan:
    chats = {}
    if chat is not None:
        chats = {"slack": ("slack", chat.url("/slack")), "teams": ("teams", chat.url("/teams")),
                 "mattermost": ("mattermost", chat.url("/mm"))}  # fmt: skip
    smtp = Smtp(host="127.0.0.1", port=port, security="none", sender="charter@example.com") if port else None
    return Plan(Channels(smtp=smtp, chats=chats, allow=Settings().upstream_allowlist), routing.parse_routes(routes),
                DASH, digest)  # fmt: skip


def _run(world: World, plan: Plan, now: dt.datetime | None = None) -> tuple[int, int]:
    now = now or utcnow()
    return service.fan_out(world.c.uow, plan, now), service.deliver_due(world.c.uow, plan, now)


def test_each_change_reaches_the_people_who_act_on_it_by_email_and_chat(
    world: World, make_user: MakeUser, smtp: tuple[Inbox, int], chat: Chat
) -> None:
    inbox, port = smtp
    system = world.system("high", "loans")
    with world.c.uow() as uow:
        auth_service.add_team(uow, SYSTEM_ACTOR, TeamCreate(name="other-team"))
    make_user("senior-engineer", name="olga", scope="team:other-team")  # another team's: hears nothing
    make_user("senior-engineer", name="sys-owner", scope=f"system:{system}")
    make_user("auditor", name="aud")
    _emails(world, **{"rita": "rita@example.com", "sam": "sam@example.com", "olga": "olga@example.com",
                      "sys-owner": "owner@example.com", "aud": "aud@example.com",
                      **{f"rev-{fn}": f"{fn}@example.com" for fn in ("ml-lead", "security", "legal", "ethics",
                                                                       "privacy")}})  # fmt: skip
    _run(world, _plan(port, chat))  # events from building the world go out first
    inbox.mails.clear()
    chat.bodies.clear()

    lic = world.request(f"{system}@1.0")
    with world.c.uow(write=False) as uow:
        needed = set(licenses.status(uow, world.admin, lic.id).missing_signoffs)
    planned, delivered = _run(world, _plan(port, chat))
    assert delivered == planned > 0
    reviewers = {f"{fn}@example.com" for fn in needed} | ({"rita@example.com"} if "ml-lead" in needed else set())
    assert set(inbox.to()) == reviewers  # only the functions this license needs
    mail = inbox.to()[sorted(reviewers)[0]][0]
    assert lic.id in mail["Subject"] and mail["From"] == "charter@example.com"
    assert f"{DASH}/licenses/{lic.id}" in _body(mail)

    slack = chat.bodies["/slack"][0]
    assert lic.id in slack["text"] and slack["blocks"][-1]["elements"][0]["url"] == f"{DASH}/licenses/{lic.id}"
    teams = chat.bodies["/teams"][0]
    assert teams["type"] == "message"
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard" and card["content"]["actions"][0]["type"] == "Action.OpenUrl"
    mm = chat.bodies["/mm"][0]
    assert mm["attachments"][0]["title_link"] == f"{DASH}/licenses/{lic.id}"

    world.approve_all(lic.id)
    inbox.mails.clear()
    with world.c.uow() as uow:
        licenses.revoke(uow, world.manager, lic.id, "drift breach")
    _run(world, _plan(port, chat))
    suspended = {a for a, mails in inbox.to().items() if any("REVOKED" in m["Subject"] for m in mails)}
    assert suspended == {"sam@example.com", "rita@example.com", "owner@example.com", "aud@example.com"}
    text = _body(inbox.to()["sam@example.com"][-1])
    assert "Reason: drift breach" in text


def test_a_failing_receiver_is_retried_and_reported_and_never_blocks_the_change(
    world: World, chat: Chat, smtp: tuple[Inbox, int]
) -> None:
    _inbox, port = smtp
    system = world.system("minimal", "chatbot")
    _run(world, _plan(None, chat))
    chat.fail.add("/teams")
    lic = world.request(f"{system}@1.0")  # the change commits whatever the receivers do
    now = utcnow()
    _run(world, _plan(None, chat), now)
    assert world.get(lic.id).state == "requested"
    with world.c.uow(write=False) as uow:
        health = service.health(uow)
    assert health.retrying >= 1 and health.recent_failures[0].last_error == "HTTP 500"
    assert health.recent_failures[0].channel == "teams"
    assert service.deliver_due(world.c.uow, _plan(None, chat), now) == 0  # not due again yet: backoff
    chat.fail.clear()
    later = now + dt.timedelta(minutes=5)
    assert service.deliver_due(world.c.uow, _plan(None, chat), later) >= 1
    with world.c.uow(write=False) as uow:
        assert service.health(uow).retrying == 0


def test_a_digest_gathers_a_persons_emails_into_one(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    _emails(world, sam="sam@example.com")
    plan = _plan(port, digest=60, routes="license.signoff_requested=senior-engineer")
    now = dt.datetime(2026, 12, 7, 10, 5, tzinfo=dt.UTC)
    service.fan_out(world.c.uow, plan, now)  # the world's own events
    service.deliver_due(world.c.uow, plan, now + dt.timedelta(hours=2))
    inbox.mails.clear()
    a, b = world.system("minimal", "a-sys"), world.system("minimal", "b-sys")
    world.request(f"{a}@1.0")
    world.request(f"{b}@1.0")
    service.fan_out(world.c.uow, plan, now)
    assert service.deliver_due(world.c.uow, plan, now + dt.timedelta(minutes=10)) == 0  # the digest is open
    assert service.deliver_due(world.c.uow, plan, now + dt.timedelta(minutes=56)) == 2
    [(rcpts, mail)] = inbox.mails
    assert rcpts == ["sam@example.com"] and mail["Subject"] == "[Charter] 2 governance notifications"


def _certificate(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_file, key_file = tmp_path / "smtp.pem", tmp_path / "smtp.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_file, key_file


def test_starttls_and_login_and_a_wrong_password_is_reported_without_it(world: World, tmp_path: Path) -> None:
    import ssl

    cert, key = _certificate(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret-pass"
        return AuthResult(success=ok, handled=False)

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=authenticator, auth_require_tls=True)  # fmt: skip
    controller.start()
    try:
        _emails(world, sam="sam@example.com")
        for password, delivered in (("wrong-pass", 0), ("s3cret-pass", 1)):
            smtp = Smtp("127.0.0.1", port, "starttls", "charter@example.com", "charter", password, cert)
            plan = Plan(Channels(smtp, {}, Settings().upstream_allowlist),
                        routing.parse_routes("license.signoff_requested=senior-engineer"), DASH)  # fmt: skip
            _run(world, plan)
            inbox.mails.clear()
            world.request(f"{world.system('minimal')}@1.0")
            assert _run(world, plan)[1] == delivered
            with world.c.uow(write=False) as uow:
                failures = service.health(uow).recent_failures
            if delivered == 0:
                assert "SMTPAuthenticationError" in (failures[0].last_error or "")
                assert "wrong-pass" not in (failures[0].last_error or "")
            else:
                assert [r for r, _ in inbox.mails] == [["sam@example.com"]]
    finally:
        controller.stop()


def test_the_server_notifies_after_a_change_without_being_asked(
    world: World, smtp: tuple[Inbox, int], client: TestClient
) -> None:
    """Wired into `charter serve`'s lifespan: a license request is mailed to its reviewers at once."""
    inbox, port = smtp
    del client
    _emails(world, **{"rev-security": "security@example.com"})
    settings = world.c.settings.model_copy(
        update={"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_security": "none", "smtp_from": "c@example.com"}
    )
    c = replace(
        world.c,
        settings=settings,
        lifespan=Lifespan(),
        public_routes=[],
        audit_wired=False,
        audit_writer=None,
        monitor=None,
        reports_monitoring=None,
    )
    background.wire(c)
    with TestClient(Dispatcher(c)):
        world.request(f"{world.system('high')}@1.0")
        assert inbox.event.wait(20), "no email within 20 s"
    assert "security@example.com" in inbox.to()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"smtp_host": "mail.example.com", "smtp_from": "c@example.com", "smtp_security": "none"}, "clear text"),
        ({"smtp_host": "mail.example.com"}, "CHARTER_SMTP_FROM"),
        ({"smtp_host": "mail.example.com", "smtp_from": "c@x.com", "smtp_user": "u"}, "go together"),
        ({"chat_webhooks": "discord=https://example.com/hook"}, "FORMAT=URL"),
        ({"chat_webhooks": "slack=http://169.254.169.254/latest"}, "CHARTER_CHAT_WEBHOOKS"),
    ],
)
def test_bad_settings_are_refused_naming_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**env)  # type: ignore[arg-type]


def test_bad_routes_are_refused_naming_the_entry() -> None:
    with pytest.raises(routing.RouteError, match="unknown role wizard"):
        routing.parse_routes("license.suspend=wizard")
    with pytest.raises(routing.RouteError, match="must be EVENT=ROLE"):
        routing.parse_routes("license suspend")
    routes = routing.parse_routes("incident.*=admin;license.suspend=")
    assert routing.roles_for(routes, "incident.reported") == ("admin",)
    assert routing.roles_for(routes, "license.suspend") == ()
    assert routing.roles_for(routes, "monitor.unknown") is None
