"""Fresh data dir, real `charter serve`, the CLI: questionnaire → system, two datasets with lineage, a 200 MB model
whose digest equals `sha256sum`, the lineage tree, the audit trail; bad input fails cleanly and writes nothing."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from sqlalchemy import func, select

from charter import bootstrap
from charter.audit.tables import AuditEntryRow
from charter.bootstrap import InitResult
from charter.catalog.questionnaire import example
from charter.catalog.tables import DatasetRow, LineageEdgeRow, ModelVersionRow, SystemRow
from charter.settings import Settings
from tests.support.db import admin_key, env_for
from tests.support.server import Server, cli, cli_in_process

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]  # ~20 CLI processes + a server
MODEL_BYTES = 200 * 1024 * 1024


def big_model(path: Path) -> None:
    """A 200 MB file, quickly: sparse, with random bytes at a few offsets so the digest is not a known constant."""
    with path.open("wb") as fh:
        fh.truncate(MODEL_BYTES)
        for offset in (0, MODEL_BYTES // 3, MODEL_BYTES - 4096):
            fh.seek(offset)
            fh.write(os.urandom(4096))


def sha256sum(path: Path) -> str:
    out = subprocess.run(["sha256sum", str(path)], capture_output=True, text=True, check=True).stdout
    return out.split()[0]


def counts(settings: Settings) -> tuple[int, ...]:
    c = bootstrap.build(settings)
    try:
        with c.uow(write=False) as uow:
            return tuple(
                int(uow.session.scalar(select(func.count()).select_from(t)) or 0)
                for t in (SystemRow, ModelVersionRow, DatasetRow, LineageEdgeRow, AuditEntryRow)
            )
    finally:
        c.close()


def audit_actions(settings: Settings) -> list[tuple[str, str]]:
    c = bootstrap.build(settings)
    try:
        with c.uow(write=False) as uow:
            rows = uow.session.execute(select(AuditEntryRow.action, AuditEntryRow.resource).order_by(AuditEntryRow.seq))
            return [(a, r) for a, r in rows.tuples()]
    finally:
        c.close()


def one_line_error(r: subprocess.CompletedProcess[str], exit_code: int, code: str) -> str:
    assert r.returncode == exit_code, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"error: {code}: "), r.stderr
    return r.stderr


def test_catalog_through_cli_and_real_server(settings: Settings, initialised: InitResult, tmp_path: Path) -> None:
    env = {**env_for(settings), "COLUMNS": "200"}
    run = cli_in_process  # the CLI's main() in this process; `cli` runs a real `charter` process
    key = admin_key(initialised)
    server = Server(env, log=tmp_path / "server.log").start()
    try:
        env = {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": key}
        assert cli(env, "team", "add", "risk").returncode == 0  # real processes: this and `system register`
        answers = example()
        answers["annex_iii"]["point"] = "5(b)"
        answers["context"].update(decisions_about_persons=True, deployment_context=["consumer"])
        answers["data"]["personal_data"] = True
        (tmp_path / "answers.yaml").write_text(yaml.safe_dump(answers))
        r = cli(env, "system", "register", "credit", "--purpose", "Consumer creditworthiness", "--team", "risk",
                "--answers", str(tmp_path / "answers.yaml"), "--json")  # fmt: skip
        assert r.returncode == 0, r.stderr
        system = json.loads(r.stdout)
        assert system["risk_tier"] == "high" and "EUAIA-ART27" in system["obligations"]

        raw = tmp_path / "loans-raw.csv"
        raw.write_text("id,income,age\n" + "".join(f"{i},{1000 + i},{20 + i % 50}\n" for i in range(5000)))
        r = run(env, "dataset", "register", "loans-raw", "--file", str(raw), "--license", "CC-BY-4.0",
                "--lawful-basis", "contract", "--personal-data", "--source", "core banking", "--json")  # fmt: skip
        assert r.returncode == 0, r.stderr
        doc = json.loads(r.stdout)
        assert doc["row_count"] == 5000 and [c["name"] for c in doc["schema"]] == ["id", "income", "age"]
        assert doc["digest"] == "sha256:" + sha256sum(raw)
        clean = tmp_path / "loans.parquet"
        pq.write_table(pa.table({"income": [1.0, 2.0, 3.0], "label": [0, 1, 0]}), clean)
        r = run(env, "dataset", "register", "loans", "--file", str(clean), "--license", "cc-by-4.0",
                "--lawful-basis", "contract", "--personal-data", "--derived-from", "loans-raw",
                "--retention-until", "2099-12-31", "--json")  # fmt: skip
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["derived_from"] == ["loans-raw@1"] and json.loads(r.stdout)["row_count"] == 3

        model = tmp_path / "credit.onnx"
        big_model(model)
        card = tmp_path / "README.md"
        card.write_text("---\nlicense: apache-2.0\nlibrary_name: onnx\n---\n# Credit\n## Intended use\nLoans.\n")
        r = cli_in_process(
            env, "model", "register", "credit@1.0.0", "--artifact", str(model), "--card", str(card), "--json"
        )
        assert r.returncode == 0, r.stderr
        mv = json.loads(r.stdout)
        assert mv["digest"] == "sha256:" + sha256sum(model)
        assert mv["size_bytes"] == MODEL_BYTES and mv["format"] == "onnx" and mv["license"] == "Apache-2.0"
        assert mv["card"]["sections"]["Intended use"] == "Loans."

        r = run(env, "lineage", "link", "loans", "credit@1.0.0", "--role", "training")
        assert r.returncode == 0, r.stderr
        r = run(env, "lineage", "show", "credit@1.0.0")
        assert r.returncode == 0, r.stderr
        out = r.stdout
        assert out.splitlines()[0].startswith("credit@1.0.0") and mv["digest"] in out
        assert "└── training: loans@1" in out and "derived from: loans-raw@1" in out
        assert "provenance: complete" in out
        tree = json.loads(run(env, "lineage", "show", "credit@1.0.0", "--json").stdout)
        assert tree["datasets"][0]["upstream"][0]["ref"] == "loans-raw@1"
        r = run(env, "system", "show", "credit")
        assert r.returncode == 0 and "EUAIA-ANNEXIII-5" in r.stdout and "Annex III point 5(b)" in r.stdout
        # each obligation's legal status (docs/regulation.md: "It shows in `charter system show`")
        art9 = next(line for line in r.stdout.splitlines() if line.startswith("EUAIA-ART9 "))
        assert "legal status" in r.stdout and "in_force" in art9, r.stdout
        r = run(env, "export", "cyclonedx", "--output", str(tmp_path / "bom.json"))
        assert r.returncode == 0, r.stderr
        bom = json.loads((tmp_path / "bom.json").read_text())
        assert {c["bom-ref"] for c in bom["components"]} == {
            "model:credit@1.0.0",
            "dataset:loans@1",
            "dataset:loans-raw@1",
        }

        before = counts(settings)
        err = one_line_error(run(env, "model", "register", "credit@2", "--artifact", str(tmp_path / "nope.onnx")),
                             2, "file_not_found")  # fmt: skip
        assert "artifact: no such file" in err and "nope.onnx" in err
        bad_card = tmp_path / "BAD.md"
        bad_card.write_text("---\nlicense: mit\ntags: [a\n  b: c\n---\n")
        r = run(env, "model", "register", "credit@2", "--artifact", str(model), "--card", str(bad_card))
        err = one_line_error(r, 2, "malformed_yaml")
        assert f"{bad_card}:4:" in err
        err = one_line_error(run(env, "dataset", "register", "x", "--file", str(raw), "--license", "Apache2"),
                             2, "invalid_license")  # fmt: skip
        assert "license: 'Apache2'" in err and "did you mean 'Apache-2.0'" in err
        err = one_line_error(run(env, "dataset", "register", "x", "--file", str(raw), "--lawful-basis", "because"),
                             2, "invalid_lawful_basis")  # fmt: skip
        assert "lawful-basis" in err and "legitimate-interests" in err
        err = one_line_error(run(env, "lineage", "link", "ghost", "credit@1.0.0", "--role", "training"),
                             3, "dataset_not_found")  # fmt: skip
        assert "ghost" in err
        err = one_line_error(run(env, "dataset", "register", "x", "--file", str(raw), "--derived-from", "ghost"),
                             3, "dataset_not_found")  # fmt: skip
        bad_answers = tmp_path / "bad.yaml"
        bad_answers.write_text("prohibited:\n  manipulation: nope\n")
        err = one_line_error(run(env, "system", "register", "s2", "--purpose", "p", "--answers", str(bad_answers)),
                             2, "invalid_answers")  # fmt: skip
        assert f"{bad_answers}:2:3: answers.prohibited.manipulation" in err
        r = cli_in_process(
            env, "model", "register", "credit@2", "--artifact", str(model), "--license", "nope-1", "--json"
        )
        assert r.returncode == 2 and json.loads(r.stdout)["code"] == "invalid_license"
        assert counts(settings) == before
    finally:
        server.stop()
    trail = audit_actions(settings)
    assert [a for a, _ in trail if a.split(".")[0] in ("system", "dataset", "model", "lineage")] == [
        "system.register",
        "dataset.register",
        "dataset.register",
        "model.register",
        "lineage.link",
    ]
    assert ("model.register", "model:credit@1.0.0") in trail
