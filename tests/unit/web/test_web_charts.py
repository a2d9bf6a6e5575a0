"""Monitoring chart panels: the service's series split by metric family with their thresholds and breaches."""

from __future__ import annotations

from charter.web.charts import split

SPEC = {
    "id": "monitoring-m-1",
    "x": [10, 20, 30],
    "series": [
        {"label": "drift.psi_max", "metric": "drift.psi_max", "values": [0.02, 0.31, 0.1]},
        {"label": "perf.accuracy", "metric": "perf.accuracy", "values": [0.9, None, 0.8]},
        {"label": "fairness.dp_diff", "metric": "fairness.dp_diff", "values": [None, None, None]},
        {"label": "window.rows", "metric": "window.rows", "values": [1000, 1000, 1000]},
    ],
    "thresholds": [
        {
            "label": "drift.psi_max < 0.25 => suspend (lic_1)",
            "value": 0.25,
            "kind": "breach",
            "metric": "drift.psi_max",
        },
        {"label": "PSI warn 0.1", "value": 0.1, "kind": "warn", "metric": "drift.psi_max"},
        {"label": "perf.accuracy >= 0.85 => revoke", "value": 0.85, "kind": "breach", "metric": "perf.accuracy"},
    ],
    "breaches": [
        {"x": 20, "y": 0.31, "metric": "drift.psi_max", "label": "drift.psi_max < 0.25 => suspend"},
        {"x": 30, "y": 0.8, "metric": "perf.accuracy", "label": "perf.accuracy >= 0.85 => revoke"},
    ],
}


def test_split_by_family() -> None:
    panels = {p["panel"]: p for p in split(SPEC)}
    assert set(panels) == {"drift", "performance"}  # fairness has no values, window.rows is no family
    drift = panels["drift"]
    assert drift["id"] == "monitoring-m-1-drift" and drift["x"] == [10, 20, 30]
    assert [s["metric"] for s in drift["series"]] == ["drift.psi_max"]
    assert {t["value"] for t in drift["thresholds"]} == {0.25, 0.1}
    assert [(b["x"], b["y"]) for b in drift["breaches"]] == [(20, 0.31)]
    perf = panels["performance"]
    assert [t["value"] for t in perf["thresholds"]] == [0.85]
    assert [b["y"] for b in perf["breaches"]] == [0.8]


def test_empty_spec() -> None:
    assert split({"x": [], "series": []}) == []


def _daily(days: int) -> dict[str, object]:
    """A spec as the monitoring service builds it: x = window ends, with the windows' starts and ends."""
    start = 1_793_491_200  # 2026-11-01T00:00:00Z
    windows = [
        {"id": f"w{i}", "start": f"2026-11-{i + 1:02d}T00:00:00", "end": f"2026-11-{i + 2:02d}T00:00:00"}
        for i in range(days)
    ]
    return {
        "id": "m",
        "x": [start + (i + 1) * 86400 for i in range(days)],
        "windows": windows,
        "series": [{"label": "drift.psi_max", "metric": "drift.psi_max", "values": [0.1] * days}],
        "thresholds": [
            {
                "label": "drift.psi_max < 0.25 => suspend (lic_01abc)",
                "value": 0.25,
                "kind": "breach",
                "metric": "drift.psi_max",
                "license": "lic_01abc",
            }
        ],
        "breaches": [{"x": start + days * 86400, "y": 0.4, "metric": "drift.psi_max"}],
    }


def test_daily_windows_tick_daily_and_sit_on_their_own_day() -> None:
    (drift,) = split(_daily(4), {"lic_01abc": "m@1 · production"})
    assert drift["step"] == 86400  # the time axis ticks at multiples of a day
    assert drift["x"][0] == 1_793_491_200  # the first window's own midnight (naive ISO times read as UTC)
    assert [b["x"] for b in drift["breaches"]] == [drift["x"][-1]]  # markers move with their window
    assert drift["thresholds"][0]["label"] == "drift.psi_max < 0.25 => suspend (m@1 · production)"


def test_step_without_windows_falls_back_to_the_spacing_of_x() -> None:
    spec = {**SPEC, "x": [0, 600, 1200]}
    assert split(spec)[0]["step"] == 600
