"""Browser-test support: Debian chromium through Playwright, a request collector, screenshots, API seeding."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from charter.catalog.questionnaire import NO_PROHIBITED

CHROMIUM = os.environ.get("CHARTER_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parents[3]
ARTIFACTS = ROOT / "test-artifacts" / "dashboard"
# Screenshots shown in docs/dashboard.md are rewritten only when this is set (normal runs leave docs/ untouched).
DOCS_SHOTS_ENV = "CHARTER_DOCS_SCREENSHOTS"
DOCS_IMG = ROOT / "docs" / "img"


def require_browser() -> None:
    """Skip (with the reason) unless Playwright and a chromium binary are present."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        pytest.skip("browser tests need the 'playwright' Python package: pip install playwright")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(
            f"browser tests need chromium at {CHROMIUM}: apt-get install -y chromium (or scripts/setup-packages)"
        )


@contextmanager
def chromium() -> Iterator[Any]:
    """One headless Debian chromium (share it across a module's tests; pages come from `fresh_page`)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def fresh_page(browser: Any, base_url: str) -> Iterator[tuple[Any, list[str]]]:
    """A page in a new browser context (its own cookies) plus every URL it requested."""
    requested: list[str] = []
    context = browser.new_context(base_url=base_url, viewport={"width": 1360, "height": 900})
    try:
        page = context.new_page()
        page.on("request", lambda req: requested.append(req.url))
        page.set_default_timeout(15_000)
        yield page, requested
    finally:
        context.close()


@contextmanager
def browser_page(base_url: str) -> Iterator[tuple[Any, list[str]]]:
    """A fresh chromium page plus the list of every URL it requested (to prove nothing leaves Charter)."""
    with chromium() as browser, fresh_page(browser, base_url) as found:
        yield found


def foreign(requested: list[str], base_url: str) -> list[str]:
    """Requests to any origin other than Charter's own (data: URLs are inline and fine)."""
    own = urlsplit(base_url).netloc
    return [u for u in requested if not u.startswith("data:") and urlsplit(u).netloc != own]


def shot(page: Any, name: str, *, docs: str | None = None) -> Path:
    """A full-page screenshot into test-artifacts/dashboard/; with `docs`, also docs/img/dashboard-DOCS.png when
    CHARTER_DOCS_SCREENSHOTS=1 (how the screenshots in docs/dashboard.md are refreshed)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    if docs and os.environ.get(DOCS_SHOTS_ENV) == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOCS_IMG / f"dashboard-{docs}.png"), full_page=True)
    return path


def shot_of(locator: Any, name: str) -> Path:
    """A screenshot of one element (e.g. a chart or the lineage graph)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    locator.screenshot(path=str(path))
    return path


class Seeder:
    """Seeds a running server through its REST API with the admin key."""

    def __init__(self, base_url: str, key: str) -> None:
        self.http = httpx.Client(base_url=base_url + "/api/v1", headers={"Authorization": f"Bearer {key}"}, timeout=30)

    def post(self, path: str, body: dict[str, Any] | None = None, *, key: str | None = None) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {key}"} if key else None
        r = self.http.post(path, json=body or {}, headers=headers)
        assert r.status_code < 300, f"POST {path}: {r.status_code} {r.text}"
        out: dict[str, Any] = r.json()
        return out

    def user(self, name: str, password: str, *roles: tuple[str, str | None], team: str | None = None) -> str:
        """Create a user with a password and roles; returns an API key for it."""
        self.post("/users", {"name": name, "password": password, "team": team})
        for role, fn in roles:
            self.post("/roles", {"principal": name, "role": role, "function": fn})
        return str(self.post("/keys", {"principal": name})["key"])

    def close(self) -> None:
        self.http.close()


def digest(seed: str) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256(seed.encode()).hexdigest()


def seed_catalog(seed: Seeder, system: str = "credit-scoring", team: str | None = None) -> None:
    """A high-risk credit-scoring system with two model versions and a small dataset lineage."""
    answers = {
        "prohibited": NO_PROHIBITED,
        "annex_iii": {"point": "5(b)", "profiling": True},
        "context": {"decisions_about_persons": True, "decision_mode": "human_in_loop", "effect": "legal"},
        "data": {"personal_data": True, "dpia_trigger": True},
    }
    seed.post(
        "/systems",
        {
            "name": system,
            "purpose": "Creditworthiness scoring of consumer loan applicants",
            "team": team,
            "deployer": "Example Bank",
            "human_oversight": "A credit officer reviews every declined application",
            "answers": answers,
        },
    )
    for version in ("1.0.0", "1.1.0"):
        seed.post(
            f"/systems/{system}/versions",
            {
                "version": version,
                "digest": digest(f"{system}@{version}"),
                "size_bytes": 1234567,
                "format": "onnx",
                "framework": "sklearn",
                "license": "Apache-2.0",
            },
        )
    datasets = [
        ("loans-raw", "MIT", True, []),
        ("loans-clean", "MIT", True, ["loans-raw"]),
        ("bureau-features", "CC-BY-4.0", False, []),
        ("loans-holdout", "MIT", True, ["loans-raw"]),
    ]
    for name, lic, personal, upstream in datasets:
        body = {
            "name": name,
            "digest": digest(name),
            "license": lic,
            "personal_data": personal,
            "source": "core banking export",
            "derived_from": upstream,
        }
        if personal:
            body["lawful_basis"] = "contract"
        seed.post("/datasets", body)
    for ds, role in (("loans-clean", "training"), ("bureau-features", "training"), ("loans-holdout", "test")):
        seed.post("/lineage", {"dataset": ds, "model": f"{system}@1.1.0", "role": role})
    # Assessed against the active policies without an evaluation: fails on the missing evidence.
    seed.post(f"/systems/{system}/versions/1.1.0/assessments", {})


def seed_minimal_system(seed: Seeder, system: str = "support-bot", version: str = "2.0.0") -> str:
    """A minimal-risk system with one model version; returns SYSTEM@VERSION."""
    seed.post(
        "/systems",
        {
            "name": system,
            "purpose": "Answers customer questions about opening hours",
            "answers": {"prohibited": NO_PROHIBITED},
        },
    )
    seed.post(
        f"/systems/{system}/versions",
        {"version": version, "digest": digest(f"{system}@{version}"), "size_bytes": 4096, "format": "gguf"},
    )
    return f"{system}@{version}"


def production_rows(n: int, *, seed: int, shift: float = 0.0) -> Any:
    """Synthetic scoring data (age, income, region, gender, score, label y); `shift` moves income (drift)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, n)
    income = rng.lognormal(10, 0.4, n) * (1 + 0.5 * shift)
    score = 1 / (1 + np.exp(-(age - 40) / 10))
    y = (rng.random(n) < score).astype(np.int64)
    return pa.table(
        {
            "age": age,
            "income": income,
            "region": pa.array(rng.choice(["north", "south", "east", "west"], n)),
            "gender": pa.array(rng.choice(["f", "m"], n)),
            "score": score,
            "y": y,
        }
    )


def seed_monitoring(
    seed: Seeder, model: str, shifts: list[float], *, rows: int = 4000, window_hours: int = 1, first_day: int = 1
) -> None:
    """Upload a reference profile and one window per shift (hourly by default; `window_hours=24` for daily
    windows starting on November `first_day`, 2026), as `charter monitor` would compute them."""
    from datetime import UTC, datetime, timedelta

    from charter.monitoring import ProfileSpec, build_profile, sketch_rows

    system, version = model.split("@")
    spec = ProfileSpec(
        numeric=("age", "income"),
        categorical=("region",),
        prediction="score",
        prediction_kind="probability",
        label="y",
        sensitive=("gender",),
    )
    profile = build_profile(production_rows(rows * 2, seed=1), spec)
    base = f"/monitoring/systems/{system}/versions/{version}"
    source = {"name": "reference.parquet", "sha256": digest("reference")[7:], "rows": rows * 2}
    r = seed.http.put(base + "/reference", json={"profile": profile.to_dict(), "source": source})
    assert r.status_code < 300, r.text
    start = datetime(2026, 11, first_day, tzinfo=UTC)
    for i, shift in enumerate(shifts):
        sketch = sketch_rows(profile, production_rows(rows, seed=100 + i, shift=shift)).to_dict()
        window = {
            "start": (start + timedelta(hours=i * window_hours)).isoformat(),
            "end": (start + timedelta(hours=(i + 1) * window_hours)).isoformat(),
            "sketch": sketch,
            "source": {"name": f"window-{i}.parquet", "sha256": digest(f"window-{i}")[7:], "rows": rows},
        }
        seed.post(base + "/windows", window)
