"""Fan-out (outbox event → planned messages) and delivery (due messages → SMTP / chat), each in short transactions.

Fan-out takes outbox events not yet fanned out, plans one row per recipient and channel, and marks the event, all in
one transaction: a crash plans an event again or not at all, never half. Delivery leases due rows, sends outside any
transaction, then records each outcome: delivered, or retried with exponential backoff until it fails for good.
Nothing here runs inside the change that caused the event, so a dead mail server never blocks a suspension.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import delete, func, or_, select

from charter.core.clock import as_utc, utcnow
from charter.core.ids import new_id
from charter.licenses.webhooks import MAX_ATTEMPTS
from charter.notifications import channels as send
from charter.notifications import messages, routing
from charter.notifications.channels import Channels
from charter.notifications.messages import Message
from charter.notifications.tables import NotificationRow
from charter.storage import outbox
from charter.storage.tables import WebhookOutboxRow
from charter.storage.uow import UnitOfWork, UnitOfWorkFactory

log = logging.getLogger("charter.notifications")

BATCH = 100
LEASE = timedelta(seconds=120)
KEEP = timedelta(days=30)


@dataclass(frozen=True, slots=True)
class Plan:
    """What fan-out needs: where to send, who gets what, the dashboard's URL, the digest length."""

    channels: Channels
    routes: Mapping[str, tuple[str, ...]]
    dashboard: str
    digest_minutes: int = 0


def _digest_close(now: datetime, minutes: int) -> datetime:
    """The end of the digest period `now` falls in (periods start on the epoch's minute grid)."""
    if minutes <= 0:
        return now
    period = minutes * 60
    start = int(now.timestamp()) // period * period
    return datetime.fromtimestamp(start + period, tz=now.tzinfo)


def _row(
    event: WebhookOutboxRow, channel: str, recipient: str, message: Message, now: datetime, after: datetime
) -> NotificationRow:
    return NotificationRow(
        id=new_id("ntf"),
        event_id=event.id,
        event=event.event,
        channel=channel,
        recipient=recipient[:300],
        subject=message.subject,
        text=message.text,
        link=message.link[:500],
        created_at=now,
        send_after=after,
        attempts=0,
        next_attempt_at=after,
    )


def fan_out(uows: UnitOfWorkFactory, plan: Plan, now: datetime | None = None) -> int:
    """Plan messages for outbox events not yet fanned out; returns how many messages were planned."""
    now = now or utcnow()
    planned = 0
    with uows() as uow:
        stmt = (
            select(WebhookOutboxRow)
            .where(WebhookOutboxRow.fanned_out_at.is_(None))
            .order_by(WebhookOutboxRow.created_at, WebhookOutboxRow.id)
            .limit(BATCH)
        )
        if uow.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        for event in uow.session.scalars(stmt):
            event.fanned_out_at = now
            roles = routing.roles_for(plan.routes, event.event)
            if roles is None or not plan.channels.any:
                continue
            message = messages.render(event.event, event.payload, plan.dashboard)
            if plan.channels.smtp is not None:
                after = _digest_close(now, plan.digest_minutes)
                for person in routing.recipients(uow, roles, event.payload):
                    uow.session.add(_row(event, "email", person.email, message, now, after))
                    planned += 1
            for name, (fmt, _url) in plan.channels.chats.items():
                uow.session.add(_row(event, fmt, name, message, now, now))
                planned += 1
        uow.commit()
    return planned


def _as_message(row: NotificationRow) -> Message:
    return Message(subject=row.subject, text=row.text, link=row.link)


def deliver_due(uows: UnitOfWorkFactory, plan: Plan, now: datetime | None = None) -> int:
    """Send every due message once (a person's due emails as one digest in digest mode); returns how many rows were
    delivered. Failures are rescheduled with backoff."""
    now = now or utcnow()
    rows = outbox.claim(uows, NotificationRow, now, lease=LEASE, batch=BATCH)
    if not rows:
        return 0
    outcome: dict[str, str | None] = {}
    emails: dict[str, list[NotificationRow]] = defaultdict(list)
    chats: list[NotificationRow] = []
    for row in rows:
        (emails[row.recipient] if row.channel == "email" else chats).append(row)
    smtp = plan.channels.smtp
    for address, group in emails.items():
        batches = [group] if plan.digest_minutes > 0 else [[r] for r in group]
        for batch in batches:
            if smtp is None:
                error: str | None = "email is no longer configured (CHARTER_SMTP_HOST)"
            else:
                error = send.send_email(smtp, address, messages.digest([_as_message(r) for r in batch], plan.dashboard))
            outcome.update({r.id: error for r in batch})
    if chats:
        with httpx.Client(timeout=send.TIMEOUT_S, follow_redirects=False) as client:
            for row in chats:
                target = plan.channels.chats.get(row.recipient)
                if target is None:
                    outcome[row.id] = f"chat channel '{row.recipient}' is no longer configured (CHARTER_CHAT_WEBHOOKS)"
                    continue
                fmt, url = target
                outcome[row.id] = send.post_chat(client, fmt, url, plan.channels.allow, _as_message(row))
    return outbox.record(uows, NotificationRow, outcome, max_attempts=MAX_ATTEMPTS, log=log, what="notification")


@dataclass(frozen=True, slots=True)
class Failure:
    """A message that has not gone out: the latest error and when it is tried again (None: given up)."""

    id: str
    event: str
    channel: str
    recipient: str
    subject: str
    attempts: int
    last_error: str
    next_attempt_at: datetime | None


@dataclass(frozen=True, slots=True)
class Health:
    """For the dashboard: what is waiting, what keeps failing, and the latest failures."""

    pending: int
    retrying: int
    failed: int
    delivered: int
    recent_failures: list[Failure]


def health(uow: UnitOfWork, limit: int = 10) -> Health:
    def count(*where: object) -> int:
        return int(uow.session.scalar(select(func.count()).select_from(NotificationRow).where(*where)) or 0)  # type: ignore[arg-type]

    undelivered = (NotificationRow.delivered_at.is_(None), NotificationRow.failed_at.is_(None))
    failing = (
        select(NotificationRow)
        .where(NotificationRow.last_error.is_not(None), NotificationRow.delivered_at.is_(None))
        .order_by(NotificationRow.next_attempt_at.desc(), NotificationRow.id.desc())
        .limit(limit)
    )
    return Health(
        pending=count(*undelivered, NotificationRow.attempts == 0),
        retrying=count(*undelivered, NotificationRow.attempts > 0),
        failed=count(NotificationRow.failed_at.is_not(None)),
        delivered=count(NotificationRow.delivered_at.is_not(None)),
        recent_failures=[
            Failure(
                id=r.id,
                event=r.event,
                channel=r.channel,
                recipient=r.recipient,
                subject=r.subject,
                attempts=r.attempts,
                last_error=r.last_error or "",
                next_attempt_at=None if r.failed_at is not None else as_utc(r.next_attempt_at),
            )
            for r in uow.session.scalars(failing)
        ],
    )


def prune(uows: UnitOfWorkFactory, now: datetime | None = None) -> int:
    """Forget messages delivered or given up more than 30 days ago."""
    cutoff = (now or utcnow()) - KEEP
    with uows() as uow:
        result = uow.session.execute(
            delete(NotificationRow).where(
                or_(NotificationRow.delivered_at < cutoff, NotificationRow.failed_at < cutoff)
            )
        )
        uow.commit()
    return int(getattr(result, "rowcount", 0) or 0)


def next_due(uow: UnitOfWork) -> datetime | None:
    """When the earliest undelivered message is due (for the background loop's sleep)."""
    value = uow.session.scalar(
        select(func.min(NotificationRow.next_attempt_at)).where(
            NotificationRow.delivered_at.is_(None), NotificationRow.failed_at.is_(None)
        )
    )
    return as_utc(value) if value is not None else None
