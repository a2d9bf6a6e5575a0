"""SDK capture against a real `charter serve`: an in-process model under `@governed(capture=True)` talks to the API
over loopback; its background thread sends window sketches, the server merges them into the caller's part of the
window, and `close()` sends what is left."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from charter import bootstrap
from charter.guard import governed
from charter.settings import Settings
from tests.conftest import bearer
from tests.integration.monitoring.support import Monitored, sdk_world, table
from tests.support.db import env_for
from tests.support.server import Server

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def _windows(url: str, key: str, model: str) -> list[dict[str, Any]]:
    system, version = model.split("@")
    path = f"{url}/api/v1/monitoring/systems/{system}/versions/{version}/windows"
    r = httpx.get(path, headers=bearer(key), timeout=10)
    assert r.status_code == 200, r.text
    return list(r.json()["items"])


def test_an_in_process_model_is_monitored_through_the_api(
    settings: Settings, initialised: bootstrap.InitResult, tmp_path: Path
) -> None:
    assert initialised.admin is not None
    admin_key = initialised.admin.key
    c = bootstrap.build(settings)
    try:
        world: Monitored = sdk_world(c)
    finally:
        c.close()
    server = Server(env_for(settings), log=tmp_path / "serve.log").start(timeout=90)
    try:
        guard = governed(
            "credit-sdk",
            purpose="credit-scoring",
            url=server.url,
            api_key=world.app_key,
            capture=True,
            capture_flush_s=0.3,
        )

        @guard
        def predict(rows: list[dict[str, Any]]) -> list[float]:
            return [min(1.0, r["age"] / 100) for r in rows]

        rows = [{k: r[k] for k in ("age", "income", "region", "gender")} for r in table(400, seed=5).to_pylist()]
        for i in range(0, 200, 50):
            assert len(predict(rows[i : i + 50])) == 50
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the background thread sends without being asked
            windows = _windows(server.url, admin_key, world.model)
            if windows and windows[0]["rows"] >= 200:
                break
            time.sleep(0.2)
        assert windows[0]["rows"] == 200 and windows[0]["sources"] == ["sdk:app:loan-portal"]
        for i in range(200, 400, 50):
            predict(rows[i : i + 50])
        guard.close()  # sends the rest at once
        assert sum(w["rows"] for w in _windows(server.url, admin_key, world.model)) == 400
        assert guard.capture is not None and guard.capture.dropped == 0
    finally:
        server.stop()
