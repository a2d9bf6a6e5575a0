"""Evidence from a predictions file, computed by one function wherever it runs: on the client (`charter evaluate`),
on the server (`charter evaluate --upload`) and by an auditor (`charter assessment verify`), so that the three agree
figure for figure (the bootstrap is seeded)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charter.evaluation.evidence import build_evaluation_evidence, evaluate_predictions
from charter.evaluation.resampling import DEFAULT_RESAMPLES
from charter.evaluation.tabular import load_predictions

PREDICTION_SECTIONS = ("performance", "fairness", "fairness_summary")
MAX_DIFFERENCES = 50


@dataclass(frozen=True)
class ComputeOptions:
    """How to read a predictions file: the options stored with an evaluation."""

    label: str = "y"
    prediction: str = "y_hat"
    score: str | None = None
    sensitive: tuple[str, ...] = ()
    positive_label: str | None = None
    bootstrap_resamples: int = DEFAULT_RESAMPLES

    @classmethod
    def from_stored(cls, options: Mapping[str, Any]) -> ComputeOptions:
        """The options of a stored evaluation (keys absent there take the CLI's defaults)."""
        resamples = options.get("bootstrap_resamples")
        return cls(
            label=str(options.get("label") or "y"),
            prediction=str(options.get("prediction") or "y_hat"),
            score=options.get("score"),
            sensitive=tuple(options.get("sensitive") or ()),
            positive_label=options.get("positive_label"),
            bootstrap_resamples=DEFAULT_RESAMPLES if resamples is None else int(resamples),
        )

    def stored(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "label": self.label,
            "prediction": self.prediction,
            "score": self.score,
            "sensitive": list(self.sensitive),
            "positive_label": self.positive_label,
            "bootstrap_resamples": self.bootstrap_resamples,
            "source": "predictions",
        }
        return {k: v for k, v in out.items() if v is not None}


def json_safe(value: Any) -> Any:
    """As stored: JSON types only, non-finite floats as null (PostgreSQL JSONB and RFC 8785 reject them)."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def predictions_evidence(path: Path, options: ComputeOptions) -> tuple[dict[str, Any], int]:
    """The performance, fairness and fairness_summary sections of a predictions file, and its row count.

    Bad input raises InvalidInput naming the file and the column."""
    loaded = load_predictions(
        path,
        label=options.label,
        prediction=options.prediction,
        score=options.score,
        sensitive=list(options.sensitive),
        positive_label=options.positive_label,
    )
    evaluated = evaluate_predictions(loaded, resamples=options.bootstrap_resamples)
    evidence = build_evaluation_evidence(predictions=evaluated)
    sections = {k: evidence[k] for k in PREDICTION_SECTIONS}
    stored: dict[str, Any] = json.loads(json.dumps(json_safe(sections)))
    return stored, loaded.n


def differences(stored: Any, recomputed: Any, path: str = "") -> list[str]:
    """Every figure that differs between stored and recomputed evidence, as `path: stored X, recomputed Y`.

    Exact comparison: the same code on the same inputs gives the same figures, so a digit edited anywhere shows."""
    out: list[str] = []
    if isinstance(stored, Mapping) and isinstance(recomputed, Mapping):
        for key in sorted(set(stored) | set(recomputed), key=str):
            sub = f"{path}.{key}" if path else str(key)
            if key not in stored:
                out.append(f"{sub}: missing from the stored evidence, recomputed {_show(recomputed[key])}")
            elif key not in recomputed:
                out.append(f"{sub}: stored {_show(stored[key])}, not in the recomputed evidence")
            else:
                out.extend(differences(stored[key], recomputed[key], sub))
    elif isinstance(stored, list) and isinstance(recomputed, list) and len(stored) == len(recomputed):
        for i, (a, b) in enumerate(zip(stored, recomputed, strict=True)):
            out.extend(differences(a, b, f"{path}[{i}]"))
    elif not _same(stored, recomputed):
        out.append(f"{path}: stored {_show(stored)}, recomputed {_show(recomputed)}")
    return out[:MAX_DIFFERENCES]


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return bool(a == b)


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."
