"""Gateway capture into windows: features from the request JSON (configurable path, batches), the prediction from
the response, counts only (no payload stored), flushes merged per (digest, window), a breach acting on the license."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.deployments.model import Deployment, DeploymentKind
from charter.licenses import service as licenses
from charter.monitoring import service
from charter.monitoring.capture import Capturer, parse_path, resolve
from charter.monitoring.schemas import ProfileUpload
from charter.monitoring.tables import WindowPartRow, WindowRow
from charter.monitoring.wiring import Monitor, MonitorSettings, wire
from tests.integration.monitoring.support import Monitored, monitored, profile_of, table

T = 1_800_000_000.0  # window boundaries are multiples of window_s


class Clock:
    def __init__(self) -> None:
        self.now = T + 1

    def __call__(self) -> float:
        return self.now


def _setup(c: Container, capture: dict[str, Any]) -> tuple[Monitored, Monitor, Clock, Deployment]:
    world = monitored(c, conditions=["drift.psi_max < 0.25 => suspend"])
    body = {
        "profile": profile_of(model_version=world.model).to_dict(),
        "source": {"name": "r", "sha256": "a" * 64},
        "capture": capture,
    }
    with c.uow() as uow:
        service.set_reference(uow, SYSTEM_ACTOR, world.model, ProfileUpload.model_validate(body))
    clock = Clock()
    monitor = Monitor(c, Capturer(window_s=600, fold_rows=500, clock=clock), MonitorSettings(), scheduler=False)
    monitor.refresh()
    dep = Deployment(
        id="dep_1",
        name="credit-http",
        model=world.model,
        system=world.system,
        digest=world.digest,
        env="production",
        upstream="http://127.0.0.1:1",
        kind=DeploymentKind.HTTP,
    )
    return world, monitor, clock, dep


def _calls(n: int, *, seed: int, shift: float = 0.0, batch: int = 100) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    rows = table(n, seed=seed, shift=shift).to_pylist()
    out = []
    for i in range(0, n, batch):
        part = rows[i : i + batch]
        features = [{k: r[k] for k in ("age", "income", "region", "gender")} for r in part]
        out.append(({"instances": features, "request_id": "x"}, {"scores": [r["score"] for r in part]}))
    return out


def _drive(monitor: Monitor, dep: Deployment, calls: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    async def run() -> None:
        for request, response in calls:
            pending = monitor.capturer(dep, request, response)
            if pending is not None:
                await pending

    asyncio.run(run())


def test_batched_http_calls_become_window_sketches(container: Container) -> None:
    world, monitor, clock, dep = _setup(container, {"features": "$.instances", "prediction": "$.scores"})
    _drive(monitor, dep, _calls(1200, seed=2))
    assert monitor.flush() == 1
    _drive(monitor, dep, _calls(600, seed=3))
    assert monitor.flush() == 1
    with container.uow(write=False) as uow:
        (window,) = uow.session.scalars(select(WindowRow)).all()
        (part,) = uow.session.scalars(select(WindowPartRow)).all()
        assert window.rows == 1800 and part.source == "capture" and window.sources == ["capture"]
        assert window.start.timestamp() == T and window.end.timestamp() == T + 600
        assert window.metrics["drift.psi_max"] < 0.25 and window.metrics["drift.prediction_psi"] is not None
        stored = json.dumps([window.sketch, window.report, part.sketch, part.info])
    assert "request_id" not in stored and '"x"' not in stored  # counts only, never the payload

    clock.now += 600  # the next window: income drifts
    _drive(monitor, dep, _calls(1200, seed=4, shift=3.0))
    assert monitor.flush() == 1
    with container.uow(write=False) as uow:
        assert licenses.get(uow, SYSTEM_ACTOR, world.license_id).state == "suspended"
        windows = uow.session.scalars(select(WindowRow).order_by(WindowRow.start)).all()
        assert [w.rows for w in windows] == [1800, 1200] and windows[1].metrics["drift.psi_max"] > 0.25
    assert monitor.flush() == 0  # nothing captured since


def test_openai_default_path_missing_values_and_unmonitored_models(container: Container) -> None:
    world, monitor, _, dep = _setup(container, {})
    openai = dataclasses.replace(dep, kind=DeploymentKind.OPENAI)
    request = {"model": "credit", "messages": [], "metadata": {"age": 33, "income": "52000", "region": "north"}}
    assert monitor.capturer(openai, request, {"score": 1.7}) is None  # out-of-range probability: missing
    plain = {"age": None, "income": 40000.0, "region": 3, "gender": "f"}
    monitor.capturer(dep, plain, {"score": 0.4})  # http default: the body is the feature object
    monitor.capturer(dep, ["not", "an", "object"], {"score": 0.4})
    other = dataclasses.replace(dep, name="other", digest="sha256:" + "0" * 64)
    monitor.capturer(other, plain, {"score": 0.5})
    assert monitor.capturer.wants(dep) and not monitor.capturer.wants(other)  # the gateway skips `other` early
    assert monitor.capturer.captured == 2
    assert monitor.flush() == 1
    with container.uow(write=False) as uow:
        (window,) = uow.session.scalars(select(WindowRow)).all()
        sketch = window.sketch
        assert window.rows == 2 and sketch["prediction_missing"] == 1 and window.digest == world.digest
    assert sketch["numeric"]["age"]["missing"] == 1 and sketch["numeric"]["income"]["missing"] == 0


def test_capture_disabled_and_profile_replacement(container: Container) -> None:
    world, monitor, _, dep = _setup(container, {"enabled": False})
    assert monitor.capturer.targets == {}
    body = {
        "profile": profile_of(seed=7, model_version=world.model).to_dict(),
        "source": {"name": "r2", "sha256": "b" * 64},
    }
    with container.uow() as uow:
        service.set_reference(uow, SYSTEM_ACTOR, world.model, ProfileUpload.model_validate(body))
    monitor.refresh()
    assert set(monitor.capturer.targets) == {world.digest}
    monitor.capturer(dep, {"age": 30, "income": 1.0, "region": "x", "gender": "m"}, {"score": 0.5})
    assert monitor.flush() == 1


def test_paths_and_wiring(container: Container) -> None:
    assert parse_path("$") == () and parse_path("$.a.b[2].c") == ("a", "b", 2, "c") and parse_path("x") == ("x",)
    assert resolve({"a": [{"b": 5}]}, parse_path("a[0].b")) == 5 and resolve({"a": 1}, ("a", "b")) is None
    with pytest.raises(Exception, match="capture path"):
        parse_path("$.a..b")
    monitor = wire(container, scheduler=False)
    assert container.monitor is monitor and wire(container) is monitor
    assert monitor.start in container.lifespan.startup and monitor.stop in container.lifespan.shutdown
    assert np.isfinite(monitor.config.window_s)
