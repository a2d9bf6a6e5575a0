"""`charter evaluate --upload` and `charter assessment verify` through the CLI against the API in-process: the
server's figures are recomputed from the original file and match; a stored figure edited by one digit, or another
file, is named and exits 1; self-reported figures are marked as such on the CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from charter.bootstrap import Container
from charter.cli.client import Api
from charter.cli.context import STATE
from charter.cli.main import main
from charter.evaluation.tables import AssessmentRow
from tests.integration.policies_eval.conftest import EXAMPLE, MODEL, REF

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
MITIGATED = EXAMPLE / "predictions_mitigated.csv"
BIASED = EXAMPLE / "predictions_biased.csv"


@pytest.fixture
def charter(client: TestClient, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Any:
    """Run `charter ARGS` in this process against the test client's API: (exit code, stdout, stderr)."""

    def use_client(self: Api, *args: Any, **kwargs: Any) -> None:
        self.base = "http://testserver"
        self._client = client  # type: ignore[assignment]  # the TestClient (an httpx2 Client) stands in for httpx

    monkeypatch.setattr(Api, "__init__", use_client)
    monkeypatch.setattr(STATE, "json", False)

    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        try:
            main(list(args))
        except SystemExit as exc:
            code = int(exc.code or 0)
        out = capsys.readouterr()
        STATE.json = False
        return code, out.out, out.err

    return run


def evaluate(charter: Any, path: Any, *extra: str) -> tuple[int, str, str]:
    return charter(  # type: ignore[no-any-return]
        "evaluate", REF, "--predictions", str(path), "--score", "p", "--sensitive", "gender,age_band",
        "--artifact", str(MODEL), "--bootstrap", "20", *extra,
    )  # fmt: skip


def edit_one_digit(value: float) -> float:
    text = repr(value)
    i = text.index(".") + 2
    return float(text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1 :])


def test_upload_then_verify_catches_an_edited_figure_and_another_file(
    charter: Any, container: Container, credit: dict[str, Any]
) -> None:
    code, out, err = evaluate(charter, MITIGATED, "--upload", "--json")
    assert code == 0, err
    a = json.loads(out)["assessment"]
    assert a["computed_by"] == "server" and a["verdict"] == "pass"

    code, out, err = charter("--json", "assessment", "verify", a["id"], "--predictions", str(MITIGATED))
    assert code == 0, out + err
    doc = json.loads(out)
    assert doc["match"] is True and doc["differences"] == [] and doc["predictions"]["rows"] == 5000

    with container.uow() as uow:
        row = uow.session.get(AssessmentRow, a["id"])
        assert row is not None
        evidence = json.loads(json.dumps(row.evidence))
        before = evidence["performance"]["accuracy"]
        evidence["performance"]["accuracy"] = edit_one_digit(before)
        row.evidence = evidence
        uow.commit()
    code, out, err = charter("assessment", "verify", a["id"], "--predictions", str(MITIGATED))
    assert code == 1, out + err
    assert "MISMATCH" in out and "performance.accuracy" in out and repr(before) in out, out

    code, out, err = charter("--json", "assessment", "verify", a["id"], "--predictions", str(BIASED))
    assert code == 1
    found = json.loads(out)["differences"]
    assert found[0].startswith("input predictions: predictions_biased.csv is sha256:"), found
    assert any(d.startswith("fairness_summary.dp_diff_max") for d in found), found


def test_client_figures_are_self_reported_and_still_verifiable(charter: Any, credit: dict[str, Any]) -> None:
    code, out, err = evaluate(charter, MITIGATED)
    assert code == 1, out + err  # high-risk: the built-in evidence baseline wants the server's figures
    assert "self-reported" in out and "EVD-SERVER-COMPUTED" in out
    code, out, err = evaluate(charter, MITIGATED, "--json")
    a = json.loads(out)["assessment"]
    assert a["self_reported"] is True and a["blockers"] == ["EVD-SERVER-COMPUTED"]
    code, out, err = charter("assessment", "verify", a["id"], "--predictions", str(MITIGATED))
    assert code == 0 and "MATCH" in out, out + err
    code, out, err = charter("evaluate", REF, "--upload", "--artifact", str(MODEL))
    assert code == 2 and "--upload sends a predictions file" in err
