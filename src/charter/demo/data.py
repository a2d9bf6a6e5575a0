"""Synthetic demo files: small safetensors artifacts and a credit-scoring predictions set (numpy only, seeded)."""

from __future__ import annotations

import csv
import json
import struct
from pathlib import Path

import numpy as np
import numpy.typing as npt

AGE_BANDS = ("18-29", "30-44", "45-59", "60+")
SEED = 20240611

FloatArray = npt.NDArray[np.float64]


def write_safetensors(path: Path, tensors: dict[str, list[float]], metadata: dict[str, str]) -> Path:
    """A real safetensors file (little-endian F32 tensors, JSON header); no executable content."""
    header: dict[str, object] = {"__metadata__": metadata}
    blobs: list[bytes] = []
    offset = 0
    for name, values in tensors.items():
        blob = np.asarray(values, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": [len(values)], "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))
    return path


def _sigmoid(x: FloatArray) -> FloatArray:
    out: FloatArray = 1.0 / (1.0 + np.exp(-x))
    return out


def credit_predictions(out: Path, rows: int = 2000, seed: int = SEED) -> tuple[Path, Path, dict[str, float]]:
    """Biased (one threshold) and mitigated (per-gender thresholds) predictions; returns both CSVs and thresholds.

    The score subtracts 0.75 from every woman's logit (bias learned from past decisions); true repayment never
    depends on gender. Per-gender thresholds, fitted on a separate draw, approve the same share of each gender.
    """
    rng = np.random.default_rng(seed)

    def applicants(n: int) -> tuple[npt.NDArray[np.str_], npt.NDArray[np.str_], FloatArray, npt.NDArray[np.int_]]:
        gender = rng.choice(np.array(["F", "M"]), size=n, p=[0.48, 0.52])
        age = rng.choice(np.array(AGE_BANDS), size=n, p=[0.2, 0.35, 0.3, 0.15])
        x = np.column_stack(
            [
                rng.normal(0.0, 0.45, n),
                np.clip(rng.beta(2.0, 5.0, n), 0.0, 1.0) - 0.28,
                (rng.gamma(4.0, 2.5, n) - 10.0) / 5.0,
                rng.poisson(0.8, n) - 0.8,
            ]
        )
        y = (rng.random(n) < _sigmoid(0.7 + x @ np.array([1.6, -4.0, 0.6, -0.9]))).astype(int)
        return gender, age, x, y

    coef = np.array([1.5, -3.6, 0.55, -0.85])

    def score(gender: npt.NDArray[np.str_], x: FloatArray) -> FloatArray:
        return _sigmoid(0.75 + x @ coef - 0.75 * (gender == "F"))

    vg, _, vx, _ = applicants(rows)
    vp = score(vg, vx)
    target = float(np.mean(vp >= 0.5))
    thresholds = {g: float(np.quantile(vp[vg == g], 1.0 - target)) for g in ("F", "M")}
    gender, age, x, y = applicants(rows)
    p = score(gender, x)
    biased = (p >= 0.5).astype(int)
    cut = np.where(gender == "F", thresholds["F"], thresholds["M"])
    mitigated = (p >= cut).astype(int)
    out.mkdir(parents=True, exist_ok=True)
    paths = (out / "predictions_biased.csv", out / "predictions_mitigated.csv")
    for path, y_hat in zip(paths, (biased, mitigated), strict=True):
        with path.open("w", newline="") as fh:
            w = csv.writer(fh, lineterminator="\n")
            w.writerow(["id", "y", "y_hat", "p", "gender", "age_band"])
            for i in range(rows):
                w.writerow([i + 1, int(y[i]), int(y_hat[i]), f"{p[i]:.4f}", gender[i], age[i]])
    return paths[0], paths[1], thresholds


def classifier_predictions(path: Path, rows: int, accuracy: float, seed: int) -> Path:
    """Binary predictions with roughly the given accuracy (no sensitive attributes)."""
    rng = np.random.default_rng(seed)
    p = rng.random(rows)
    y = (rng.random(rows) < p).astype(int)
    y_hat = np.where(rng.random(rows) < accuracy, y, 1 - y)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", "y", "y_hat", "p"])
        for i in range(rows):
            w.writerow([i + 1, int(y[i]), int(y_hat[i]), f"{p[i]:.4f}"])
    return path


def table_file(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    """A small CSV standing in for a dataset snapshot (its digest is what the catalog records)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path
