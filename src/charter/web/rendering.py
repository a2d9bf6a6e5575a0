"""Jinja2 environment, filters and the page/response helpers every view uses."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from charter import __version__
from charter.core.clock import as_utc, utcnow
from charter.web import labels


@dataclass
class Page:
    """What a view returns: a template, its variables, a status and (for HTMX requests) a fragment template."""

    template: str
    data: dict[str, Any] = field(default_factory=dict)
    status: int = 200
    fragment: str | None = None
    headers: dict[str, str] = field(default_factory=dict)


def fmt_dt(value: datetime | str | None, with_seconds: bool = False) -> str:
    """`2025-01-31 14:05 UTC`; ISO strings are parsed first; None renders as an em dash."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return value
    else:
        parsed = value
    return as_utc(parsed).strftime("%Y-%m-%d %H:%M:%S UTC" if with_seconds else "%Y-%m-%d %H:%M UTC")


def fmt_ago(value: datetime | None) -> str:
    """A coarse relative time: `3 min ago`, `in 5 days`."""
    if value is None:
        return "—"
    delta = (as_utc(value) - utcnow()).total_seconds()
    past, s = delta < 0, abs(delta)
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            n = int(s // size)
            text = f"{n} {unit}{'s' if unit == 'day' and n != 1 else ''}"
            return f"{text} ago" if past else f"in {text}"
    return "just now" if past else "in under a minute"


def fmt_short(value: str | bytes | None, n: int = 12) -> str:
    """Shorten a digest or hash for display (`sha256:1a2b3c…`)."""
    if value is None:
        return "—"
    text = value.hex() if isinstance(value, bytes) else str(value)
    prefix, sep, rest = text.partition(":")
    if sep and len(prefix) < 10:
        return f"{prefix}:{rest[:n]}…" if len(rest) > n else text
    return f"{text[:n]}…" if len(text) > n else text


def fmt_num(value: float | int | None, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}g}" if abs(value) < 1000 else f"{value:,.0f}"


def to_json_script(value: Any) -> Markup:
    """JSON safe to place inside `<script type="application/json">` (no `</script>` breakout)."""
    text = json.dumps(value, default=str, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(text)


def static_url(path: str) -> str:
    return f"/static/{path}?v={__version__}"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("charter.web", "templates"),
        autoescape=select_autoescape(["html", "svg"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(dt=fmt_dt, ago=fmt_ago, short=fmt_short, num=fmt_num, json_script=to_json_script)
    env.filters.update(license_label=labels.label, effective_state=labels.effective_state, standing=labels.standing)
    env.globals.update(static=static_url, version=__version__)
    return env


def render(template: str, data: Mapping[str, Any]) -> str:
    return environment().get_template(template).render(**data)
