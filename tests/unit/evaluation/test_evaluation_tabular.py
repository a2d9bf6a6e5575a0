"""Reading prediction files: CSV and Parquet, label encodings, and errors that name file, column and row."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from charter.core.errors import InvalidInput
from charter.evaluation.tabular import MISSING_GROUP, load_predictions, predictions_from_arrays


def _csv(tmp_path: Path, text: str, name: str = "predictions.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_csv_with_score_and_sensitive(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,y,y_hat,p,gender,age\n1,1,1,0.9,F,1\n2,0,1,0.6,M,2\n3,1,0,0.2,,1\n4,0,0,0.1,F,2\n")
    d = load_predictions(p, score="p", sensitive=["gender", "age"])
    assert d.source == "predictions.csv" and d.n == 4
    assert d.y_true.tolist() == [True, False, True, False]
    assert d.y_pred.tolist() == [True, True, False, False]
    assert d.y_score is not None and d.y_score.tolist() == [0.9, 0.6, 0.2, 0.1]
    assert d.sensitive["gender"].labels == (MISSING_GROUP, "F", "M")
    assert [d.sensitive["gender"].labels[c] for c in d.sensitive["gender"].codes] == ["F", "M", MISSING_GROUP, "F"]
    assert d.sensitive["age"].labels == ("1", "2")  # read as text, not numbers


def test_parquet_same_result(tmp_path: Path) -> None:
    table = pa.table(
        {
            "y": [True, False, True],
            "y_hat": [1, 0, 0],
            "p": [0.8, 0.3, 0.4],
            "g": pa.array(["a", "b", "a"]).dictionary_encode(),
        }
    )
    p = tmp_path / "preds.parquet"
    pq.write_table(table, p)
    d = load_predictions(p, score="p", sensitive=["g"])
    assert d.y_true.tolist() == [True, False, True] and d.y_pred.tolist() == [True, False, False]
    assert d.sensitive["g"].labels == ("a", "b") and d.sensitive["g"].codes.tolist() == [0, 1, 0]
    # Sniffed by magic even without the extension.
    other = tmp_path / "preds.data"
    other.write_bytes(p.read_bytes())
    assert load_predictions(other).n == 3


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["true", "false", "TRUE"], [True, False, True]),
        (["1", "0", "1"], [True, False, True]),
        ([" yes", "no", "yes"], None),  # needs positive_label
    ],
)
def test_text_labels(tmp_path: Path, values: list[str], expected: list[bool] | None) -> None:
    rows = "\n".join(f'"{v}","{v}"' for v in values)
    p = _csv(tmp_path, f"y,y_hat\n{rows}\n")
    if expected is None:
        with pytest.raises(InvalidInput, match="pass positive_label"):
            load_predictions(p)
    else:
        assert load_predictions(p).y_true.tolist() == expected


def test_named_positive_label(tmp_path: Path) -> None:
    p = _csv(tmp_path, "y,y_hat\napproved,denied\ndenied,denied\napproved,approved\n")
    d = load_predictions(p, positive_label="approved")
    assert d.y_true.tolist() == [True, False, True] and d.y_pred.tolist() == [False, False, True]
    assert d.positive_label == "approved"
    with pytest.raises(InvalidInput, match="occurs in neither"):
        load_predictions(p, positive_label="Approved")
    numeric = _csv(tmp_path, "y,y_hat\n2,1\n1,1\n", "n.csv")
    assert load_predictions(numeric, positive_label=2).y_true.tolist() == [True, False]
    boolean = _csv(tmp_path, "y,y_hat\ntrue,false\n", "b.csv")
    assert load_predictions(boolean, positive_label="false").y_true.tolist() == [False]


def test_missing_column_lists_columns(tmp_path: Path) -> None:
    p = _csv(tmp_path, "id,y,prediction\n1,1,0\n")
    with pytest.raises(InvalidInput) as err:
        load_predictions(p)
    assert str(err.value) == "predictions.csv: column 'y_hat' not found; columns are: id, y, prediction"
    assert err.value.field == "y_hat" and err.value.code == "invalid_input"
    parquet = tmp_path / "p.parquet"
    pq.write_table(pa.table({"y": [1]}), parquet)
    with pytest.raises(InvalidInput, match="p.parquet: column 'gender' not found; columns are: y"):
        load_predictions(parquet, prediction="y", sensitive=["gender"])


@pytest.mark.parametrize(
    ("text", "kwargs", "message"),
    [
        ("y,y_hat\n1,1\n,0\n", {}, r"predictions.csv: column 'y' has no value in row 2 \(line 3\)"),
        ("y,y_hat\n1,2\n0,0\n", {}, r"column 'y_hat' has values \[0, 2\]"),
        ("y,y_hat\na,b\nc,a\n", {"positive_label": "a"}, "use 3 different values"),
        ("y,y_hat,p\n1,1,0.5\n0,0,abc\n", {"score": "p"}, "column 'p' must be numeric"),
        (
            "y,y_hat,p\n1,1,0.5\n0,0,nan\n",
            {"score": "p"},
            r"column 'p' has no value in row 2 \(line 3\) \(empty, NA, null or nan\)",
        ),
        ("y,y_hat\n", {}, "no data rows"),
        ("y,y_hat\n1,1\n0\n", {}, "cannot be read as CSV or Parquet"),
        ("y,y_hat,p\n1,1,0.5\n0,0,inf\n", {"score": "p"}, r"column 'p' is inf in row 2 \(line 3\)"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, text: str, kwargs: dict[str, object], message: str) -> None:
    p = _csv(tmp_path, text)
    with pytest.raises(InvalidInput, match=message):
        load_predictions(p, **kwargs)  # type: ignore[arg-type]


def test_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="file not found"):
        load_predictions(tmp_path / "nope.csv")


def test_from_arrays() -> None:
    d = predictions_from_arrays(
        [1, 0, 1], np.array([True, True, False]), y_score=[0.2, 0.5, 0.9], sensitive={"g": [1, 2, 1]}
    )
    assert d.y_true.tolist() == [True, False, True] and d.sensitive["g"].labels == ("1", "2")
    with pytest.raises(InvalidInput, match="equally long"):
        predictions_from_arrays([1, 0], [1])
    with pytest.raises(InvalidInput, match="pass positive_label"):
        predictions_from_arrays(["x", "y"], ["x", "x"])


def test_nan_label_in_parquet(tmp_path: Path) -> None:
    p = tmp_path / "f.parquet"
    pq.write_table(pa.table({"y": [1.0, float("nan")], "y_hat": [1.0, 0.0]}), p)
    with pytest.raises(InvalidInput, match=r"f.parquet: column 'y' is NaN in row 2$"):
        load_predictions(p)
