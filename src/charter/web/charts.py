"""Monitoring charts as data: windows of metric values → drift, performance and fairness series with thresholds and
breach markers (evaluated with the license conditions themselves), in the shape `static/charts.js` draws."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from charter.core.clock import as_utc
from charter.core.errors import CharterError
from charter.monitoring.conditions import Condition, evaluate, parse_condition
from charter.monitoring.drift import DriftThresholds


@dataclass(frozen=True, slots=True)
class Window:
    """One monitoring window: when it ended and its flat metric values (`drift.psi_max`, `perf.accuracy`, …)."""

    end: datetime
    values: Mapping[str, float | None]


@dataclass(frozen=True, slots=True)
class Panel:
    id: str
    title: str
    prefixes: tuple[str, ...]
    defaults: tuple[str, ...]


PANELS = (
    Panel("drift", "Drift", ("drift.",), ("drift.psi_max", "drift.prediction_psi")),
    Panel("performance", "Accuracy", ("perf.",), ("perf.accuracy",)),
    Panel("fairness", "Fairness", ("fairness.",), ("fairness.dp_diff", "fairness.eo_diff")),
)
MAX_SERIES = 6


def conditions_of(raw: Iterable[str | Mapping[str, Any]]) -> list[Condition]:
    """License conditions (stored `{metric, op, value, action, after}` dicts, or text) as parsed conditions.

    A condition that does not parse is skipped: the chart still shows the metrics, only without its line.
    """
    out = []
    for item in raw:
        try:
            if isinstance(item, str):
                out.append(parse_condition(item))
            else:
                windows = int(item.get("after", 1) or 1)
                value = float(item["value"])
                out.append(Condition(str(item["metric"]), item["op"], value, item["action"], windows))
        except (CharterError, KeyError, TypeError, ValueError):
            continue
    return out


def _thresholds(panel: Panel, conditions: Sequence[Condition]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    if panel.id == "drift":
        t = DriftThresholds()
        out += [
            {"label": f"PSI warn {t.psi_warn:g}", "value": t.psi_warn, "kind": "warn"},
            {"label": f"PSI breach {t.psi_breach:g}", "value": t.psi_breach, "kind": "warn"},
        ]
    for c in conditions:
        if c.metric.startswith(panel.prefixes):
            out.append(
                {"label": f"{c.metric} {c.op} {c.threshold:g} ⇒ {c.action}", "value": c.threshold, "kind": "breach"}
            )
    return out


def panels(windows: Sequence[Window], conditions: Sequence[Condition]) -> list[dict[str, Any]]:
    """One chart spec per panel that has data: series over window end times, thresholds, breach markers."""
    ordered = sorted(windows, key=lambda w: w.end)
    xs = [int(as_utc(w.end).timestamp()) for w in ordered]
    present = {k for w in ordered for k, v in w.values.items() if v is not None}
    out = []
    for panel in PANELS:
        watched = [c.metric for c in conditions if c.metric.startswith(panel.prefixes)]
        metrics = list(dict.fromkeys([*watched, *(m for m in panel.defaults if m in present)]))[:MAX_SERIES]
        metrics = [m for m in metrics if m in present or m in watched]
        if not metrics:
            continue
        series = [{"label": m, "values": [w.values.get(m) for w in ordered]} for m in metrics]
        breaches = []
        for c in conditions:
            if not c.metric.startswith(panel.prefixes):
                continue
            for x, w in zip(xs, ordered, strict=True):
                result = evaluate(c, w.values)
                if result.status == "breached":
                    breaches.append({"x": x, "y": result.observed, "label": str(c)})
        out.append(
            {
                "id": panel.id,
                "title": panel.title,
                "x": xs,
                "series": series,
                "thresholds": _thresholds(panel, conditions),
                "breaches": breaches,
            }
        )
    return out
