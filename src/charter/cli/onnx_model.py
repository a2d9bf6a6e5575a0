"""`charter evaluate --model FILE.onnx`: an ONNX classifier's predictions with onnxruntime (the `ml` extra).

Inputs: one 2-D tensor fed with the feature columns in order (`--features`, default every column but the label and
the sensitive ones), or one input per feature, each named after its column (what skl2onnx makes of a DataFrame).
Outputs, read by type: an integer, boolean or string tensor holds the predicted labels; a float tensor of shape
[N, C] (or skl2onnx's ZipMap, a list of {class: probability}) holds class probabilities; a lone float tensor of shape
[N] or [N, 1] is the positive-class score, thresholded at 0.5 when no labels come with it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from charter.cli.errors import usage
from charter.core.errors import ErrorCode

_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(double)": np.float64,
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
}
_LABEL_TYPES = ("tensor(int64)", "tensor(int32)", "tensor(bool)", "tensor(string)")
_FLOAT_TYPES = ("tensor(float)", "tensor(double)")


def onnx_predict(
    model: Path, columns: dict[str, Any], features: list[str], positive_label: str | None
) -> tuple[Any, Any | None]:
    """(predicted labels, positive-class scores or None) of the model on `columns` (name → 1-D array)."""
    try:
        import onnxruntime as ort  # type: ignore[import-untyped,unused-ignore]
    except ImportError:
        raise usage(
            ErrorCode.ML_EXTRA_MISSING, "--model FILE.onnx needs onnxruntime: pip install 'charter[ml]'"
        ) from None
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: warnings about providers are not the user's business
    try:
        session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for a malformed graph
        raise usage(
            ErrorCode.MODEL_FAILED, f"model: {model.name} cannot be loaded by onnxruntime: {_first_line(exc)}"
        ) from None
    feed = _feed(model.name, session.get_inputs(), columns, features)
    try:
        values = session.run(None, feed)
    except Exception as exc:
        raise usage(ErrorCode.MODEL_FAILED, f"model: {model.name} failed to predict: {_first_line(exc)}") from None
    return _interpret(model.name, session.get_outputs(), values, positive_label)


def _feed(name: str, inputs: list[Any], columns: dict[str, Any], features: list[str]) -> dict[str, Any]:
    if len(inputs) == 1 and inputs[0].name not in columns:
        (only,) = inputs
        dtype = _dtype(name, only)
        shape = list(only.shape)
        if len(shape) != 2:
            raise usage(ErrorCode.UNSUPPORTED_MODEL_INPUT, f"model: {name}: input '{only.name}' has shape {shape}, "
                        "expected [batch, features]")  # fmt: skip
        if isinstance(shape[1], int) and shape[1] != len(features):
            raise usage(
                ErrorCode.FEATURE_COUNT_MISMATCH,
                f"model: {name} expects {shape[1]} features, --features/--data give {len(features)} "
                f"({', '.join(features)}); name the model's feature columns with --features",
            )
        return {only.name: np.column_stack([_numeric(columns, c, dtype) for c in features])}
    missing = [i.name for i in inputs if i.name not in columns]
    if missing:
        raise usage(
            ErrorCode.COLUMN_NOT_FOUND,
            f"model: {name} has inputs {', '.join(i.name for i in inputs)}; data has no column '{missing[0]}'",
        )
    feed = {}
    for i in inputs:
        array = _numeric(columns, i.name, _dtype(name, i))
        feed[i.name] = array.reshape(-1, 1) if len(i.shape) == 2 else array
    return feed


def _dtype(name: str, node: Any) -> Any:
    dtype = _DTYPES.get(node.type)
    if dtype is None:
        raise usage(ErrorCode.UNSUPPORTED_MODEL_INPUT, f"model: {name}: input '{node.name}' is {node.type}; "
                    f"supported: {', '.join(_DTYPES)}")  # fmt: skip
    return dtype


def _numeric(columns: dict[str, Any], column: str, dtype: Any) -> Any:
    try:
        return np.asarray(columns[column], dtype=np.float64).astype(dtype)
    except (TypeError, ValueError):
        raise usage(ErrorCode.INVALID_FEATURE, f"data: feature column '{column}' is not numeric") from None


def _interpret(name: str, outputs: list[Any], values: list[Any], positive_label: str | None) -> tuple[Any, Any]:
    labels = None
    proba = None
    classes: list[Any] | None = None
    lone_score = None
    for meta, value in zip(outputs, values, strict=True):
        if isinstance(value, list) and value and isinstance(value[0], dict):  # ZipMap: [{class: p}, ...]
            if proba is None:
                classes = list(value[0])
                proba = np.array([[row[c] for c in classes] for row in value], dtype=np.float64)
            continue
        array = np.asarray(value)
        if meta.type in _LABEL_TYPES and labels is None and (array.ndim == 1 or array.shape[1:] == (1,)):
            labels = array.reshape(-1)
        elif meta.type in _FLOAT_TYPES and array.ndim == 2 and array.shape[1] >= 2 and proba is None:
            proba = array.astype(np.float64)
        elif meta.type in _FLOAT_TYPES and (array.ndim == 1 or array.shape[1:] == (1,)) and lone_score is None:
            lone_score = array.reshape(-1).astype(np.float64)
    score = _positive(proba, classes, positive_label) if proba is not None else lone_score
    if labels is None:
        if proba is not None:
            index = proba.argmax(axis=1)
            labels = np.asarray(classes, dtype=object)[index] if classes is not None else index
        elif lone_score is not None:
            labels = (lone_score >= 0.5).astype(np.int64)
        else:
            kinds = ", ".join(f"{o.name}: {o.type}" for o in outputs)
            raise usage(
                ErrorCode.UNSUPPORTED_MODEL_OUTPUT, f"model: {name} has no label or probability output ({kinds})"
            )
    return labels, score


def _positive(proba: Any, classes: list[Any] | None, positive_label: str | None) -> Any | None:
    if classes is None:
        return proba[:, 1] if proba.shape[1] == 2 else None  # a tensor of two columns: classes 0 and 1
    wanted = {positive_label} if positive_label is not None else {"1", "True", "true", "1.0"}
    index = [i for i, c in enumerate(classes) if str(c) in wanted]
    return proba[:, index[0]] if len(index) == 1 else None


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
