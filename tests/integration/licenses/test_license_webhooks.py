"""Webhooks through the outbox to a real HTTP receiver on loopback: signed, retried with backoff, never lost."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from charter import bootstrap
from charter.bootstrap import Container
from charter.core.clock import utcnow
from charter.licenses import webhooks
from charter.licenses.runtime import webhook_target
from charter.settings import Settings
from charter.storage.tables import WebhookOutboxRow
from tests.integration.licenses.conftest import World

SECRET = "s3cret-for-tests"


class Receiver:
    """Records POSTs; answers with the queued statuses first, then 204."""

    def __init__(self) -> None:
        self.posts: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.posts.append(({k.lower(): v for k, v in self.headers.items()}, body))
                status = receiver.statuses.pop(0) if receiver.statuses else 204
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _with(world: World, **over: object) -> Container:
    settings = Settings.model_validate({**world.c.settings.model_dump(), **over})
    return bootstrap.build(settings)


def _rows(world: World) -> list[WebhookOutboxRow]:
    with world.c.uow(write=False) as uow:
        rows = list(uow.session.scalars(select(WebhookOutboxRow).order_by(WebhookOutboxRow.created_at)))
        uow.session.expunge_all()
        return rows


def test_signed_delivery_with_retry_and_backoff(world: World, receiver: Receiver) -> None:
    c = _with(world, webhook_url=receiver.url, webhook_secret=SECRET)
    try:
        target = webhook_target(c.settings)
        lic = world.request(world.system("limited") + "@1.0")
        receiver.statuses = [500]
        now = utcnow()
        assert webhooks.deliver_due(c.uow, target, now) == 0
        [row] = _rows(world)
        assert row.attempts == 1 and row.last_error == "HTTP 500" and row.delivered_at is None
        assert row.next_attempt_at - now >= timedelta(seconds=1)
        assert webhooks.deliver_due(c.uow, target, now) == 0  # not due yet: backoff
        assert len(receiver.posts) == 1
        assert webhooks.deliver_due(c.uow, target, now + timedelta(seconds=5)) == 1
        assert webhooks.deliver_due(c.uow, target, now + timedelta(seconds=60)) == 0  # delivered once
        assert len(receiver.posts) == 2
        for headers, body in receiver.posts:
            signed = headers["charter-timestamp"].encode() + b"." + body
            expected = "sha256=" + hmac.new(SECRET.encode(), signed, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(headers["charter-signature"], expected)
            webhooks.verify_delivery(SECRET, body, headers)
            assert headers["charter-event"] == "license.signoff_requested"
            doc = json.loads(body)
            assert doc["event"] == "license.signoff_requested" and doc["data"]["license"] == lic.id
            assert doc["data"]["required_signoffs"] == ["ml-lead", "security"]
        assert receiver.posts[0][1] == receiver.posts[1][1]
        assert receiver.posts[0][0]["charter-event-id"] == receiver.posts[1][0]["charter-event-id"]
    finally:
        c.close()


def test_every_state_change_is_notified(world: World, receiver: Receiver) -> None:
    from tests.integration.licenses.assessments import assess

    c = _with(world, webhook_url=receiver.url, webhook_secret=SECRET)
    try:
        model = world.system("limited") + "@1.0"
        assess(world, model, blockers=[])
        lic = world.request(model)
        world.approve_all(lic.id)
        assert webhooks.deliver_due(c.uow, webhook_target(c.settings)) == 4
        events = [json.loads(body)["event"] for _, body in receiver.posts]
        assert events == ["license.signoff_requested", "license.approve", "license.activate", "reaudit.scheduled"]
    finally:
        c.close()


def test_unreachable_receiver_or_missing_secret_keeps_the_notification(world: World, receiver: Receiver) -> None:
    world.request(world.system("minimal") + "@1.0")
    now = utcnow()
    dead = webhooks.Target(url="http://127.0.0.1:9/nothing", secret=SECRET)
    assert webhooks.deliver_due(world.c.uow, dead, now) == 0
    [row] = _rows(world)
    assert row.attempts == 1 and row.last_error and row.delivered_at is None
    unsigned = webhooks.Target(url=receiver.url, secret=None)
    assert webhooks.deliver_due(world.c.uow, unsigned, now + timedelta(hours=1)) == 0
    assert receiver.posts == [] and "CHARTER_WEBHOOK_SECRET" in (_rows(world)[0].last_error or "")
    good = webhooks.Target(url=receiver.url, secret=SECRET)
    assert webhooks.deliver_due(world.c.uow, good, now + timedelta(hours=2)) == 1


def test_nothing_is_sent_for_a_rolled_back_change(world: World, receiver: Receiver) -> None:
    with world.c.uow() as uow:
        webhooks.enqueue(uow, "license.test", {"x": 1})
        uow.rollback()
    assert _rows(world) == []
    assert webhooks.deliver_due(world.c.uow, webhooks.Target(receiver.url, SECRET)) == 0


def test_gives_up_after_max_attempts(world: World, receiver: Receiver) -> None:
    world.request(world.system("minimal") + "@1.0")
    receiver.statuses = [503] * webhooks.MAX_ATTEMPTS
    target = webhooks.Target(receiver.url, SECRET)
    now = utcnow()
    for i in range(webhooks.MAX_ATTEMPTS):
        webhooks.deliver_due(world.c.uow, target, now + timedelta(days=i))
    [row] = _rows(world)
    assert row.failed_at is not None and row.attempts == webhooks.MAX_ATTEMPTS
    assert webhooks.deliver_due(world.c.uow, target, now + timedelta(days=99)) == 0


def test_a_receiver_outside_the_egress_rules_is_never_called(world: World, receiver: Receiver) -> None:
    from charter.core import egress

    world.request(world.system("minimal") + "@1.0")
    now = utcnow()
    # the receiver listens on 127.0.0.1: an allowlist without it refuses it before any request (also by resolution)
    fenced = webhooks.Target(url=receiver.url, secret=SECRET, allow=egress.parse_allow("10.0.0.0/8"))
    assert webhooks.deliver_due(world.c.uow, fenced, now) == 0
    assert receiver.posts == [] and "CHARTER_WEBHOOK_URL not allowed" in (_rows(world)[0].last_error or "")
    metadata = webhooks.Target(url="http://169.254.169.254/hook", secret=SECRET)
    assert webhooks.deliver_due(world.c.uow, metadata, now + timedelta(hours=1)) == 0
    assert "link-local" in (_rows(world)[0].last_error or "")


def test_the_timestamp_is_signed_and_old_deliveries_are_refused(world: World, receiver: Receiver) -> None:
    """A captured delivery cannot be replayed later: `Charter-Timestamp` is inside the signed material and a receiver
    using `verify_delivery` refuses it once it is older than the tolerance (5 minutes by default)."""
    c = _with(world, webhook_url=receiver.url, webhook_secret=SECRET)
    try:
        world.request(world.system("limited") + "@1.0")
        assert webhooks.deliver_due(c.uow, webhook_target(c.settings), utcnow()) == 1
        [(headers, body)] = receiver.posts
        stamp = int(headers["charter-timestamp"])
        assert abs(stamp - time.time()) < 60
        webhooks.verify_delivery(SECRET, body, headers, now=stamp + 299)
        with pytest.raises(webhooks.DeliveryRejected) as err:
            webhooks.verify_delivery(SECRET, body, headers, now=stamp + 301)  # replayed six minutes later
        assert err.value.reason == "stale"
        with pytest.raises(webhooks.DeliveryRejected) as err:
            webhooks.verify_delivery(SECRET, body, headers, now=stamp - 400)
        assert err.value.reason == "future"
        refreshed = {**headers, "charter-timestamp": str(stamp + 3600)}  # the replayer re-stamps it
        with pytest.raises(webhooks.DeliveryRejected) as err:
            webhooks.verify_delivery(SECRET, body, refreshed, now=stamp + 3600)
        assert err.value.reason == "signature"
        with pytest.raises(webhooks.DeliveryRejected) as err:
            webhooks.verify_delivery(SECRET, body, {"charter-signature": headers["charter-signature"]}, now=stamp)
        assert err.value.reason == "missing"
        with pytest.raises(webhooks.DeliveryRejected) as err:
            webhooks.verify_delivery(SECRET, body, {**headers, "charter-timestamp": "-1"}, now=stamp)
        assert err.value.reason == "malformed"
        webhooks.verify_delivery(SECRET, body, headers, now=stamp + 3000, tolerance_s=3600)
    finally:
        c.close()
