"""Monitoring charts: the monitoring service's chart series split into panels (drift, accuracy, fairness) so each
metric family gets its own scale, in the shape `static/charts.js` draws."""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from charter.core.clock import as_utc

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


def window_step(spec: Mapping[str, Any]) -> int:
    """The typical window length in seconds (the median), so the time axis ticks once per window or a multiple of
    it: daily windows get daily ticks, not the 4-hourly ones a time axis picks for a few days of data."""
    lengths = []
    for w in spec.get("windows", []):
        try:
            start, end = datetime.fromisoformat(str(w["start"])), datetime.fromisoformat(str(w["end"]))
        except (KeyError, ValueError):
            continue
        start, end = as_utc(start), as_utc(end)
        if end > start:
            lengths.append((end - start).total_seconds())
    if not lengths:
        xs = list(spec.get("x", []))
        lengths = [float(b - a) for a, b in zip(xs, xs[1:], strict=False) if b > a]
    return max(1, round(statistics.median(lengths))) if lengths else 3600


def _starts(spec: Mapping[str, Any]) -> dict[int, int]:
    """Window end → window start (unix seconds): points sit at the start of their window, so a daily window is
    labelled with its own day rather than the next midnight."""
    out = {}
    for w in spec.get("windows", []):
        try:
            start, end = as_utc(datetime.fromisoformat(str(w["start"]))), as_utc(datetime.fromisoformat(str(w["end"])))
        except (KeyError, ValueError):
            continue
        out[int(end.timestamp())] = int(start.timestamp())
    return out


def _threshold(t: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, Any]:
    """A threshold line labelled by the license's name (`system@version · env`) rather than its id."""
    out = dict(t)
    lic = t.get("license")
    if lic and lic in names:
        out["label"] = str(out.get("label", "")).replace(f"({lic})", f"({names[lic]})")
    return out


def split(spec: Mapping[str, Any], names: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """One chart per metric family that has values: its series, its threshold lines and its breach markers."""
    out = []
    step = window_step(spec)
    starts = _starts(spec)
    xs = [starts.get(x, x) for x in spec.get("x", [])]
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
                "x": xs,
                "series": series,
                "step": step,
                "thresholds": [
                    _threshold(t, names or {}) for t in spec.get("thresholds", []) if t.get("metric") in metrics
                ],
                "breaches": [
                    {**b, "x": starts.get(b.get("x", 0), b.get("x"))}
                    for b in spec.get("breaches", [])
                    if b.get("metric") in metrics
                ],
            }
        )
    return out
