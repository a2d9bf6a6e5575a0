"""Make the credit-scoring example: synthetic applicants, a biased model's and a mitigated model's predictions.

Writes predictions_biased.csv and predictions_mitigated.csv (id, y, y_hat, p, gender, age_band) and
model.safetensors (the scoring model's coefficients) into --out (default: this directory). Seeded: the same
numpy version produces the same files. Needs only numpy.

    python examples/credit-scoring/make_data.py [--out DIR] [--rows 5000] [--seed 20240611]
"""

from __future__ import annotations

import argparse
import csv
import json
import struct
from pathlib import Path

import numpy as np

AGE_BANDS = ("18-29", "30-44", "45-59", "60+")
FEATURES = ("income_k", "debt_ratio", "history_years", "late_payments")


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def make_applicants(rows: int, seed: int) -> dict[str, np.ndarray]:
    """Applicants whose true repayment does not depend on gender; y = 1 means the loan was repaid."""
    rng = np.random.default_rng(seed)
    gender = rng.choice(np.array(["F", "M"]), size=rows, p=[0.48, 0.52])
    age_band = rng.choice(np.array(AGE_BANDS), size=rows, p=[0.2, 0.35, 0.3, 0.15])
    income_k = rng.lognormal(mean=3.9, sigma=0.45, size=rows)  # thousands per year, median ~ 49k
    debt_ratio = np.clip(rng.beta(2.0, 5.0, size=rows), 0.0, 1.0)
    history_years = rng.gamma(shape=4.0, scale=2.5, size=rows)
    late_payments = rng.poisson(lam=0.8, size=rows)
    x = np.column_stack([np.log(income_k) - 3.9, debt_ratio - 0.28, (history_years - 10.0) / 5.0, late_payments - 0.8])
    true_coef = np.array([1.6, -4.0, 0.6, -0.9])
    repay_prob = sigmoid(0.7 + x @ true_coef)
    y = (rng.random(rows) < repay_prob).astype(int)
    return {"gender": gender, "age_band": age_band, "x": x, "y": y}


def score(applicants: dict[str, np.ndarray], coef: np.ndarray, intercept: float, gender_penalty: float) -> np.ndarray:
    """The deployed model: a logistic score that learned a penalty for women from historically biased decisions."""
    logit = intercept + applicants["x"] @ coef - gender_penalty * (applicants["gender"] == "F")
    return sigmoid(logit)


def group_thresholds(p: np.ndarray, groups: np.ndarray, target_rate: float) -> dict[str, float]:
    """Per-group score thresholds that approve the same share (target_rate) of every group."""
    return {str(g): float(np.quantile(p[groups == g], 1.0 - target_rate)) for g in np.unique(groups)}


def write_predictions(path: Path, applicants: dict[str, np.ndarray], y_hat: np.ndarray, p: np.ndarray) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["id", "y", "y_hat", "p", "gender", "age_band"])
        for i in range(len(p)):
            w.writerow(
                [
                    i + 1,
                    int(applicants["y"][i]),
                    int(y_hat[i]),
                    f"{p[i]:.4f}",
                    applicants["gender"][i],
                    applicants["age_band"][i],
                ]
            )


def write_safetensors(path: Path, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """safetensors layout: u64 little-endian header length, JSON header (space-padded to 8 bytes), raw data."""
    header: dict[str, object] = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, arr in tensors.items():
        raw = np.ascontiguousarray(arr, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), sort_keys=True).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=20240611)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    applicants = make_applicants(args.rows, args.seed)
    coef = np.array([1.5, -3.8, 0.55, -0.85], dtype=np.float32)  # fitted on the biased history
    intercept, gender_penalty = 0.65, 0.75
    p = score(applicants, coef, intercept, gender_penalty)
    biased = (p >= 0.5).astype(int)

    # Mitigation: keep the model, choose one threshold per gender so both are approved at the same rate.
    # Thresholds are fitted on a separate validation draw, never on the evaluation rows written below.
    validation = make_applicants(args.rows, args.seed + 1)
    p_val = score(validation, coef, intercept, gender_penalty)
    thresholds = group_thresholds(p_val, validation["gender"], float((p_val >= 0.5).mean()))
    cut = np.array([thresholds[g] for g in applicants["gender"]])
    mitigated = (p >= cut).astype(int)

    write_predictions(args.out / "predictions_biased.csv", applicants, biased, p)
    write_predictions(args.out / "predictions_mitigated.csv", applicants, mitigated, p)
    write_safetensors(
        args.out / "model.safetensors",
        {"weight": coef.reshape(1, -1), "bias": np.array([intercept], dtype=np.float32)},
        {"model": "credit-scoring-logit", "version": "1.0.0", "features": ",".join(FEATURES)},
    )
    rounded = {g: round(t, 4) for g, t in thresholds.items()}
    print(f"wrote {args.rows} rows to {args.out}; mitigation thresholds per gender: {rounded}")


if __name__ == "__main__":
    main()
