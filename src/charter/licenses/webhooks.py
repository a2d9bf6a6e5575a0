"""Webhook notifications through an outbox: written in the change's transaction, delivered after commit.

Each POST carries the canonical JSON body and the send time (`Charter-Timestamp: <unix seconds>`), both signed with
HMAC-SHA256 over `"<timestamp>." + body` (`Charter-Signature: sha256=<hex>`, key CHARTER_WEBHOOK_SECRET), as Stripe
and GitHub do: a receiver refuses a timestamp older than its tolerance (`verify_delivery`, default 5 minutes), so a
captured delivery cannot be replayed later. Failures are retried with exponential backoff, each try freshly stamped
and signed, so a notification is never lost to a crash or an unreachable receiver (at-least-once: receivers
de-duplicate on `Charter-Event-Id`).

The URL follows the upstreams' egress rules (`charter.core.egress`): checked when settings load, and its host's
addresses again before each delivery (link-local/metadata refused, CHARTER_UPSTREAM_ALLOW applied); redirects are
never followed.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, or_

from charter.core import egress
from charter.core.canonical import canonical_json
from charter.core.clock import isoformat, utcnow
from charter.core.hashing import hmac_sha256_hex
from charter.core.ids import new_id
from charter.licenses import notify
from charter.storage import outbox
from charter.storage.tables import WebhookOutboxRow
from charter.storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("charter.webhooks")

MAX_ATTEMPTS = 12
LEASE = timedelta(seconds=60)
BATCH = 50
KEEP = timedelta(days=30)
DEFAULT_TOLERANCE_S = 300.0  # what receivers should accept between Charter-Timestamp and their clock


def enqueue(uow: UnitOfWork, event: str, payload: Mapping[str, Any]) -> str:
    """Add a notification to this transaction; it is sent only if the transaction commits."""
    now = utcnow()
    row = WebhookOutboxRow(
        id=new_id("wh"),
        event=event,
        payload=dict(payload),
        created_at=now,
        attempts=0,
        next_attempt_at=now,
    )
    uow.session.add(row)
    uow.after_commit(notify.changed)
    return row.id


def body_of(row: WebhookOutboxRow) -> bytes:
    """The exact bytes POSTed (and signed): canonical JSON of {id, event, created_at, data}."""
    return canonical_json(
        {"id": row.id, "event": row.event, "created_at": isoformat(row.created_at), "data": row.payload}
    )


def signature(secret: str, body: bytes, timestamp: int) -> str:
    """The `Charter-Signature` header value for `body` sent at `timestamp` (unix seconds): HMAC over `ts.body`."""
    return "sha256=" + hmac_sha256_hex(secret.encode(), str(int(timestamp)).encode() + b"." + body)


class DeliveryRejected(Exception):
    """A webhook delivery a receiver must refuse; `reason` is stable: missing, malformed, stale, future, signature."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def verify_delivery(
    secret: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    now: float | None = None,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
) -> None:
    """For receivers: check `Charter-Signature` over `Charter-Timestamp` + body and refuse a timestamp further than
    `tolerance_s` from `now` (a replay, or a badly skewed clock). Header names are matched case-insensitively."""
    lower = {k.lower(): v for k, v in headers.items()}
    stamp, given = lower.get("charter-timestamp"), lower.get("charter-signature")
    if stamp is None or given is None:
        raise DeliveryRejected("missing", "Charter-Timestamp and Charter-Signature headers are both required")
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 12:
        raise DeliveryRejected("malformed", "Charter-Timestamp must be whole unix seconds")
    current = time.time() if now is None else now
    age = current - int(stamp)
    if age > tolerance_s:
        raise DeliveryRejected("stale", f"delivery stamped {age:.0f} s ago, older than the {tolerance_s:.0f} s allowed")
    if -age > tolerance_s:
        raise DeliveryRejected("future", f"delivery stamped {-age:.0f} s in the future: check the clocks")
    if not hmac.compare_digest(given.encode(), signature(secret, body, int(stamp)).encode()):
        raise DeliveryRejected("signature", "Charter-Signature does not match the timestamp and body")


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    secret: str | None
    allow: egress.Allow = egress.Allow()


def _post(client: httpx.Client, target: Target, row: WebhookOutboxRow) -> str | None:
    """POST one notification; None on a 2xx answer, else why it failed."""
    if not target.secret:
        return "CHARTER_WEBHOOK_SECRET is not set: refusing to send unsigned notifications"
    refused = egress.check_resolved(target.url, target.allow, base=False)
    if refused is not None:
        return f"CHARTER_WEBHOOK_URL not allowed: {refused}"
    body = body_of(row)
    stamp = int(utcnow().timestamp())
    headers = {
        "Content-Type": "application/json",
        "Charter-Timestamp": str(stamp),
        "Charter-Signature": signature(target.secret, body, stamp),
        "Charter-Event": row.event,
        "Charter-Event-Id": row.id,
    }
    try:
        resp = client.post(target.url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= resp.status_code < 300:
        return None
    return f"HTTP {resp.status_code}"


def deliver_due(uows: UnitOfWorkFactory, target: Target | None, now: datetime | None = None) -> int:
    """Send every due notification once; returns how many were delivered. Failures are rescheduled."""
    if target is None:
        return 0
    now = now or utcnow()
    rows = outbox.claim(uows, WebhookOutboxRow, now, lease=LEASE, batch=BATCH)
    if not rows:
        return 0
    results: dict[str, str | None] = {}
    with httpx.Client(timeout=10.0, follow_redirects=False) as client:
        for row in rows:
            results[row.id] = _post(client, target, row)
    return outbox.record(uows, WebhookOutboxRow, results, max_attempts=MAX_ATTEMPTS, log=log, what="webhook")


def prune(uow: UnitOfWork, now: datetime) -> int:
    """Forget notifications delivered or given up more than 30 days ago."""
    cutoff = now - KEEP
    result = uow.session.execute(
        delete(WebhookOutboxRow).where(or_(WebhookOutboxRow.delivered_at < cutoff, WebhookOutboxRow.failed_at < cutoff))
    )
    return int(getattr(result, "rowcount", 0) or 0)
