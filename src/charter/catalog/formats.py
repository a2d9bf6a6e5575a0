"""Model artifact format and framework detection from file names."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import PurePosixPath

# suffix → (format, framework or None when the format does not tell)
SUFFIXES: dict[str, tuple[str, str | None]] = {
    ".safetensors": ("safetensors", None),
    ".onnx": ("onnx", "onnx"),
    ".pkl": ("pickle", None),
    ".pickle": ("pickle", None),
    ".joblib": ("joblib", "scikit-learn"),
    ".pt": ("pt", "pytorch"),
    ".pth": ("pt", "pytorch"),
    ".bin": ("bin", None),
    ".ckpt": ("ckpt", None),
    ".gguf": ("gguf", "llama.cpp"),
    ".ggml": ("ggml", "llama.cpp"),
    ".h5": ("h5", "keras"),
    ".hdf5": ("h5", "keras"),
    ".keras": ("keras", "keras"),
    ".pb": ("savedmodel", "tensorflow"),
    ".tflite": ("tflite", "tensorflow-lite"),
    ".mlmodel": ("coreml", "coreml"),
    ".mlpackage": ("coreml", "coreml"),
    ".xgb": ("xgboost", "xgboost"),
    ".ubj": ("xgboost", "xgboost"),
    ".lgb": ("lightgbm", "lightgbm"),
    ".cbm": ("catboost", "catboost"),
    ".pmml": ("pmml", "pmml"),
    ".npz": ("npz", "numpy"),
    ".mar": ("torchserve", "pytorch"),
    ".nemo": ("nemo", "nemo"),
}
FORMATS = sorted({f for f, _ in SUFFIXES.values()})
# Known files that identify a framework inside a directory.
MARKERS: dict[str, str] = {
    "config.json": "transformers",
    "MLmodel": "mlflow",
    "saved_model.pb": "tensorflow",
    "pytorch_model.bin": "pytorch",
}


def detect(paths: Iterable[tuple[str, int]]) -> tuple[str | None, str | None]:
    """(format, framework) for files given as (relative path, size): the largest recognised weight file wins."""
    best: tuple[int, str, str | None] | None = None
    names: set[str] = set()
    for path, size in paths:
        p = PurePosixPath(path)
        names.add(p.name)
        suffix = p.suffix.lower()
        if suffix in SUFFIXES:
            fmt, framework = SUFFIXES[suffix]
            if best is None or size > best[0]:
                best = (size, fmt, framework)
    framework = best[2] if best else None
    for marker, name in MARKERS.items():
        if marker in names and (framework is None or name in ("transformers", "mlflow")):
            framework = name
            break
    if best is not None and best[1] == "bin" and framework == "transformers":
        return "pt", framework
    return (best[1] if best else None), framework
