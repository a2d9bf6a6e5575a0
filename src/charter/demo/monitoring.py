"""The demo's monitoring: a reference profile for credit-scoring@2.0.0 and daily windows, the last one drifted,
which breaches a license condition and suspends that license automatically (through the monitoring service).

The monitoring service is looked up at run time: when it is not installed the demo skips this part and says so.
"""

from __future__ import annotations

import csv
import hashlib
import importlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from charter.auth.model import Actor
from charter.bootstrap import Container

WINDOWS = 4  # daily windows ending yesterday; the last one drifts


def _modules() -> dict[str, Any] | None:
    try:
        return {
            "service": importlib.import_module("charter.monitoring.service"),
            "schemas": importlib.import_module("charter.monitoring.schemas"),
            "profile": importlib.import_module("charter.monitoring.profile"),
            "sketch": importlib.import_module("charter.monitoring.sketch"),
        }
    except ImportError:
        return None


def available() -> bool:
    """Whether the monitoring service is installed."""
    return _modules() is not None


def applicants(rows: int, seed: int, thresholds: dict[str, float], *, drift: float = 0.0) -> dict[str, Any]:
    """Production-like rows: features, the mitigated decision, the repayment label; `drift` lowers incomes and
    raises debt (a recession-like shift of the applicant population)."""
    rng = np.random.default_rng(seed)
    gender = rng.choice(np.array(["F", "M"]), size=rows, p=[0.48, 0.52])
    age = rng.choice(np.array(["18-29", "30-44", "45-59", "60+"]), size=rows, p=[0.2, 0.35, 0.3, 0.15])
    income = rng.lognormal(3.9 - drift, 0.45, rows)
    debt = np.clip(rng.beta(2.0 + 3 * drift, 5.0, rows), 0.0, 1.0)
    history = rng.gamma(4.0, 2.5, rows)
    late = rng.poisson(0.8 + drift, rows).astype(np.float64)
    x = np.column_stack([np.log(income) - 3.9, debt - 0.28, (history - 10.0) / 5.0, late - 0.8])
    p = 1.0 / (1.0 + np.exp(-(0.75 + x @ np.array([1.5, -3.6, 0.55, -0.85]) - 0.75 * (gender == "F"))))
    y_hat = (p >= np.where(gender == "F", thresholds["F"], thresholds["M"])).astype(np.int64)
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-(0.7 + x @ np.array([1.6, -4.0, 0.6, -0.9]))))).astype(np.int64)
    return {
        "income_k": np.round(income, 2),
        "debt_ratio": np.round(debt, 4),
        "history_years": np.round(history, 2),
        "late_payments": late,
        "gender": gender,
        "age_band": age,
        "y_hat": y_hat,
        "y": y,
    }


def _write(path: Path, cols: dict[str, Any]) -> dict[str, Any]:
    path.parent.mkdir(parents=True, exist_ok=True)
    names = list(cols)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(names)
        w.writerows(zip(*(cols[n].tolist() for n in names), strict=True))
    rows = len(cols[names[0]])
    return {"name": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "rows": rows}


def load(c: Container, actor: Actor, ref: str, files: Path, thresholds: dict[str, float]) -> list[str]:
    """Reference profile + windows for `ref`; returns what happened, one line per window."""
    m = _modules()
    if m is None:
        return []
    spec = m["profile"].ProfileSpec(
        numeric=("income_k", "debt_ratio", "history_years", "late_payments"),
        categorical=("age_band",),
        prediction="y_hat",
        prediction_kind="binary",
        label="y",
        sensitive=("gender",),
    )
    reference = applicants(2000, 101, thresholds)
    source = _write(files / "reference.csv", reference)
    profile = m["profile"].build_profile(reference, spec, model_version=ref)
    upload = m["schemas"].ProfileUpload(profile=profile.to_dict(), source=source)
    with c.uow() as uow:
        m["service"].set_reference(uow, actor, ref, upload)
    out = []
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for i in range(WINDOWS):
        start = today - timedelta(days=WINDOWS - i)
        drift = 0.6 if i == WINDOWS - 1 else 0.0
        cols = applicants(1500, 200 + i, thresholds, drift=drift)
        src = _write(files / f"window-{start.date().isoformat()}.csv", cols)
        sketch = m["sketch"].sketch_rows(profile, cols)
        body = m["schemas"].WindowUpload(
            start=start, end=start + timedelta(days=1), sketch=sketch.to_dict(), source=src
        )
        with c.uow() as uow:
            window = m["service"].submit_window(uow, actor, ref, body)
        fired = [f"{chk.condition}: {chk.outcome}" for chk in getattr(window, "checks", []) if chk.fired]
        out.append(f"window {start.date()}: {window.status}" + (f" ({'; '.join(fired)})" if fired else ""))
    return out
