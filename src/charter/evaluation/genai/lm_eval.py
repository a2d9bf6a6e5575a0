"""lm-eval (EleutherAI lm-evaluation-harness) results JSON, `results_<date>.json` from `lm_eval --output_path`:

  {"results": {TASK: {"alias": ..., "acc,none": 0.71, "acc_stderr,none": 0.01, ...}},
   "groups": {...}, "group_subtasks": {GROUP: [TASK, ...]}, "configs": {...}, "versions": {TASK: 1.0},
   "n-shot": {...}, "higher_is_better": {TASK: {"acc": true}}, "n-samples": {TASK: {"original": N, "effective": n}},
   "config": {"model": "hf", "model_args": "pretrained=...", ...}, "model_name": ..., "lm_eval_version": "0.4.13", ...}

Metric keys are `METRIC,FILTER`. A task's accuracy is its first of acc, acc_norm, exact_match, f1, mc2, then any
higher-is-better metric in [0, 1]; attempts are the samples evaluated (`n-samples.TASK.effective`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from charter.evaluation.genai.normalize import (
    DEFAULT_MAX_BYTES,
    GenaiInputError,
    HashingReader,
    Item,
    ToolReport,
    load_json,
    need,
    obj,
)

TOOL = "lm_eval"
EXPECTED = "an lm-eval results JSON (results_*.json from lm_eval --output_path)"
PREFERRED = ("acc", "acc_norm", "exact_match", "f1", "mc2", "mc1", "bleu", "rouge1")


def read_lm_eval(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ToolReport:
    with HashingReader(path, max_bytes) as reader:
        doc = load_json(reader, EXPECTED)
        source = reader.source()
    name = reader.name
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict) or "versions" not in doc:
        raise GenaiInputError(name, f"has no 'results' and 'versions' objects: not {EXPECTED}", where="results")
    results: dict[str, Any] = doc["results"]
    if not results:
        raise GenaiInputError(name, "lists no task", where="results")
    samples = obj(doc.get("n-samples"))
    higher = obj(doc.get("higher_is_better"))
    families = _families(doc.get("group_subtasks"))
    items = []
    for task, metrics in sorted(results.items()):
        where = f"results.{task}"
        need(metrics, dict, name, where, "an object of METRIC,FILTER values")
        accuracy = _headline(metrics, obj(higher.get(task)))
        if accuracy is None:
            raise GenaiInputError(name, "has no accuracy-like metric (acc, exact_match, ...) in [0, 1]", where=where)
        n = _samples(samples.get(task), name, f"n-samples.{task}")
        failures = round((1.0 - accuracy) * n)
        items.append(
            Item(
                name=task, category="task", family=families.get(task, task), attempts=n, failures=failures,
                accuracy=accuracy,
            )
        )  # fmt: skip
    return ToolReport(tool=TOOL, version=_version(doc), model=_model(doc), source=source, items=tuple(items))


def _headline(metrics: dict[str, Any], higher: dict[str, Any]) -> float | None:
    values: dict[str, float] = {}
    for key, value in metrics.items():
        metric, sep, _filter = key.partition(",")
        if not sep or metric.endswith("_stderr") or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value) and 0.0 <= value <= 1.0 and metric not in values:
            values[metric] = float(value)
    for metric in PREFERRED:
        if metric in values:
            return values[metric]
    for metric, better in higher.items():
        if better is True and metric in values:
            return values[metric]
    return None


def _samples(value: Any, file: str, where: str) -> int:
    if value is None:
        return 0  # groups carry no sample count
    need(value, dict, file, where, "an object with original/effective counts")
    n = value.get("effective", value.get("original"))
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise GenaiInputError(file, f"must be a non-negative integer, got {n!r}", where=f"{where}.effective")
    return n


def _families(groups: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(groups, dict):
        for group, tasks in groups.items():
            for task in tasks if isinstance(tasks, list) else []:
                if isinstance(task, str):
                    out.setdefault(task, str(group))
    return out


def _version(doc: dict[str, Any]) -> str | None:
    value = doc.get("lm_eval_version")
    return value if isinstance(value, str) else None


def _model(doc: dict[str, Any]) -> str | None:
    name = doc.get("model_name")
    if isinstance(name, str) and name:
        return name
    config = doc.get("config")
    if isinstance(config, dict):
        args = config.get("model_args")
        if isinstance(args, str):
            for part in args.split(","):
                key, _, value = part.partition("=")
                if key.strip() in ("pretrained", "model", "model_name") and value:
                    return value.strip()
        model = config.get("model")
        return model if isinstance(model, str) else None
    return None
