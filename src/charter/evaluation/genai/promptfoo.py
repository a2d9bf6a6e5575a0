"""promptfoo results JSON (`promptfoo eval -o results.json`, `promptfoo redteam run`):

  {"evalId": ..., "results": {"version": 3, "prompts": [...], "stats": {"successes", "failures", "errors"},
     "results": [{"success": bool, "failureReason": 0|1|2, "provider": {"id": ...}, "error": ...,
                  "testCase": {"description": ..., "metadata": {"pluginId": "harmful:hate", "strategyId": ...}}}]},
   "config": {"description": ...}, "metadata": {"promptfooVersion": "0.123.x", ...}}

Red-team results (a `pluginId`) are grouped per plugin and strategy and categorised (`PLUGINS`); a test case passes when
the target resisted. Results without a plugin are an ordinary eval: one task named by the config's description, its
accuracy the share of test cases that passed. Results that errored (failureReason 2: the provider failed) are not
counted as attempts.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from charter.evaluation.genai.normalize import (
    DEFAULT_MAX_BYTES,
    Category,
    GenaiInputError,
    HashingReader,
    Item,
    ToolReport,
    load_json,
    need,
    obj,
)

TOOL = "promptfoo"
EXPECTED = "a promptfoo results JSON (promptfoo eval -o results.json)"
ERROR = 2  # promptfoo ResultFailureReason.ERROR
TOXIC = ("harmful:hate", "harmful:harassment-bullying", "harmful:insults", "harmful:profanity",
         "harmful:graphic-content", "harmful:sexual-content", "harmful:radicalization")  # fmt: skip
LEAKS = ("pii", "prompt-extraction", "cross-session-leak", "harmful:privacy", "system-prompt-override", "data-exfil")
NO_STRATEGY = (None, "", "basic")


def plugin_category(plugin: str, strategy: str | None) -> Category:
    if plugin.startswith(LEAKS):
        return "leakage"
    if plugin in TOXIC:
        return "toxicity"
    if strategy not in NO_STRATEGY:
        return "attack"  # a jailbreak / injection / encoding strategy wrapped around the plugin's request
    if plugin.startswith("harmful:"):
        return "refusal"  # a plain harmful request: passing means it was refused
    return "attack"


def read_promptfoo(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ToolReport:
    with HashingReader(path, max_bytes) as reader:
        doc = load_json(reader, EXPECTED)
        source = reader.source()
    name = reader.name
    body = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise GenaiInputError(name, f"has no results.results list: not {EXPECTED}", where="results.results")
    rows: list[Any] = body["results"]
    config = obj(doc.get("config"))
    eval_name = _slug(config.get("description")) or "eval"
    counts: dict[tuple[str, Category, str], list[int]] = {}
    providers: list[str] = []
    for i, row in enumerate(rows):
        where = f"results.results[{i}]"
        need(row, dict, name, where, "an object (one test result)")
        success = row.get("success")
        if not isinstance(success, bool):
            raise GenaiInputError(name, f"must be true or false, got {success!r}", where=f"{where}.success")
        provider = row.get("provider")
        pid = provider.get("id") if isinstance(provider, dict) else provider
        if isinstance(pid, str) and pid not in providers:
            providers.append(pid)
        if row.get("failureReason") == ERROR:
            continue
        test = obj(row.get("testCase"))
        meta = obj(test.get("metadata"))
        plugin = meta.get("pluginId")
        if isinstance(plugin, str) and plugin:
            strategy = meta.get("strategyId") if isinstance(meta.get("strategyId"), str) else None
            key_name = plugin if strategy in NO_STRATEGY else f"{plugin}/{strategy}"
            key = (key_name, plugin_category(plugin, strategy), plugin.split(":")[0])
        else:
            key = (eval_name, "task", eval_name)
        tally = counts.setdefault(key, [0, 0])
        tally[0] += 1
        tally[1] += 0 if success else 1
    if not counts:
        raise GenaiInputError(
            name, "has no test result that ran (every one errored or the list is empty)", where="results.results"
        )
    items = tuple(
        Item(name=n, category=c, family=f, attempts=a, failures=fails)
        for (n, c, f), (a, fails) in sorted(counts.items())
    )
    meta = obj(doc.get("metadata"))
    version = meta.get("promptfooVersion")
    return ToolReport(
        tool=TOOL,
        version=version if isinstance(version, str) else None,
        model=", ".join(providers) or None,
        source=source,
        items=items,
    )


def _slug(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", value.strip()).strip("-")[:80]
