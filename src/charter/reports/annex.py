"""EU AI Act Annex IV technical documentation, points 1–9, from the facts Charter holds about a system.

Each point lists the elements Annex IV asks for; an element is filled from the catalog (system, model version and
card, datasets, lineage), the latest assessment, the licenses, monitoring and the audit log, or marked MISSING.
"""

from __future__ import annotations

from charter.reports import annex_development as dev
from charter.reports import annex_operation as op
from charter.reports.annex_ctx import Ctx
from charter.reports.facts import SystemFacts
from charter.reports.items import Section


def annex_iv(facts: SystemFacts) -> list[Section]:
    """The nine Annex IV points for the system's current version."""
    ctx = Ctx(facts)
    builders = (
        ("General description of the AI system", dev.general),
        ("Detailed description of the elements and of the development process", dev.development),
        ("Monitoring, functioning and control", op.functioning),
        ("Appropriateness of the performance metrics", op.metrics),
        ("Risk management system (Art. 9)", op.risk),
        ("Relevant changes made through the lifecycle", op.changes),
        ("Harmonised standards and other specifications applied", op.standards),
        ("EU declaration of conformity (Art. 47)", op.declaration),
        ("Post-market monitoring system and plan (Art. 72)", op.post_market),
    )
    return [
        Section(f"annex-iv-{n}", str(n), title, f"Annex IV point {n} · EUAIA-ANNEXIV-{n}", build(ctx))
        for n, (title, build) in enumerate(builders, start=1)
    ]
