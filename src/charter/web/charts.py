"""Monitoring charts: the monitoring service's chart series split into panels (drift, accuracy, fairness) so each
metric family gets its own scale, in the shape `static/charts.js` draws."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Headline metrics asked for besides the ones license conditions watch (those always come first).
HEADLINE = (
    "drift.psi_max",
    "drift.prediction_psi",
    "perf.accuracy",
    "perf.f1",
    "fairness.dp_diff",
    "fairness.eo_diff",
)
MAX_SERIES = 6


@dataclass(frozen=True, slots=True)
class Panel:
    id: str
    title: str
    prefix: str


PANELS = (
    Panel("drift", "Drift", "drift."),
    Panel("performance", "Accuracy", "perf."),
    Panel("fairness", "Fairness", "fairness."),
)


def split(spec: Mapping[str, Any]) -> list[dict[str, Any]]:
    """One chart per metric family that has values: its series, its threshold lines and its breach markers."""
    out = []
    for panel in PANELS:
        series = [
            s
            for s in spec.get("series", [])
            if str(s.get("metric", s.get("label", ""))).startswith(panel.prefix)
            and any(v is not None for v in s.get("values", []))
        ][:MAX_SERIES]
        metrics = {str(s.get("metric", s.get("label"))) for s in series}
        if not series:
            continue
        out.append(
            {
                "id": f"{spec.get('id', 'chart')}-{panel.id}",
                "panel": panel.id,
                "title": panel.title,
                "x": list(spec.get("x", [])),
                "series": series,
                "thresholds": [t for t in spec.get("thresholds", []) if t.get("metric") in metrics],
                "breaches": [b for b in spec.get("breaches", []) if b.get("metric") in metrics],
            }
        )
    return out
