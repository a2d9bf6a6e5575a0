"""MLflow bridge against a real MLflow registry (SQLite store) and a real Charter server: import, guard."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import pytest
import yaml

from charter import bootstrap
from charter.bootstrap import InitResult
from charter.catalog import service
from charter.catalog.questionnaire import example
from charter.core.hashing import sha256_tree
from charter.settings import Settings
from tests.support.db import admin_key, env_for
from tests.support.server import Server, cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]  # ~20 CLI processes + a server
mlflow = pytest.importorskip("mlflow")


def make_registry(tmp: Path) -> tuple[str, dict[str, Path]]:
    """Two versions of 'Credit Scoring' (v1 aliased champion) and one of 'Other'; returns uri and artifact dirs."""
    warnings.simplefilter("ignore")
    uri = f"sqlite:///{tmp / 'mlflow.db'}"
    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    experiment = client.create_experiment("charter", artifact_location=str(tmp / "artifacts"))
    dirs: dict[str, Path] = {}
    for name, version_count in (("Credit Scoring", 2), ("Other", 1)):
        client.create_registered_model(name, description=f"{name} model")
        for i in range(version_count):
            src = tmp / f"src-{name}-{i}"
            src.mkdir()
            (src / "MLmodel").write_text(yaml.safe_dump({"flavors": {"python_function": {}, "sklearn": {}}}))
            (src / "model.pkl").write_bytes(os.urandom(2048))
            run = client.create_run(experiment)
            client.log_artifacts(run.info.run_id, str(src), "model")
            client.set_terminated(run.info.run_id)
            mv = client.create_model_version(
                name, source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id, tags={"license": "mit"}
            )
            dirs[f"{name}/{mv.version}"] = Path(f"{run.info.artifact_uri}/model".removeprefix("file://"))
    client.set_registered_model_alias("Credit Scoring", "champion", "1")
    return uri, dirs


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_import_and_guard(settings: Settings, initialised: InitResult, tmp_path: Path) -> None:
    uri, dirs = make_registry(tmp_path)
    env = {**env_for(settings), "COLUMNS": "200"}
    key = admin_key(initialised)
    server = Server(env, log=tmp_path / "server.log").start()
    try:
        env = {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": key}
        (tmp_path / "answers.yaml").write_text(yaml.safe_dump(example()))
        r = cli(
            env, "system", "register", "credit-scoring", "--purpose", "p", "--answers", str(tmp_path / "answers.yaml")
        )
        assert r.returncode == 0, r.stderr
        r = cli(env, "mlflow", "import", "--tracking-uri", uri, "--json")
        assert r.returncode == 0, r.stderr
        items = {i["ref"]: i for i in json.loads(r.stdout)["items"]}
        assert items["credit-scoring@1"]["status"] == "registered"
        assert items["credit-scoring@2"]["status"] == "registered"
        assert items["other@1"]["status"].startswith("skipped: no Charter system 'other'")
        assert items["credit-scoring@1"]["digest"] == "sha256:" + sha256_tree(dirs["Credit Scoring/1"])
        mv = json.loads(cli(env, "model", "show", "credit-scoring@1", "--json").stdout)
        assert mv["uri"] == "models:/Credit Scoring/1" and mv["framework"] == "sklearn" and mv["license"] == "MIT"
        assert mv["card"]["mlflow"]["aliases"] == ["champion"]
        again = json.loads(cli(env, "mlflow", "import", "--tracking-uri", uri, "--json").stdout)["items"]
        assert {i["ref"]: i["status"] for i in again}["credit-scoring@1"] == "exists"

        r = cli(env, "mlflow", "guard", "--tracking-uri", uri, "--json")
        assert r.returncode == 1
        (row,) = json.loads(r.stdout)["items"]
        assert row["ref"] == "credit-scoring@1" and "no license" in row["reason"]
        c = bootstrap.build(settings)
        try:
            with c.uow() as uow:
                service.lock_model_version(uow, "credit-scoring@1")
                uow.commit()
        finally:
            c.close()
        r = cli(env, "mlflow", "guard", "--tracking-uri", uri, "--json")
        assert r.returncode == 0, r.stdout
        (dirs["Credit Scoring/1"] / "model.pkl").write_bytes(b"swapped")
        r = cli(env, "mlflow", "guard", "--tracking-uri", uri, "--json")
        assert r.returncode == 1 and "artifact changed" in json.loads(r.stdout)["items"][0]["reason"]
        r = cli(env, "mlflow", "guard", "--tracking-uri", uri, "--all", "--model", "Other", "--json")
        assert r.returncode == 1 and "not registered" in json.loads(r.stdout)["items"][0]["reason"]
    finally:
        server.stop()
