"""What the licenses domain needs from a running process (the composition root's container), and how it signs."""

from __future__ import annotations

from typing import Protocol

from charter.core.lifespan import Lifespan
from charter.core.signing import KeyRing
from charter.licenses.issuer import Issuer
from charter.licenses.webhooks import Target
from charter.settings import Settings
from charter.storage.uow import UnitOfWorkFactory


class Runtime(Protocol):
    """Structural view of `charter.bootstrap.Container` (licenses sits below bootstrap)."""

    settings: Settings
    keys: KeyRing
    uow: UnitOfWorkFactory
    lifespan: Lifespan  # the server process's start/stop hooks

    @property
    def public_url(self) -> str: ...


def issuer_for(runtime: Runtime) -> Issuer:
    """The license issuer of this deployment: the license key, public URL and status-list TTL."""
    return Issuer(key=runtime.keys.license, url=runtime.public_url, ttl_s=runtime.settings.status_list_ttl_s)


def webhook_target(settings: Settings) -> Target | None:
    """Where notifications go (CHARTER_WEBHOOK_URL, signed with CHARTER_WEBHOOK_SECRET); None when unset."""
    if not settings.webhook_url:
        return None
    return Target(url=settings.webhook_url, secret=settings.webhook_secret, allow=settings.upstream_allowlist)
