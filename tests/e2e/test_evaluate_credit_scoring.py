"""The shipped credit-scoring example through a real `charter serve` and the CLI: the biased model is blocked by the
parity rule (exit 1), the mitigated one passes (exit 0); the README's commands run verbatim; policies are added,
listed, diffed, tested and evaluated; bad input fails cleanly (exit ≠ 0, one clear message) and stores nothing."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from charter import bootstrap
from charter.audit.tables import AuditEntryRow
from charter.bootstrap import InitResult
from charter.evaluation.tables import AssessmentRow, EvaluationRow
from charter.policies.tables import PolicyRow
from charter.settings import Settings
from tests.integration.policies_eval.conftest import (
    VERSIONS,
    register_credit_scoring,
    upload_parts,
)
from tests.support.db import admin_key, env_for
from tests.support.server import Server, cli, cli_in_process

pytestmark = pytest.mark.e2e
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "credit-scoring"
REF = "credit-scoring@1.0.0"
PARITY = ("ETH-DP-DIFF", "ETH-EO-DIFF", "ETH-DISPARATE-IMPACT")
POLICY = """\
apiVersion: charter.dev/v1
kind: Policy
metadata:
  name: credit-scoring
  description: Extra rules for consumer credit scoring.
rules:
  - id: CREDIT-ACCURACY
    title: Accuracy of at least 0.7 for credit decisions
    severity: blocker
    when: system.risk_tier == 'high'
    check: performance.accuracy >= 0.7
    evidence: [performance.accuracy]
    controls: [EUAIA-ART15]
    remediation: Retrain until held-out accuracy reaches 0.7.
"""
POLICY_TEST = """\
apiVersion: charter.dev/v1
kind: PolicyTest
evidence:
  system: {risk_tier: high}
  performance: {accuracy: 0.75}
cases:
  - name: accurate enough
    evidence: {}
    expect: {CREDIT-ACCURACY: pass}
  - name: not accurate enough
    evidence: {performance: {accuracy: 0.6}}
    expect: {CREDIT-ACCURACY: pass}
"""


def readme_commands() -> str:
    """The first bash block of the README's "Run it with the Charter CLI" section (the evaluation)."""
    text = (EXAMPLE / "README.md").read_text()
    section = text.split("## Run it with the Charter CLI", 1)[1]
    m = re.search(r"```bash\n(.*?)```", section, re.S)
    assert m, "README has no bash block under 'Run it with the Charter CLI'"
    return m.group(1)


def counts(settings: Settings) -> tuple[int, ...]:
    c = bootstrap.build(settings)
    try:
        with c.uow(write=False) as uow:
            return tuple(
                int(uow.session.scalar(select(func.count()).select_from(t)) or 0)
                for t in (PolicyRow, EvaluationRow, AssessmentRow, AuditEntryRow)
            )
    finally:
        c.close()


@pytest.fixture
def served(settings: Settings, initialised: InitResult, tmp_path: Path) -> Iterator[dict[str, str]]:
    """An initialised data dir, a real server; yields the CLI environment."""
    env = {**env_for(settings), "COLUMNS": "240"}
    key = admin_key(initialised)
    server = Server(env, log=tmp_path / "server.log").start()
    try:
        yield {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": key}
    finally:
        server.stop()


def run_readme(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The README block, verbatim, with bash -eu in a copy of the example directory."""
    work = tmp_path / "credit-scoring"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("__pycache__"))
    out = tmp_path / "out"
    out.mkdir()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", readme_commands()],
        cwd=work,
        env={**os.environ, **env, "OUT": str(out), "PATH": path},
        capture_output=True,
        text=True,
        timeout=300,
    )


@contextmanager
def api(env: dict[str, str]) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {env['CHARTER_API_KEY']}"}
    with httpx.Client(base_url=env["CHARTER_URL"], headers=headers, timeout=60) as client:
        yield client


def registered(env: dict[str, str]) -> None:
    """The catalog set up over the API (the README test does it through the catalog CLI)."""
    with api(env) as client:
        register_credit_scoring(client)  # type: ignore[arg-type]


def test_readme_commands_block_then_pass(served: dict[str, str], tmp_path: Path) -> None:
    r = run_readme(served, tmp_path)
    assert r.returncode == 0, (r.stdout[-3000:], r.stderr[-3000:])
    biased, _, mitigated = r.stdout.partition("blocked: exit code 1")
    assert _, "the biased evaluation did not exit with code 1:\n" + r.stdout[-3000:]
    assert "FAIL: 3 blocker rule(s) failed: ETH-DP-DIFF, ETH-EO-DIFF, ETH-DISPARATE-IMPACT" in biased
    assert "fairness_summary.dp_diff_max=0.19458559168925021, thresholds.dp_diff_max=0.1" in biased
    assert "PASS: no blocker rule failed" in mitigated
    out = tmp_path / "out"
    sarif = json.loads((out / "credit.sarif").read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["properties"]["verdict"] == "pass"
    html = (out / "report.html").read_text()
    assert "Policy assessment of loan-approval@1.0.0" in html and "PASS" in html


PREDS = ("--label", "y", "--prediction", "y_hat", "--score", "p", "--sensitive", "gender,age_band")
ARTIFACT = ("--artifact", str(EXAMPLE / "model.safetensors"))


def test_evaluate_formats_and_exit_codes(served: dict[str, str], tmp_path: Path) -> None:
    env = served
    registered(env)
    preds, artifact = PREDS, ARTIFACT

    # biased → exit 1, the parity rule named, JUnit for CI, JSON document with --json
    junit = tmp_path / "biased.xml"
    r = cli(env, "evaluate", REF, "--upload", "--predictions", str(EXAMPLE / "predictions_biased.csv"), *preds,
            *artifact, "--format", "junit", "--output", str(junit))  # fmt: skip
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert all(rule in r.stdout for rule in PARITY) and "ETH-DP-DIFF" in r.stdout and r.stderr == ""
    failures = [tc.get("name", "") for tc in ET.parse(junit).iter("testcase") if tc.find("failure") is not None]
    assert sorted(f.split(":")[0] for f in failures) == sorted(PARITY)
    r = cli_in_process(env, "evaluate", REF, "--predictions", str(EXAMPLE / "predictions_biased.csv"), *preds, "--json")
    assert r.returncode == 1
    doc = json.loads(r.stdout)
    assert doc["assessment"]["verdict"] == "fail" and "ETH-DP-DIFF" in doc["assessment"]["blockers"]
    assert "SEC-SCAN-PERFORMED" in doc["assessment"]["blockers"]  # no --artifact: no scan
    assert doc["evaluation"]["inputs"]["predictions"]["rows"] == 5000

    # mitigated → exit 0; markdown to stdout
    mitigated = str(EXAMPLE / "predictions_mitigated.csv")
    r = cli_in_process(env, "evaluate", REF, "--predictions", mitigated, *preds, *artifact, "--format", "markdown")
    assert r.returncode == 1 and "EVD-SERVER-COMPUTED" in r.stdout, (r.stdout, r.stderr)  # self-reported
    assert "- Computed by: self-reported" in r.stdout
    r = cli_in_process(
        env, "evaluate", REF, "--upload", "--predictions", mitigated, *preds, *artifact, "--format", "markdown"
    )
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert r.stdout.startswith("# Policy assessment: PASS") and "- Computed by: the server" in r.stdout


def test_policy_commands(served: dict[str, str], tmp_path: Path) -> None:
    env = served
    registered(env)
    with api(env) as client:
        up = client.post(f"{VERSIONS}/evaluations/upload", **upload_parts("mitigated"))
        assert up.status_code == 201 and up.json()["assessment"]["verdict"] == "pass", up.text
    pdir = tmp_path / "policies"
    pdir.mkdir()
    (pdir / "credit.yaml").write_text(POLICY)
    (pdir / "credit_test.yaml").write_text(POLICY_TEST)
    r = cli(env, "policy", "test", str(pdir))  # a real process; the rest run the same main() in this one
    assert r.returncode == 1 and "credit_test.yaml:12:" in r.stdout and "FAIL: 1/2 cases passed" in r.stdout
    fixed = POLICY_TEST.replace(
        "0.6}}\n    expect: {CREDIT-ACCURACY: pass}", "0.6}}\n    expect: {CREDIT-ACCURACY: fail}"
    )
    (pdir / "credit_test.yaml").write_text(fixed)
    r = cli_in_process(env, "policy", "test", str(pdir))
    assert r.returncode == 0 and "PASS: 2/2 cases passed" in r.stdout, r.stdout
    r = cli_in_process(env, "policy", "add", str(pdir / "credit.yaml"), "--json")
    assert r.returncode == 0, r.stderr
    v1 = json.loads(r.stdout)["digest"]
    r = cli_in_process(env, "policy", "add", str(pdir / "credit.yaml"))
    assert r.returncode == 0 and r.stdout.startswith("Unchanged")
    (pdir / "credit.yaml").write_text(POLICY.replace("0.7", "0.8"))
    r = cli_in_process(env, "policy", "add", str(pdir / "credit.yaml"))
    assert r.returncode == 0 and f"supersedes {v1[:12]}" in r.stdout, r.stdout
    r = cli_in_process(env, "policy", "list", "--json")
    assert [(p["name"], p["origin"]) for p in json.loads(r.stdout)["items"]][-1] == ("credit-scoring", "stored")
    r = cli_in_process(env, "policy", "show", v1[:10])
    assert r.returncode == 0 and "CREDIT-ACCURACY" in r.stdout and "inactive" in r.stdout
    r = cli_in_process(env, "policy", "diff", "credit-scoring")
    assert r.returncode == 0 and "~ CREDIT-ACCURACY" in r.stdout
    assert "performance.accuracy >= 0.7 → performance.accuracy >= 0.8" in r.stdout
    html = tmp_path / "eval.html"
    r = cli_in_process(env, "policy", "eval", REF, "--html", str(html))
    assert r.returncode == 1 and "CREDIT-ACCURACY" in r.stdout  # accuracy 0.748 < 0.8 now
    assert "CREDIT-ACCURACY" in html.read_text()
    r = cli_in_process(env, "assessment", "list", REF, "--json")
    items = json.loads(r.stdout)["items"]
    assert [i["verdict"] for i in items] == ["fail", "pass"] and items[0]["blockers"] == ["CREDIT-ACCURACY"]
    r = cli_in_process(env, "assessment", "show", items[1]["id"], "--format", "sarif")
    assert r.returncode == 0 and json.loads(r.stdout)["runs"][0]["properties"]["verdict"] == "pass"
    r = cli_in_process(env, "controls", "coverage", "--framework", "eu-ai-act", "--json")
    assert r.returncode == 0 and "credit-scoring/CREDIT-ACCURACY" in json.dumps(json.loads(r.stdout)["covered"])


def test_bad_input_fails_cleanly_and_stores_nothing(served: dict[str, str], settings: Settings, tmp_path: Path) -> None:
    env = served
    registered(env)
    before = counts(settings)
    broken = tmp_path / "broken.yaml"
    broken.write_text(POLICY.replace("severity: blocker", "severity: critical").replace("EUAIA-ART15", "eu-ai-act:15"))
    r = cli(env, "policy", "add", str(broken))  # a real process; the rest run the same main() in this one
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith(f"error: policy_invalid: {broken}:9:15: rule 'CREDIT-ACCURACY'.severity 'critical'")
    assert f"{broken}:13:16:" in r.stderr
    cases = [
        (("--predictions", str(EXAMPLE / "predictions_biased.csv"), "--label", "repaid"), 2,
         "predictions_biased.csv: column 'repaid' not found"),
        (("--predictions", str(EXAMPLE / "MODEL_CARD.md")), 2, "MODEL_CARD.md is not a CSV or Parquet file"),
        (("--predictions", str(tmp_path / "nope.csv")), 2, "no such file"),
        (("--predictions", str(EXAMPLE / "predictions_biased.csv"), "--artifact", str(EXAMPLE / "README.md")), 2,
         "pass the file or directory that was registered"),
        (("--predictions", str(EXAMPLE / "predictions_biased.csv"), "--format", "pdf"), 2, "--format: 'pdf'"),
    ]  # fmt: skip
    for args, code, message in cases:
        r = cli_in_process(env, "evaluate", REF, *args)
        assert r.returncode == code and message in r.stderr, (args, r.returncode, r.stderr)
        assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
    r = cli_in_process(env, "evaluate", "credit-scoring@9.9", "--predictions", str(EXAMPLE / "predictions_biased.csv"))
    assert r.returncode == 3 and "error: model_version_not_found: no model version credit-scoring@9.9" in r.stderr
    r = cli_in_process(env, "policy", "eval", "credit-scoring@9.9")
    assert r.returncode == 3
    r = cli_in_process(env, "evaluate", REF, "--predictions", str(EXAMPLE / "MODEL_CARD.md"), "--json")
    assert r.returncode == 2 and json.loads(r.stdout)["code"] == "unsupported_file_type"
    assert counts(settings) == before
