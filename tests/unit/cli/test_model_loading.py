"""`charter evaluate --model FILE.pkl|.joblib` never unpickles a global outside the allowlist: the scan's unknown
globals block loading, and the unpickler itself refuses whatever the scan missed. The payloads here run code through
globals the scan does not know (`timeit.timeit` with an `import os` setup string); their marker file must never appear.
"""

from __future__ import annotations

import pickle
import time
import timeit
from pathlib import Path
from typing import Any

import joblib  # type: ignore[import-untyped]  # no py.typed, no stubs
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from charter.cli.commands.evaluation import run_model
from charter.cli.errors import CliError
from charter.evaluation import scan_path
from charter.evaluation.model_loading import UnsafeModel, load_pickled_model
from charter.evaluation.scan_result import ScanResult


class TimeitPayload:
    """Unpickling this runs `setup`, which imports os and writes the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, ...]:
        setup = f"import os; os.close(os.open({str(self.marker)!r}, os.O_CREAT | os.O_WRONLY))"
        return (timeit.timeit, ("pass", setup, time.perf_counter, 1))


CLEAN = ScanResult(performed=True, safe=True, formats=("pickle",), findings=())


def _data(tmp_path: Path) -> Path:
    data = tmp_path / "holdout.csv"
    data.write_text("f1,label\n1.0,1\n-1.0,0\n")
    return data


def test_timeit_payload_is_never_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(TimeitPayload(marker)))
    with pytest.raises(CliError) as caught:
        run_model(evil, scan_path(evil), _data(tmp_path), label="label", sensitive=[], features=[], positive_label=None)
    assert not marker.exists()
    assert caught.value.code == "model_unsafe"
    assert "timeit.timeit" in caught.value.message
    assert "ONNX" in caught.value.message and "safetensors" in caught.value.message


@pytest.mark.parametrize("dump", ["pickle", "joblib", "joblib-compressed"])
def test_unpickler_refuses_what_the_scan_missed(tmp_path: Path, dump: str) -> None:
    """Even when told the scan was clean, the restricted unpickler resolves no global off the allowlist."""
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.bin"
    payload = {"model": TimeitPayload(marker)}
    if dump == "pickle":
        evil.write_bytes(pickle.dumps(payload))
    else:
        joblib.dump(payload, evil, compress=3 if dump == "joblib-compressed" else 0)
    with pytest.raises(UnsafeModel) as caught:
        load_pickled_model(evil, CLEAN)
    assert not marker.exists()
    assert "timeit.timeit" in caught.value.message and "ONNX" in caught.value.message


def test_object_array_inside_joblib_is_restricted_too(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.joblib"
    arr = np.empty(1, dtype=object)
    arr[0] = TimeitPayload(marker)
    joblib.dump({"coef": arr}, evil)
    with pytest.raises(UnsafeModel):
        load_pickled_model(evil, CLEAN)
    assert not marker.exists()


@pytest.mark.parametrize("dump", ["pickle", "joblib", "joblib-compressed"])
def test_scikit_learn_model_still_loads(tmp_path: Path, dump: str) -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(200, 2))
    y = (x[:, 0] > 0).astype(int)
    model = LogisticRegression().fit(x, y)
    path = tmp_path / ("model.pkl" if dump == "pickle" else "model.joblib")
    if dump == "pickle":
        path.write_bytes(pickle.dumps(model))
    else:
        joblib.dump(model, path, compress=3 if dump == "joblib-compressed" else 0)
    scan = scan_path(path)
    loaded = load_pickled_model(path, scan)
    assert (loaded.predict(x) == model.predict(x)).all()


def test_unknown_global_blocks_even_as_a_warning(tmp_path: Path) -> None:
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps(TimeitPayload(tmp_path / "pwned")))
    scan = scan_path(evil)
    assert scan.safe  # the scan alone reports a warning, not a critical finding
    with pytest.raises(UnsafeModel):
        load_pickled_model(evil, scan)
    assert not (tmp_path / "pwned").exists()
