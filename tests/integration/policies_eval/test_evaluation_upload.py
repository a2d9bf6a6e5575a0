"""Server-computed evidence: predictions uploaded to the API are evaluated by the server with the client's code.
Forged client figures for a high-risk system fail the built-in evidence baseline; a policy that replaces it lets
them pass, marked self_reported; limits and bad files are 4xx problems naming the limit, file and column."""

from __future__ import annotations

import hashlib
import io
import re
import zipfile
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from charter.bootstrap import Container
from charter.evaluation.compute import ComputeOptions, predictions_evidence
from tests.integration.policies_eval.conftest import (
    API,
    EXAMPLE,
    VERSIONS,
    counts,
    evaluation_body,
    upload_parts,
)

PARITY = {"ETH-DP-DIFF", "ETH-EO-DIFF", "ETH-DISPARATE-IMPACT"}
RELAXED = """\
apiVersion: charter.dev/v1
kind: Policy
metadata:
  name: charter-evidence-baseline
  description: This site's evaluation data may not leave it; self-reported figures are accepted.
rules:
  - id: EVD-KNOWN-SOURCE
    title: Evaluation evidence of a known origin
    severity: blocker
    when: evaluation.computed_by != null
    check: evaluation.computed_by in ['server', 'client']
    controls: [EUAIA-ART15]
    remediation: Evaluate again.
"""


def upload(client: TestClient, name: str, **kw: Any) -> dict[str, Any]:
    r = client.post(f"{VERSIONS}/evaluations/upload", **upload_parts(name, **kw))
    assert r.status_code == 201, r.text
    doc: dict[str, Any] = r.json()
    return doc


def forged() -> dict[str, Any]:
    """The biased model's evaluation with the mitigated model's figures pasted in: the attack of issue 21."""
    body = evaluation_body("biased")
    fair = evaluation_body("mitigated")["evidence"]
    body["evidence"].update({k: fair[k] for k in ("performance", "fairness", "fairness_summary")})
    return body


def test_forged_client_figures_fail_and_the_server_computes_the_truth(
    client: TestClient, credit: dict[str, Any]
) -> None:
    r = client.post(f"{VERSIONS}/evaluations", json=forged())
    assert r.status_code == 201, r.text
    a = r.json()["assessment"]
    assert a["verdict"] == "fail" and a["blockers"] == ["EVD-SERVER-COMPUTED"], a["blockers"]
    assert a["computed_by"] == "client" and a["self_reported"] is True
    assert a["evidence"]["evaluation"]["self_reported"] is True
    assert r.json()["evaluation"]["computed_by"] == "client"

    biased = upload(client, "biased")
    a = biased["assessment"]
    assert a["computed_by"] == "server" and a["self_reported"] is False and a["code_version"]
    assert set(a["blockers"]) == PARITY, a["blockers"]  # the server's figures are the biased ones
    path = EXAMPLE / "predictions_biased.csv"
    sha = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert a["inputs"]["predictions"] == {"name": path.name, "sha256": sha, "size": path.stat().st_size, "rows": 5000}
    assert a["evidence"]["evaluation"]["inputs"]["predictions"] == sha
    opts = ComputeOptions(score="p", sensitive=("gender", "age_band"), bootstrap_resamples=20)
    expected, _ = predictions_evidence(path, opts)
    assert {k: a["evidence"][k] for k in expected} == expected  # the client's code, figure for figure

    mitigated = upload(client, "mitigated")["assessment"]
    assert mitigated["verdict"] == "pass" and mitigated["computed_by"] == "server", mitigated["blockers"]
    shown = client.get(f"{API}/assessments/{mitigated['id']}").json()
    assert shown["computed_by"] == "server" and shown["options"]["bootstrap_resamples"] == 20


def test_a_policy_may_accept_self_reported_figures_which_stay_marked(
    client: TestClient, credit: dict[str, Any]
) -> None:
    r = client.post(f"{API}/policies", content=RELAXED, headers={"Content-Type": "application/yaml"})
    assert r.status_code in (200, 201), r.text
    r = client.post(f"{VERSIONS}/evaluations", json=evaluation_body("mitigated"))
    a = r.json()["assessment"]
    assert a["verdict"] == "pass", a["blockers"]
    assert a["self_reported"] is True and a["computed_by"] == "client"
    listed = client.get(f"{VERSIONS}/assessments").json()["items"][0]
    assert listed["self_reported"] is True
    html = client.get(f"{API}/assessments/{a['id']}/report.html").text
    assert "self-reported" in html
    dossier = client.get(f"{API}/reports/systems/credit-scoring", params={"format": "html"}).text
    assert "self-reported" in dossier  # Annex IV: the system page and the validation element
    pack = client.get(f"{API}/reports/systems/credit-scoring/pack")
    assert pack.status_code == 200, pack.text
    with zipfile.ZipFile(io.BytesIO(pack.content)) as z:
        texts = [z.read(n).decode(errors="replace") for n in z.namelist() if n.endswith((".json", ".html"))]
    assert any('"self_reported": true' in t or "self-reported" in t for t in texts)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_upload_too_large_is_a_413_naming_the_limit(
    client: TestClient, container: Container, credit: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(container, "settings", container.settings.model_copy(update={"upload_max_bytes": 4096}))
    before = counts(container)
    r = client.post(f"{VERSIONS}/evaluations/upload", **upload_parts("biased"))
    assert r.status_code == 413, r.text
    problem = r.json()
    assert problem["code"] == "payload_too_large" and "4096 bytes" in problem["detail"]
    assert "CHARTER_UPLOAD_MAX_BYTES" in problem["detail"]
    assert counts(container) == before


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_bad_files_are_4xx_naming_file_and_column(
    client: TestClient, container: Container, credit: dict[str, Any], tmp_path: Path
) -> None:
    before = counts(container)
    bad = tmp_path / "scores.csv"
    bad.write_text("y,y_hat,p,gender,age_band\n1,1,0.9,f,young\n0,maybe,0.2,m,old\n")
    r = client.post(f"{VERSIONS}/evaluations/upload", **upload_parts("x", path=bad))
    assert r.status_code in (400, 422), r.text
    assert "scores.csv" in r.json()["detail"] and "y_hat" in r.json()["detail"]
    missing = tmp_path / "nocol.csv"
    missing.write_text("y,prediction\n1,1\n")
    r = client.post(f"{VERSIONS}/evaluations/upload", **upload_parts("x", path=missing))
    assert r.status_code in (400, 422) and "nocol.csv" in r.json()["detail"] and "'y_hat'" in r.json()["detail"]
    r = client.post(f"{VERSIONS}/evaluations/upload", json={"predictions": "x"})
    assert r.status_code in (400, 415, 422) and "multipart/form-data" in r.json()["detail"]
    parts = upload_parts("biased")
    parts["data"]["meta"] = '{"evidence": {"performance": {"accuracy": 1}}}'
    r = client.post(f"{VERSIONS}/evaluations/upload", **parts)
    assert r.status_code == 422 and r.json()["field"] == "meta.evidence.performance", r.text
    assert counts(container) == before


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_hostile_files_are_422_problems_naming_the_field(
    client: TestClient, container: Container, credit: dict[str, Any], tmp_path: Path
) -> None:
    """A column named twice is ambiguous (which one was evaluated?); undecodable text names its column; the server's
    temporary path is never shown; an empty file or unparsable meta names its part."""
    before = counts(container)

    def problem(name: str, content: bytes, meta: str | None = None) -> dict[str, Any]:
        path = tmp_path / name
        path.write_bytes(content)
        parts = upload_parts("x", path=path)
        if meta is not None:
            parts["data"]["meta"] = meta
        r = client.post(f"{VERSIONS}/evaluations/upload", **parts)
        assert r.status_code == 422, r.text[:500]
        doc: dict[str, Any] = r.json()
        assert "charter-upload-" not in r.text, doc  # no server temp path
        return doc

    rows = b"1,1,0.9,f,young\n0,0,0.2,m,old\n"
    dup = problem("dup.csv", b"y,y_hat,y,p,gender,age_band\n" + b"1,1,0,0.9,f,young\n0,0,1,0.2,m,old\n")
    assert dup["field"] == "y" and "dup.csv" in dup["detail"] and "more than once" in dup["detail"], dup
    latin = problem("latin.csv", b"y,y_hat,p,gender,age_band\n1,1,0.9,f,young\n0,0,0.2,\xe9,old\n")
    assert latin["field"] == "gender" and "latin.csv" in latin["detail"] and "UTF-8" in latin["detail"], latin
    header = problem("header.csv", b"\xff\xfey,y_hat,p,gender,age_band\n" + rows)
    assert header["field"] == "predictions" and "header.csv" in header["detail"], header
    empty = problem("empty.csv", b"y,y_hat,p,gender,age_band\n")
    assert empty["field"] == "predictions" and "no data rows" in empty["detail"], empty
    broken = problem("ok.csv", b"y,y_hat,p,gender,age_band\n" + rows, meta="{oops")
    assert broken["field"] == "meta" and broken["detail"].startswith("meta: "), broken
    assert counts(container) == before


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_misshapen_multipart_is_a_422_naming_the_part(
    client: TestClient, container: Container, credit: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two files, `meta` sent as a file, or a `meta` over its limit: the problem says which part is wrong."""
    before = counts(container)
    parts = upload_parts("biased")
    body = parts["files"]["predictions"]
    r = client.post(f"{VERSIONS}/evaluations/upload", files=[("predictions", body), ("predictions", body)])
    assert r.status_code == 422 and r.json()["field"] == "predictions", r.text[:500]
    assert "one file" in r.json()["detail"], r.json()
    r = client.post(f"{VERSIONS}/evaluations/upload", files=[("predictions", body)] * 3)
    assert r.status_code == 422 and r.json()["field"] == "predictions", r.text[:500]
    r = client.post(f"{VERSIONS}/evaluations/upload", files=[("predictions", body), ("meta", ("m.json", b"{}"))])
    assert r.status_code == 422 and r.json()["field"] == "meta", r.text[:500]
    r = client.post(f"{VERSIONS}/evaluations/upload", files=parts["files"], data={"meta": " " * (1 << 21)})
    assert r.status_code in (413, 422) and r.json()["field"] == "meta", r.text[:500]
    monkeypatch.setattr(container, "settings", container.settings.model_copy(update={"upload_max_bytes": 4096}))
    r = client.post(f"{VERSIONS}/evaluations/upload", **parts)
    assert r.status_code == 413 and r.json()["field"] == "predictions", r.text[:500]
    assert counts(container) == before


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_file_posted_to_the_json_route_is_pointed_to_the_upload_route(
    client: TestClient, container: Container, credit: dict[str, Any]
) -> None:
    """`POST …/evaluations` takes self-reported figures as JSON; a multipart file sent there gets the upload route's
    name, not a pydantic 'Input should be a valid dictionary'."""
    before = counts(container)
    r = client.post(f"{VERSIONS}/evaluations", **upload_parts("biased"))
    assert r.status_code == 422 and r.json()["field"] == "predictions", r.text[:500]
    assert "/evaluations/upload" in r.json()["detail"], r.json()
    assert counts(container) == before


def test_the_evaluation_doc_example_shows_what_the_server_says(client: TestClient, credit: dict[str, Any]) -> None:
    """docs/evaluation.md's console example of the biased model: its verdict line is what the built-in baselines
    give for that command (with or without --upload, which decides EVD-SERVER-COMPUTED for this high-risk system)."""
    doc = (EXAMPLE.parents[1] / "docs" / "evaluation.md").read_text()
    block = re.search(r"```console\n\$ (charter evaluate credit-scoring@1\.0\.0 .*?)```", doc, re.S)
    assert block, "docs/evaluation.md lost its console example"
    command = block.group(1).split("\n…", 1)[0]
    summary = re.search(r"^FAIL: (\d+) blocker rule\(s\) failed: ([A-Z0-9, -]+) \(", block.group(1), re.M)
    assert summary, block.group(1)
    if "--upload" in command:
        a = upload(client, "biased")["assessment"]
    else:
        r = client.post(f"{VERSIONS}/evaluations", json=evaluation_body("biased"))
        assert r.status_code == 201, r.text[:500]
        a = r.json()["assessment"]
    shown = summary.group(2).split(", ")
    assert int(summary.group(1)) == len(shown) and set(shown) == set(a["blockers"]), (command, a["blockers"])
