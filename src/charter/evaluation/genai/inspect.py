"""Inspect AI (UK AISI) evaluation logs: the `.eval` zip (its `header.json` member, the log without samples) or a
`.json` log. The fields read (inspect_ai.log.EvalLog, log format version 2):

  {"version": 2, "status": "success"|"error"|"cancelled"|"started",
   "eval": {"task": NAME, "model": "provider/model", "packages": {"inspect_ai": "0.3.285"}, "dataset": {...}},
   "results": {"total_samples": N, "completed_samples": n,
               "scores": [{"name": SCORER, "metrics": {"accuracy": {"value": 0.92}, "stderr": {...}}}]}}

One item per task: its accuracy (the first scorer's `accuracy`, else `mean`), attempts the completed samples.
A log whose status is not `success` is refused (the evaluation did not finish).
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

from charter.evaluation.genai.normalize import (
    DEFAULT_MAX_BYTES,
    GenaiInputError,
    HashingReader,
    Item,
    ToolReport,
    file_source,
    load_json,
    need,
    obj,
)

TOOL = "inspect"
EXPECTED = "an Inspect AI log (.eval or .json from inspect eval)"
HEADLINE = ("accuracy", "mean")
MAX_HEADER_BYTES = 64 << 20


def read_inspect(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ToolReport:
    if _is_zip(path):
        source = file_source(path, max_bytes)
        doc = _zip_header(path)
        where = "header.json: "
    else:
        with HashingReader(path, max_bytes) as reader:
            doc = load_json(reader, EXPECTED)
            source = reader.source()
        where = ""
    name = path.name
    if not isinstance(doc, dict) or not isinstance(doc.get("eval"), dict) or "version" not in doc:
        raise GenaiInputError(name, f"has no 'version' and 'eval' fields: not {EXPECTED}", where=f"{where}eval")
    status = doc.get("status")
    if status != "success":
        raise GenaiInputError(
            name, f"the evaluation did not finish (status {status!r}); give the log of a successful run",
            where=f"{where}status",
        )  # fmt: skip
    spec: dict[str, Any] = doc["eval"]
    task = need(spec.get("task"), str, name, f"{where}eval.task", "the task name")
    results = need(doc.get("results"), dict, name, f"{where}results", "an object (the run's results)")
    completed = results.get("completed_samples")
    if isinstance(completed, bool) or not isinstance(completed, int) or completed < 0:
        raise GenaiInputError(
            name, f"must be a non-negative integer, got {completed!r}", where=f"{where}results.completed_samples"
        )
    scores = need(results.get("scores"), list, name, f"{where}results.scores", "a list of scorer results")
    accuracy = _headline(scores, name, f"{where}results.scores")
    item = Item(
        name=task, category="task", family=task.split("/")[-1].split("_")[0], attempts=completed,
        failures=round((1.0 - accuracy) * completed), accuracy=accuracy,
    )  # fmt: skip
    packages = obj(spec.get("packages"))
    version = packages.get("inspect_ai")
    model = spec.get("model")
    return ToolReport(
        tool=TOOL,
        version=version if isinstance(version, str) else None,
        model=model if isinstance(model, str) else None,
        source=source,
        items=(item,),
    )


def _is_zip(path: Path) -> bool:
    """A zip by its first bytes (a truncated .eval has lost its central directory, so is_zipfile says no)."""
    try:
        with path.open("rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return False  # the reader reports a missing file with its name


def _zip_header(path: Path) -> Any:
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo("header.json")
            except KeyError:
                raise GenaiInputError(path.name, f"is a zip without header.json: not {EXPECTED}") from None
            if info.file_size > MAX_HEADER_BYTES:
                raise GenaiInputError(path.name, f"header.json is {info.file_size} bytes, over {MAX_HEADER_BYTES}")
            data = archive.read(info)
    except (zipfile.BadZipFile, EOFError, OSError) as exc:
        raise GenaiInputError(path.name, f"is a damaged or truncated zip ({exc}); expected {EXPECTED}") from None
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GenaiInputError(path.name, f"header.json is not valid JSON ({exc})") from None


def _headline(scores: list[Any], file: str, where: str) -> float:
    for i, score in enumerate(scores):
        metrics = score.get("metrics") if isinstance(score, dict) else None
        if not isinstance(metrics, dict):
            raise GenaiInputError(file, "must be an object of metrics", where=f"{where}[{i}].metrics")
        for name in HEADLINE:
            metric = metrics.get(name)
            value = metric.get("value") if isinstance(metric, dict) else None
            if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
                if not 0.0 <= value <= 1.0:
                    raise GenaiInputError(file, f"must be in [0, 1], got {value}", where=f"{where}[{i}].metrics.{name}")
                return float(value)
    raise GenaiInputError(file, "no scorer reports an accuracy or mean metric", where=where)
