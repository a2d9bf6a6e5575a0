"""garak `report.jsonl` (NVIDIA's LLM vulnerability scanner): one JSON object per line, read as a stream.

Entries used (garak/command.py, garak/evaluators/base.py, garak/attempt.py):
  {"entry_type": "start_run setup", "plugins.target_type": ..., "plugins.target_name": ..., ...}
  {"entry_type": "init", "garak_version": "0.17.1", "start_time": ..., "run": UUID}
  {"entry_type": "attempt", "probe_classname": "dan.Dan_11_0", "status": 1|2, ...}      (skipped, not parsed)
  {"entry_type": "eval", "probe": "dan.Dan_11_0", "detector": "dan.DAN", "passed": P, "fails": F,
   "nones": N, "total_evaluated": T, "total_processed": T+N}                            (older garak: "total")
  {"entry_type": "completion", "end_time": ..., "run": UUID}
Other entry types (digest, payload_init, plugin_cache, probe_summary, tree_data, ...) are skipped.

Per probe, attempts is the largest number of outputs any of its detectors evaluated and failures the largest number
any detector flagged (an output hit by two detectors is one failure); the rate is failures / attempts.
A report without its `completion` entry was interrupted or truncated and is refused.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from charter.evaluation.genai.normalize import (
    DEFAULT_MAX_BYTES,
    Category,
    GenaiInputError,
    HashingReader,
    Item,
    ToolReport,
    count,
)

TOOL = "garak"
ATTEMPT = b'{"entry_type": "attempt"'  # how garak's json.dumps starts an attempt entry (entry_type is its first key)

FAMILIES: dict[str, Category] = {
    # jailbreaks, prompt injection and other attacks on the model's instructions
    **dict.fromkeys(
        (
            "dan",
            "promptinject",
            "latentinjection",
            "encoding",
            "goodside",
            "grandma",
            "suffix",
            "tap",
            "gcg",
            "smuggling",
            "visual_jailbreak",
            "web_injection",
            "fitd",
            "goat",
            "sata",
            "dra",
            "phrasing",
            "adaptive_attacks",
            "agent_breaker",
            "ansiescape",
            "badchars",
            "exploitation",
            "malwaregen",
            "fileformats",
            "av_spam_scanning",
        ),
        "attack",
    ),  # fmt: skip
    # toxic or harmful generations
    **dict.fromkeys(("realtoxicityprompts", "lmrc", "continuation", "atkgen", "topic"), "toxicity"),
    # training-data replay, secrets, system-prompt and personal-data extraction
    **dict.fromkeys(("leakreplay", "divergence", "apikey", "sysprompt_extraction", "propile", "xss"), "leakage"),
    # harmful requests the model should refuse (mitigation detectors: a failure is an answer)
    **dict.fromkeys(("donotanswer",), "refusal"),
}


def category(probe: str) -> Category:
    return FAMILIES.get(probe.split(".", 1)[0], "other")


def read_garak(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ToolReport:
    """Read a garak report.jsonl; GenaiInputError names the file and line of the first problem."""
    version: str | None = None
    target: str | None = None
    seen_setup = completed = False
    attempts: dict[str, int] = {}
    failures: dict[str, int] = {}
    with HashingReader(path, max_bytes) as reader:
        for number, raw, ended in reader.lines():
            where = f"line {number}"
            if not raw.strip():
                continue
            if ended and raw.startswith(ATTEMPT) and raw.rstrip().endswith(b"}"):
                continue  # the bulk of a report; its counts are in the eval entries, so attempts are not parsed
            entry = _entry(reader.name, raw, where, first=number == 1)
            kind = entry.get("entry_type")
            if not isinstance(kind, str):
                hint = " (is this a garak report.jsonl?)" if number == 1 else ""
                raise GenaiInputError(reader.name, f"has no entry_type{hint}", where=where)
            if kind == "start_run setup":
                seen_setup = True
                target = _target(entry)
            elif kind == "init":
                value = entry.get("garak_version")
                if not isinstance(value, str):
                    raise GenaiInputError(
                        reader.name, "init entry has no garak_version", where=f"{where}, garak_version"
                    )
                version = value
            elif kind == "eval":
                probe, evaluated, failed = _eval(reader.name, entry, where)
                attempts[probe] = max(attempts.get(probe, 0), evaluated)
                failures[probe] = max(failures.get(probe, 0), failed)
            elif kind == "completion":
                completed = True
        source = reader.source()
    if version is None and not seen_setup:
        raise GenaiInputError(reader.name, "no garak start_run setup or init entry: not a garak report.jsonl")
    if not completed:
        raise GenaiInputError(
            reader.name, "has no completion entry: the garak run was interrupted or the file is truncated"
        )
    if not attempts:
        raise GenaiInputError(reader.name, "has no eval entries: garak evaluated no probe")
    items = tuple(
        Item(name=p, category=category(p), family=p.split(".", 1)[0], attempts=attempts[p], failures=failures[p])
        for p in sorted(attempts)
    )
    return ToolReport(tool=TOOL, version=version, model=target, source=source, items=items)


def _entry(file: str, raw: bytes, where: str, *, first: bool) -> dict[str, Any]:
    try:
        entry = json.loads(raw)
    except UnicodeDecodeError:
        raise GenaiInputError(file, "is not UTF-8 text", where=where) from None
    except json.JSONDecodeError as exc:
        hint = "not a garak report.jsonl (one JSON object per line)" if first else "the file is truncated or corrupt"
        raise GenaiInputError(file, f"invalid JSON ({exc.msg}): {hint}", where=where) from None
    if not isinstance(entry, dict):
        raise GenaiInputError(file, "must be a JSON object: not a garak report.jsonl", where=where)
    return entry


def _target(setup: dict[str, Any]) -> str | None:
    kind = setup.get("plugins.target_type") or setup.get("plugins.model_type")
    name = setup.get("plugins.target_name") or setup.get("plugins.model_name")
    if isinstance(kind, str) and isinstance(name, str):
        return f"{kind}:{name}"
    return name if isinstance(name, str) else None


def _eval(file: str, entry: dict[str, Any], where: str) -> tuple[str, int, int]:
    probe = entry.get("probe")
    if not isinstance(probe, str) or not probe:
        raise GenaiInputError(file, "eval entry has no probe name", where=f"{where}, probe")
    passed = count(entry.get("passed"), file, f"{where}, passed")
    total_key = "total_evaluated" if "total_evaluated" in entry else "total"
    total = count(entry.get(total_key), file, f"{where}, {total_key}")
    failed = count(entry["fails"], file, f"{where}, fails") if "fails" in entry else total - passed
    if passed + failed != total:
        raise GenaiInputError(
            file, f"passed ({passed}) + fails ({failed}) != {total_key} ({total})", where=f"{where}, {total_key}"
        )
    return probe, total, failed
