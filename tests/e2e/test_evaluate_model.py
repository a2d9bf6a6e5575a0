"""`charter evaluate --model FILE --data FILE`: a scikit-learn pickle or an ONNX model predicts locally and is
evaluated; a pickle the scan flags is never loaded (its payload never runs); other formats are refused clearly."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from charter.bootstrap import InitResult
from charter.settings import Settings
from tests.integration.policies_eval.conftest import API, EXAMPLE, answers
from tests.support.db import admin_key, env_for
from tests.support.onnx_models import logistic
from tests.support.server import Server, cli

pytestmark = pytest.mark.e2e


class Payload:
    """Unpickling this runs a shell command: the scan must stop it before it is loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, (f"touch {self.marker}",))


@pytest.fixture
def served(settings: Settings, initialised: InitResult, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = {**env_for(settings), "COLUMNS": "200"}
    server = Server(env, log=tmp_path / "server.log").start()
    try:
        yield {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": admin_key(initialised)}
    finally:
        server.stop()


def register(env: dict[str, str], artifacts: dict[str, Path]) -> None:
    headers = {"Authorization": f"Bearer {env['CHARTER_API_KEY']}"}
    with httpx.Client(base_url=env["CHARTER_URL"], headers=headers, timeout=60) as client:
        r = client.post(f"{API}/systems", json={"name": "loans", "purpose": "Loan triage", "answers": answers()})
        assert r.status_code == 201, r.text
        for version, path in artifacts.items():
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            files = [{"path": path.name, "size": path.stat().st_size, "sha256": digest}]
            body = {"version": version, "digest": digest, "size_bytes": path.stat().st_size, "files": files}
            r = client.post(f"{API}/systems/loans/versions", json=body)
            assert r.status_code == 201, r.text


def test_model_and_data(served: dict[str, str], tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    n = 2000
    x = rng.normal(size=(n, 3))
    group = np.where(rng.random(n) < 0.5, "a", "b")
    y = (x[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    good = tmp_path / "model.pkl"
    good.write_bytes(pickle.dumps(model))
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(Payload(marker)))
    data = tmp_path / "holdout.csv"
    rows = "".join(f"{a:.5f},{b:.5f},{c:.5f},{t},{g}\n" for (a, b, c), t, g in zip(x, y, group, strict=True))
    data.write_text("f1,f2,f3,label,group\n" + rows)
    onnx_file = logistic(tmp_path / "model.onnx", [float(w) for w in model.coef_[0]], float(model.intercept_[0]))
    register(served, {"1": good, "2": evil, "3": EXAMPLE / "model.safetensors", "4": onnx_file})

    r = cli(served, "evaluate", "loans@1", "--model", str(good), "--data", str(data), "--label", "label",
            "--sensitive", "group", "--features", "f1,f2,f3", "--json")  # fmt: skip
    assert r.returncode in (0, 1), (r.stdout, r.stderr)
    doc = json.loads(r.stdout)
    evidence = doc["assessment"]["evidence"]
    assert evidence["performance"]["n"] == n and evidence["performance"]["accuracy"] > 0.8
    assert evidence["performance"]["roc_auc"] > 0.9  # scores came from predict_proba
    assert evidence["fairness_summary"]["attributes"] == ["group"] and evidence["scan"]["performed"]
    inputs = doc["evaluation"]["inputs"]
    assert inputs["artifact"]["sha256"] == "sha256:" + hashlib.sha256(good.read_bytes()).hexdigest()
    assert inputs["predictions"]["name"] == "holdout.csv" and doc["evaluation"]["options"]["source"] == "model"

    # The same classifier as ONNX, run by onnxruntime: the same verdict inputs as the pickle's.
    r = cli(served, "evaluate", "loans@4", "--model", str(onnx_file), "--data", str(data), "--label", "label",
            "--sensitive", "group", "--features", "f1,f2,f3", "--json")  # fmt: skip
    assert r.returncode in (0, 1), (r.stdout, r.stderr)
    onnx_perf = json.loads(r.stdout)["assessment"]["evidence"]["performance"]
    assert onnx_perf["n"] == n and abs(onnx_perf["accuracy"] - evidence["performance"]["accuracy"]) < 1e-3
    assert abs(onnx_perf["roc_auc"] - evidence["performance"]["roc_auc"]) < 1e-3
    r = cli(served, "evaluate", "loans@4", "--model", str(onnx_file), "--data", str(data), "--label", "label",
            "--features", "f1,f2")  # fmt: skip
    assert r.returncode == 2 and "error: feature_count_mismatch: model: model.onnx expects 3 features" in r.stderr

    r = cli(served, "evaluate", "loans@2", "--model", str(evil), "--data", str(data), "--label", "label")
    assert r.returncode == 2 and r.stderr.startswith("error: model_unsafe: model: evil.pkl was not loaded"), r.stderr
    assert not marker.exists()
    r = cli(served, "evaluate", "loans@3", "--model", str(EXAMPLE / "model.safetensors"), "--data", str(data),
            "--label", "label")  # fmt: skip
    assert r.returncode == 2 and "error: unsupported_model_format" in r.stderr, r.stderr
    r = cli(served, "evaluate", "loans@1", "--model", str(good), "--data", str(data), "--label", "nope")
    assert r.returncode == 2 and "column 'nope' not found" in r.stderr, r.stderr
    r = cli(served, "evaluate", "loans@1", "--model", str(good))
    assert r.returncode == 2 and "--model needs --data" in r.stderr
