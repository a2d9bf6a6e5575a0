"""Pages whose domain service is not part of this build yet: an honest "not available yet", never fake data."""

from __future__ import annotations

from charter.web import domains
from charter.web.handler import Ctx, View
from charter.web.rendering import Page


def unavailable(title: str, domain: str, what: str, needs: str) -> View:
    """A view that shows which service function the page is waiting for."""

    def view(ctx: Ctx) -> Page:
        del ctx
        missing = domains.function(domain, needs, what)
        if not isinstance(missing, domains.Missing):
            missing = domains.Missing(domain, what, f"this dashboard build does not show {what.lower()} yet")
        return Page("pending.html", {"title": title, "missing": missing})

    return view
