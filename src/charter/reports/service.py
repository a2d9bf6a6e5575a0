"""Report use cases for the entrypoints: the system dossier (HTML, PDF, JSON), the compliance summary, evidence packs.

Reports read every domain below them and change nothing, except that an evidence pack appends one audit entry
(`report.pack`) recording the digests of its files so the signed log vouches for them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from charter.auth.model import Actor
from charter.core.errors import InvalidInput
from charter.reports import dossier, pdf, render
from charter.reports.compliance import compliance_summary
from charter.reports.facts import collect
from charter.reports.monitoring import MonitoringSource
from charter.reports.pack import PackResult, write_pack
from charter.reports.packcheck import PackVerdict, verify_pack
from charter.storage.uow import UnitOfWork

SystemFormat = Literal["html", "pdf", "json"]
ComplianceFormat = Literal["html", "json"]
MEDIA = {"html": "text/html; charset=utf-8", "pdf": "application/pdf", "json": "application/json"}


@dataclass(frozen=True, slots=True)
class Rendered:
    """A rendered report: bytes, media type and a file name to suggest."""

    body: bytes
    media_type: str
    filename: str


def system_report(
    uow: UnitOfWork, actor: Actor, name: str, *, monitoring: MonitoringSource | None = None
) -> dossier.SystemReport:
    """The Annex IV dossier of system `name` as a `dossier.SystemReport` (needs `report.read` on the system)."""
    return dossier.build(collect(uow, actor, name, monitoring=monitoring))


def render_system(report: dossier.SystemReport, fmt: str, *, chromium: str | None = None) -> Rendered:
    """The dossier as html, pdf (headless Chromium, `chromium` as `Settings.chromium` names it; 503
    pdf_renderer_unavailable without it) or json."""
    name = report.facts.system.name
    if fmt == "html":
        body = render.system_html(report).encode()
    elif fmt == "pdf":
        body = pdf.html_to_pdf(render.system_html(report), chromium=chromium)
    elif fmt == "json":
        body = render.json_bytes(dossier.to_json(report))
    else:
        raise InvalidInput(f"format must be html, pdf or json, not {fmt[:20]!r}", field="format")
    return Rendered(body, MEDIA[fmt], f"{name}-annex-iv.{fmt}")


def compliance(
    uow: UnitOfWork, actor: Actor, fmt: str = "json", *, monitoring: MonitoringSource | None = None
) -> Rendered:
    """The compliance summary across the systems the actor may report on, as json or html."""
    if fmt not in ("html", "json"):
        raise InvalidInput(f"format must be html or json, not {fmt[:20]!r}", field="format")
    doc = compliance_summary(uow, actor, monitoring=monitoring)
    if fmt == "html":
        return Rendered(render.compliance_html(doc).encode(), MEDIA["html"], "charter-compliance.html")
    return Rendered(render.json_bytes(doc), MEDIA["json"], "charter-compliance.json")


__all__ = [
    "MEDIA",
    "ComplianceFormat",
    "PackResult",
    "PackVerdict",
    "Rendered",
    "SystemFormat",
    "compliance",
    "compliance_summary",
    "render_system",
    "system_report",
    "verify_pack",
    "write_pack",
]
