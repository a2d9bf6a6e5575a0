"""HTML rendering of reports: one Jinja2 environment, self-contained printable pages (inline CSS, no scripts)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2

from charter import __version__
from charter.reports import dossier
from charter.reports.annex_ctx import PERFORMANCE_KEYS
from charter.reports.items import number, when

BRIEF_CHARS = 240
# Sent with every HTML report: the page needs nothing but its own inline styles.
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def _when(value: datetime | None) -> str:
    return when(value)


def _brief(details: Mapping[str, Any]) -> str:
    """An audit entry's details on one line, shortened."""
    text = json.dumps(details, ensure_ascii=False, sort_keys=True, default=str)
    return text if len(text) <= BRIEF_CHARS else text[:BRIEF_CHARS] + "…"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("charter.reports", "templates"),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["num"] = number
    env.filters["brief"] = _brief
    return env


def system_html(report: dossier.SystemReport) -> str:
    """The system report as one printable HTML page."""
    f = report.facts
    return (
        environment()
        .get_template("system.html")
        .render(
            r=report,
            f=f,
            s=f.system,
            current=f.current,
            version=__version__,
            answers=dossier.answers(f),
            datasets=dossier.datasets,
            rules=dossier.rules,
            fairness=dossier.fairness,
            evidence_section=dossier.evidence_section,
            signoff_rows=dossier.signoff_rows,
            conditions=dossier.conditions,
            perf_keys=PERFORMANCE_KEYS,
        )
    )


def json_bytes(doc: Mapping[str, Any]) -> bytes:
    """A JSON document as the API and files carry it."""
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, default=str).encode() + b"\n"


def compliance_html(doc: Mapping[str, Any]) -> str:
    """The compliance summary (its JSON form) as one printable HTML page."""
    return environment().get_template("compliance.html").render(c=doc, version=__version__)
