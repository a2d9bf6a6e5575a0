"""ONNX classifiers run by onnxruntime for `charter evaluate --model FILE.onnx`: labels and scores read by output
type, and every mismatch between model and data is a usage error that says what to change."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from charter.cli.errors import CliError
from charter.cli.onnx_model import onnx_predict
from tests.support.onnx_models import logistic

COLUMNS = {
    "f1": np.array([2.0, -2.0, 0.1, -0.1]),
    "f2": np.array([0.0, 0.0, 0.0, 0.0]),
    "label": np.array([1, 0, 1, 0]),
}


def expected(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-(1.5 * x)))


def test_labels_and_probabilities(tmp_path: Path) -> None:
    model = logistic(tmp_path / "m.onnx", [1.5, 0.0], 0.0)
    labels, score = onnx_predict(model, COLUMNS, ["f1", "f2"], None)
    assert labels.tolist() == [1, 0, 1, 0] and score is not None
    assert np.allclose(score, expected(COLUMNS["f1"]), atol=1e-6)


def test_a_lone_score_is_thresholded(tmp_path: Path) -> None:
    model = logistic(tmp_path / "s.onnx", [1.5, 0.0], 0.0, outputs="score")
    labels, score = onnx_predict(model, COLUMNS, ["f1", "f2"], None)
    assert score is not None
    assert labels.tolist() == [1, 0, 1, 0] and np.allclose(score, expected(COLUMNS["f1"]), atol=1e-6)


@pytest.mark.parametrize(
    ("features", "code", "says"),
    [
        (["f1"], "feature_count_mismatch", "expects 2 features"),
        (["f1", "label", "f2"], "feature_count_mismatch", "--features"),
    ],
)
def test_feature_mismatch_is_a_usage_error(tmp_path: Path, features: list[str], code: str, says: str) -> None:
    model = logistic(tmp_path / "m.onnx", [1.5, 0.0], 0.0)
    with pytest.raises(CliError) as err:
        onnx_predict(model, COLUMNS, features, None)
    assert err.value.code == code and says in str(err.value)


def test_non_numeric_features_and_broken_files(tmp_path: Path) -> None:
    model = logistic(tmp_path / "m.onnx", [1.5, 0.0], 0.0)
    with pytest.raises(CliError) as err:
        onnx_predict(model, {**COLUMNS, "f2": np.array(["a", "b", "c", "d"])}, ["f1", "f2"], None)
    assert err.value.code == "invalid_feature" and "'f2'" in str(err.value)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(model.read_bytes()[:40])
    with pytest.raises(CliError) as err:
        onnx_predict(broken, COLUMNS, ["f1", "f2"], None)
    assert err.value.code == "model_failed" and "broken.onnx" in str(err.value)
