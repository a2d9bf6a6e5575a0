"""Sending: email over SMTP (stdlib `smtplib`, STARTTLS or implicit TLS, optional login) and chat webhooks (httpx).

Each send returns None on success or why it failed (kept on the row, shown on the dashboard); secrets never appear
in that text. Chat URLs follow the upstreams' egress rules, checked again on the resolved addresses before each
POST; redirects are never followed.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

import httpx

from charter.core import egress
from charter.core.canonical import canonical_json
from charter.notifications import messages
from charter.notifications.messages import Message
from charter.settings import Settings

TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Smtp:
    host: str
    port: int
    security: str
    sender: str
    user: str | None = None
    password: str | None = None
    ca_file: Path | None = None

    def __repr__(self) -> str:  # never print the password
        return f"Smtp({self.host}:{self.port}, {self.security}, from={self.sender})"


@dataclass(frozen=True, slots=True)
class Channels:
    smtp: Smtp | None
    chats: dict[str, tuple[str, str]]  # name → (format, url)
    allow: egress.Allow

    @property
    def any(self) -> bool:
        return self.smtp is not None or bool(self.chats)


def from_settings(settings: Settings) -> Channels:
    smtp = None
    if settings.smtp_host and settings.smtp_from:
        smtp = Smtp(
            host=settings.smtp_host,
            port=settings.smtp_port,
            security=settings.smtp_security,
            sender=settings.smtp_from,
            user=settings.smtp_user,
            password=settings.smtp_password,
            ca_file=settings.smtp_ca_file,
        )
    chats: dict[str, tuple[str, str]] = {}
    for fmt, url in settings.chat_channels:
        name = fmt if fmt not in chats else f"{fmt}-{sum(1 for n in chats if n.startswith(fmt)) + 1}"
        chats[name] = (fmt, url)
    return Channels(smtp=smtp, chats=chats, allow=settings.upstream_allowlist)


def _tls(smtp: Smtp) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(smtp.ca_file) if smtp.ca_file else None)


def send_email(smtp: Smtp, to: str, message: Message) -> str | None:
    """One email; None when the server accepted it."""
    mail = EmailMessage()
    mail["From"] = smtp.sender
    mail["To"] = to
    mail["Subject"] = message.subject
    mail["Date"] = formatdate(localtime=False)
    mail["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or None)
    mail.set_content(message.text)
    try:
        if smtp.security == "tls":
            client: smtplib.SMTP = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=TIMEOUT_S, context=_tls(smtp))
        else:
            client = smtplib.SMTP(smtp.host, smtp.port, timeout=TIMEOUT_S)
        with client:
            if smtp.security == "starttls":
                client.starttls(context=_tls(smtp))  # refuses to go on in clear text if the server cannot
            if smtp.user and smtp.password:
                client.login(smtp.user, smtp.password)
            refused = client.send_message(mail)
    except (OSError, smtplib.SMTPException) as exc:
        return f"email to {to}: {type(exc).__name__}: {_clean(str(exc), smtp)}"[:500]
    if refused:
        return f"email to {to}: refused by the server: {refused}"[:500]
    return None


def _clean(text: str, smtp: Smtp) -> str:
    return text.replace(smtp.password, "***") if smtp.password else text


def post_chat(client: httpx.Client, fmt: str, url: str, allow: egress.Allow, message: Message) -> str | None:
    """One chat message; None on a 2xx answer."""
    refused = egress.check_resolved(url, allow, base=False)
    if refused is not None:
        return f"chat URL not allowed: {refused}"
    body = canonical_json(messages.CHAT[fmt](message))
    try:
        resp = client.post(url, content=body, headers={"Content-Type": "application/json"})
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"[:500]
    if 200 <= resp.status_code < 300:
        return None
    return f"HTTP {resp.status_code}"
