"""Monitoring chart data: panels, thresholds from license conditions, breach markers where a condition breaches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from charter.web.charts import Window, conditions_of, panels

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def _windows() -> list[Window]:
    psi = [0.02, 0.05, 0.31, 0.12]
    acc = [0.91, 0.90, None, 0.82]
    return [
        Window(T0 + timedelta(hours=i), {"drift.psi_max": p, "perf.accuracy": a, "drift.psi[age]": p / 2})
        for i, (p, a) in enumerate(zip(psi, acc, strict=True))
    ]


def test_conditions_from_stored_dicts_and_text() -> None:
    conds = conditions_of(
        [
            {"metric": "drift.psi_max", "op": "<", "value": 0.25, "action": "suspend", "after": 1},
            "perf.accuracy >= 0.85 => revoke after 2 windows",
            {"metric": "x", "op": "~", "value": 1, "action": "suspend"},  # broken: skipped
            "not a condition",
        ]
    )
    assert [(c.metric, c.op, c.threshold, c.action, c.windows) for c in conds] == [
        ("drift.psi_max", "<", 0.25, "suspend", 1),
        ("perf.accuracy", ">=", 0.85, "revoke", 2),
    ]


def test_panels_with_thresholds_and_breaches() -> None:
    conds = conditions_of(["drift.psi_max < 0.25 => suspend", "perf.accuracy >= 0.85 => revoke"])
    specs = {p["id"]: p for p in panels(list(reversed(_windows())), conds)}
    assert set(specs) == {"drift", "performance"}  # no fairness metric in any window
    drift = specs["drift"]
    assert drift["x"] == sorted(drift["x"]) and len(drift["x"]) == 4
    assert [s["label"] for s in drift["series"]] == ["drift.psi_max"]
    assert drift["series"][0]["values"] == [0.02, 0.05, 0.31, 0.12]
    kinds = {(t["kind"], t["value"]) for t in drift["thresholds"]}
    assert {("warn", 0.1), ("warn", 0.25), ("breach", 0.25)} <= kinds
    assert [(b["x"], b["y"]) for b in drift["breaches"]] == [(drift["x"][2], 0.31)]
    perf = specs["performance"]
    assert perf["series"][0]["values"] == [0.91, 0.90, None, 0.82]
    assert [b["y"] for b in perf["breaches"]] == [0.82]  # the window without labels is no data, not a breach


def test_a_watched_per_feature_metric_gets_its_own_series() -> None:
    conds = conditions_of(["drift.psi[age] < 0.1 => suspend"])
    drift = next(p for p in panels(_windows(), conds) if p["id"] == "drift")
    assert [s["label"] for s in drift["series"]] == ["drift.psi[age]", "drift.psi_max"]
    assert [b["y"] for b in drift["breaches"]] == [0.155]
