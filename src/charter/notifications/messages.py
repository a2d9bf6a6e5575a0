"""What a notification says: a subject, plain text and the dashboard page to act on, and the chat payloads.

Built only from the event's payload (ids, states, reasons Charter wrote itself); nothing is invented. Chat payloads
follow each product's incoming-webhook format: Slack and Mattermost take `text` plus Block Kit / attachments,
Microsoft Teams Workflows webhooks take a message with an Adaptive Card attachment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

_TITLES = {
    "license.signoff_requested": "Sign-off requested",
    "license.reinstatement_signoff": "Reinstatement sign-off recorded",
    "license.approve": "License approved",
    "license.activate": "License active",
    "license.suspend": "License SUSPENDED",
    "license.revoke": "License REVOKED",
    "license.reinstate": "License reinstated",
    "license.reject": "License rejected",
    "license.expire": "License expired",
    "license.expiring": "License expires soon",
    "reaudit.scheduled": "Re-audit scheduled",
    "reaudit.overdue": "Re-audit OVERDUE",
    "reaudit.completed": "Re-audit completed",
}
_FIELDS = (
    ("system", "System"),
    ("model", "Model"),
    ("env", "Environment"),
    ("state", "State"),
    ("reason", "Reason"),
    ("required_signoffs", "Sign-offs needed"),
    ("requested_by", "Requested by"),
    ("actor", "By"),
    ("exp", "Expires"),
    ("due_at", "Due"),
    ("deadline", "Deadline"),
    ("kind", "Kind"),
)


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    text: str
    link: str


def _value(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _page(payload: Mapping[str, Any]) -> str:
    """The dashboard path to act on: the license, else the system, else the overview."""
    if isinstance(payload.get("license"), str):
        return f"/licenses/{quote(payload['license'], safe='')}"
    if isinstance(payload.get("system"), str):
        return f"/systems/{quote(str(payload['system']), safe='')}"
    return "/"


def render(event: str, payload: Mapping[str, Any], dashboard: str) -> Message:
    """The subject, text and link of `event` (an outbox event) for a dashboard at `dashboard` (no trailing slash)."""
    title = _TITLES.get(event) or event.replace(".", ": ").replace("_", " ").capitalize()
    about = payload.get("license") or payload.get("system") or payload.get("task") or ""
    subject = f"[Charter] {title}: {about}" if about else f"[Charter] {title}"
    lines = [f"{label}: {_value(payload[key])}" for key, label in _FIELDS if payload.get(key) not in (None, "", [])]
    link = dashboard.rstrip("/") + _page(payload)
    text = "\n".join([title, "", *lines, "", f"Open in Charter: {link}", f"(event {event})"])
    return Message(subject=subject[:300], text=text, link=link)


def digest(messages: Sequence[Message], dashboard: str) -> Message:
    """Several messages to one person as one email."""
    if len(messages) == 1:
        return messages[0]
    subject = f"[Charter] {len(messages)} governance notifications"
    parts = [f"{i}. {m.subject.removeprefix('[Charter] ')}\n{m.text}" for i, m in enumerate(messages, 1)]
    return Message(subject=subject, text="\n\n".join(parts), link=dashboard.rstrip("/") + "/")


def slack(message: Message) -> dict[str, Any]:
    """Slack / Mattermost incoming-webhook body: `text` (the fallback and notification line) and blocks."""
    return {
        "text": f"{message.subject} <{message.link}|Open in Charter>",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*{message.subject}*"}},
            {"type": "section", "text": {"type": "plain_text", "text": message.text[:2900]}},
            {
                "type": "actions",
                "elements": [
                    {"type": "button", "text": {"type": "plain_text", "text": "Open in Charter"}, "url": message.link}
                ],
            },
        ],
    }


def mattermost(message: Message) -> dict[str, Any]:
    """Mattermost takes Slack's `text`; its attachments carry the details (it does not render Block Kit)."""
    return {
        "text": f"**{message.subject}** [Open in Charter]({message.link})",
        "attachments": [{"fallback": message.subject, "title": message.subject, "title_link": message.link,
                         "text": message.text[:3900]}],
    }  # fmt: skip


def teams(message: Message) -> dict[str, Any]:
    """Microsoft Teams (Workflows incoming webhook): a message whose attachment is an Adaptive Card 1.4."""
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "text": message.subject, "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "TextBlock", "text": message.text[:3900], "wrap": True},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open in Charter", "url": message.link}],
    }
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


CHAT = {"slack": slack, "mattermost": mattermost, "teams": teams}
