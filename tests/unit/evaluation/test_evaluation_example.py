"""examples/credit-scoring: the generator makes a clearly biased and a mitigated model; Charter tells them apart."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from charter.evaluation import (
    assess_documentation,
    attribute_fairness,
    build_evaluation_evidence,
    compute_performance,
    evaluate_predictions,
    load_predictions,
    parse_model_card,
    scan_path,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "credit-scoring"
COLUMNS = "id,y,y_hat,p,gender,age_band"


def _gender_dp(path: Path) -> tuple[float, float]:
    data = load_predictions(path, score="p", sensitive=["gender", "age_band"])
    fairness = attribute_fairness(data.y_true, data.y_pred, data.sensitive["gender"], attribute="gender")
    assert fairness.dp_diff is not None
    return fairness.dp_diff, compute_performance(data.y_true, data.y_pred).accuracy


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("credit")
    subprocess.run([sys.executable, str(EXAMPLE / "make_data.py"), "--out", str(out)], check=True, capture_output=True)
    return out


@pytest.mark.parametrize("source", ["generated", "committed"])
def test_biased_and_mitigated(source: str, generated: Path) -> None:
    folder = generated if source == "generated" else EXAMPLE
    for name in ("predictions_biased.csv", "predictions_mitigated.csv"):
        lines = (folder / name).read_text().splitlines()
        assert lines[0] == COLUMNS and len(lines) == 5_001
    biased_dp, biased_acc = _gender_dp(folder / "predictions_biased.csv")
    mitigated_dp, mitigated_acc = _gender_dp(folder / "predictions_mitigated.csv")
    assert biased_dp > 0.1
    assert mitigated_dp < 0.05
    assert biased_acc > 0.7 and mitigated_acc > 0.7


def test_committed_files_match_the_generator(generated: Path) -> None:
    # Same seed, same rows: labels, genders and scores agree (formatting is fixed, so compare text).
    for name in ("predictions_biased.csv", "predictions_mitigated.csv", "model.safetensors"):
        assert (generated / name).read_bytes() == (EXAMPLE / name).read_bytes(), f"regenerate {name}"


def test_artifact_and_model_card() -> None:
    scan = scan_path(EXAMPLE / "model.safetensors")
    assert scan.safe and scan.formats == ("safetensors",) and scan.findings == ()
    card = parse_model_card((EXAMPLE / "MODEL_CARD.md").read_text(), source="MODEL_CARD.md")
    report = assess_documentation(card)
    assert report.missing == () and report.completeness == 1.0
    assert card["metadata"]["license"] == "apache-2.0"


def test_ethical_baseline_fails_biased_and_passes_mitigated() -> None:
    from charter.policies.engine import Verdict, evaluate
    from charter.policies.loader import builtin_baselines

    ethical = [p for p in builtin_baselines() if p.name == "charter-ethical-baseline"]
    failed = {}
    for name in ("biased", "mitigated"):
        data = load_predictions(EXAMPLE / f"predictions_{name}.csv", score="p", sensitive=["gender", "age_band"])
        evidence = build_evaluation_evidence(predictions=evaluate_predictions(data))
        failed[name] = {r.rule_id for r in evaluate(ethical, evidence).results if r.verdict == Verdict.FAIL}
    assert failed["biased"] == {"ETH-DP-DIFF", "ETH-EO-DIFF", "ETH-DISPARATE-IMPACT"}
    assert failed["mitigated"] == set()
