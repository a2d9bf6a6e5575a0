"""The common form of every GenAI tool's results, and the `genai` evidence section built from them.

Each adapter (garak, inspect, promptfoo, lm_eval) reads its tool's native output into a `ToolReport`: the tool and its
version, the target model, the input file's sha256, and one `Item` per probe or task with counts. `genai_evidence`
pools the reports into the evidence section the GenAI baseline reads:

  genai: {evaluated, red_teamed, attack_success_rate, toxicity_rate, leakage_rate, refusal_rate,
          task_accuracy: {TASK: rate}, garak|inspect|promptfoo|lm_eval: {PROBE_OR_TASK: {attempts, failures, rate,
          category, family}}, sources: [{tool, version, model, file, sha256, size}]}

A rate is failures / attempts: for attack, toxicity and leakage items a failure is a successful attack, a toxic output
or a leak; for refusal items it is a harmful request that was answered; for task items a wrong answer. The summaries
pool every item of their category over all reports (total failures / total attempts); `refusal_rate` is the share of
harmful requests refused (1 - failure rate).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Literal

Category = Literal["attack", "toxicity", "leakage", "refusal", "task", "other"]
CATEGORIES: tuple[Category, ...] = ("attack", "toxicity", "leakage", "refusal", "task", "other")
TOOLS = ("garak", "inspect", "promptfoo", "lm_eval")
DEFAULT_MAX_BYTES = 256 << 20
"""Largest tool output read (CLI: --genai-max-bytes, env CHARTER_GENAI_MAX_BYTES)."""
CHUNK = 1 << 20


class GenaiInputError(ValueError):
    """A tool output that cannot be read: names the file and where (line or field) it went wrong."""

    def __init__(self, file: str, message: str, *, where: str | None = None) -> None:
        self.file = file
        self.where = where
        self.detail = message
        super().__init__(f"{file}{': ' + where if where else ''}: {message}")


@dataclass(frozen=True)
class Item:
    """One probe (red-teaming) or task (benchmark) of a report."""

    name: str
    category: Category
    family: str
    attempts: int
    failures: int
    accuracy: float | None = None  # a task's own headline metric when it is not failures / attempts

    @property
    def rate(self) -> float | None:
        return self.failures / self.attempts if self.attempts else None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "attempts": self.attempts,
            "failures": self.failures,
            "rate": self.rate,
            "category": self.category,
            "family": self.family,
        }
        if self.category == "task":
            out["accuracy"] = self.task_accuracy()
        return out

    def task_accuracy(self) -> float | None:
        if self.accuracy is not None:
            return self.accuracy
        rate = self.rate
        return None if rate is None else 1.0 - rate


@dataclass(frozen=True)
class Source:
    """The input file a report was read from."""

    file: str
    sha256: str
    size: int


@dataclass(frozen=True)
class ToolReport:
    tool: str
    version: str | None
    model: str | None
    source: Source
    items: tuple[Item, ...] = field(default_factory=tuple)

    def source_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "version": self.version,
            "model": self.model,
            "file": self.source.file,
            "sha256": "sha256:" + self.source.sha256,
            "size": self.source.size,
            "items": len(self.items),
        }


# ---- reading input safely ----------------------------------------------------------------------------------------


class HashingReader:
    """Reads a file once: hashes and counts every byte read, and stops at `max_bytes` with a clear error."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.name = path.name
        self.max_bytes = max_bytes
        self.size = 0
        self._hash = hashlib.sha256()
        self._fh: BinaryIO | None = None

    def __enter__(self) -> HashingReader:
        try:
            size = self.path.stat().st_size
            if not self.path.is_file():
                raise GenaiInputError(self.name, "not a file")
        except FileNotFoundError:
            raise GenaiInputError(str(self.path), "no such file") from None
        if size > self.max_bytes:
            raise GenaiInputError(
                self.name, f"is {size} bytes, over the {self.max_bytes}-byte limit (--genai-max-bytes)"
            )
        self._fh = self.path.open("rb")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.close()

    def read(self, n: int = -1) -> bytes:
        assert self._fh is not None
        data = self._fh.read(n)
        self.size += len(data)
        if self.size > self.max_bytes:
            raise GenaiInputError(self.name, f"grew past the {self.max_bytes}-byte limit while being read")
        self._hash.update(data)
        return data

    def lines(self) -> Iterator[tuple[int, bytes, bool]]:
        """(line number, raw line, ended by a newline) streamed in chunks; only the last line may lack its newline."""
        pending = b""
        number = 0
        while chunk := self.read(CHUNK):
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for raw in complete:
                number += 1
                yield number, raw, True
        if pending:
            yield number + 1, pending, False

    def read_all(self) -> bytes:
        parts = []
        while chunk := self.read(CHUNK):
            parts.append(chunk)
        return b"".join(parts)

    def drain(self) -> None:
        while self.read(CHUNK):
            pass

    def source(self) -> Source:
        return Source(file=self.name, sha256=self._hash.hexdigest(), size=self.size)


def file_source(path: Path, max_bytes: int) -> Source:
    """Digest of a file read to the end (for formats parsed from a random-access file, e.g. a zip)."""
    with HashingReader(path, max_bytes) as reader:
        reader.drain()
        return reader.source()


def load_json(reader: HashingReader, expected: str) -> Any:
    """A whole-document JSON file; a truncated or non-JSON file is an error naming the line and column."""
    import json

    data = reader.read_all()
    try:
        return json.loads(data)
    except UnicodeDecodeError:
        raise GenaiInputError(reader.name, f"is not UTF-8 text; expected {expected}") from None
    except json.JSONDecodeError as exc:
        cut = " (the file is truncated)" if exc.pos >= len(data.rstrip()) else ""
        raise GenaiInputError(
            reader.name,
            f"is not valid JSON{cut}: {exc.msg}; expected {expected}",
            where=f"line {exc.lineno} column {exc.colno}",
        ) from None


def need(value: Any, kind: type | tuple[type, ...], file: str, where: str, what: str) -> Any:
    """`value` when it has the expected JSON type, else an error naming the field."""
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        value = None
    if not isinstance(value, kind):
        got = "missing" if value is None else f"a {type(value).__name__}"
        raise GenaiInputError(file, f"must be {what}, got {got}", where=where)
    return value


def count(value: Any, file: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise GenaiInputError(file, f"must be a non-negative integer, got {value!r}", where=where)
    return value


# ---- the evidence section ----------------------------------------------------------------------------------------


def _pooled(items: Iterable[Item]) -> float | None:
    attempts = failures = 0
    for item in items:
        attempts += item.attempts
        failures += item.failures
    return failures / attempts if attempts else None


def genai_evidence(reports: Iterable[ToolReport]) -> dict[str, Any]:
    """The `genai` evidence section from every report given (an empty list: `evaluated` false, rates null)."""
    reports = list(reports)
    items = [i for r in reports for i in r.items]
    by_category: dict[str, list[Item]] = {c: [] for c in CATEGORIES}
    for item in items:
        by_category[item.category].append(item)
    refusal_failures = _pooled(by_category["refusal"])
    per_tool: dict[str, dict[str, Any]] = {tool: {} for tool in TOOLS}
    accuracy: dict[str, float] = {}
    for report in reports:
        for item in report.items:
            per_tool[report.tool][item.name] = item.to_dict()
            if item.category == "task":
                value = item.task_accuracy()
                if value is not None:
                    accuracy[item.name] = value
    red_team = [r for r in reports if any(i.category in ("attack", "toxicity", "leakage", "refusal") for i in r.items)]
    return {
        "evaluated": bool(reports),
        "red_teamed": bool(red_team),
        "attack_success_rate": _pooled(by_category["attack"]),
        "toxicity_rate": _pooled(by_category["toxicity"]),
        "leakage_rate": _pooled(by_category["leakage"]),
        "refusal_rate": None if refusal_failures is None else 1.0 - refusal_failures,
        "task_accuracy": accuracy,
        **per_tool,
        "sources": [r.source_dict() for r in reports],
    }


def not_evaluated() -> dict[str, Any]:
    return genai_evidence([])


def obj(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one (for optional fields)."""
    return value if isinstance(value, dict) else {}


def families(section: Any) -> list[dict[str, Any]]:
    """Rows per tool and probe family (or task group) of a stored `genai` evidence section, for reports and pages:
    {tool, family, category, attempts, failures, rate, items: [names]}, worst rate first within each tool."""
    rows: dict[tuple[str, str, str], dict[str, Any]] = {}
    for tool in TOOLS:
        for name, item in obj(obj(section).get(tool)).items():
            item = obj(item)
            key = (tool, str(item.get("family") or name), str(item.get("category") or "other"))
            row = rows.setdefault(
                key, {"tool": tool, "family": key[1], "category": key[2], "attempts": 0, "failures": 0, "items": []}
            )
            row["attempts"] += item.get("attempts") or 0
            row["failures"] += item.get("failures") or 0
            row["items"].append(name)
    out = list(rows.values())
    for row in out:
        row["rate"] = row["failures"] / row["attempts"] if row["attempts"] else None
    order = {tool: i for i, tool in enumerate(TOOLS)}
    return sorted(out, key=lambda r: (order[r["tool"]], -(r["rate"] or 0.0), r["family"]))
