"""GenAI evidence from the tools teams already run: garak, Inspect AI, promptfoo, lm-eval.

Each adapter reads its tool's native output (streamed where the format allows, size-limited) into a `ToolReport`;
`genai_evidence` pools the reports into the `genai` evidence section the GenAI baseline reads. See docs/genai.md.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from charter.evaluation.genai.garak import read_garak
from charter.evaluation.genai.inspect import read_inspect
from charter.evaluation.genai.lm_eval import read_lm_eval
from charter.evaluation.genai.normalize import (
    DEFAULT_MAX_BYTES,
    TOOLS,
    GenaiInputError,
    Item,
    Source,
    ToolReport,
    families,
    genai_evidence,
    not_evaluated,
)
from charter.evaluation.genai.promptfoo import read_promptfoo

READERS: dict[str, Callable[..., ToolReport]] = {
    "garak": read_garak,
    "inspect": read_inspect,
    "promptfoo": read_promptfoo,
    "lm_eval": read_lm_eval,
}


def read_report(tool: str, path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> ToolReport:
    """Read one tool's output; GenaiInputError names the file and the line or field at fault."""
    if tool not in READERS:
        raise ValueError(f"unknown GenAI tool '{tool}'; known: {', '.join(TOOLS)}")
    report: ToolReport = READERS[tool](path, max_bytes=max_bytes)
    return report


__all__ = [
    "DEFAULT_MAX_BYTES",
    "READERS",
    "TOOLS",
    "GenaiInputError",
    "Item",
    "Source",
    "ToolReport",
    "collect",
    "families",
    "genai_evidence",
    "not_evaluated",
    "read_garak",
    "read_inspect",
    "read_lm_eval",
    "read_promptfoo",
    "read_report",
]


def collect(
    given: dict[str, list[Path]], *, max_bytes: int = DEFAULT_MAX_BYTES
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Read every given report ({tool: [paths]}): the `genai` evidence section and the `inputs.genai` entries."""
    reports = [read_report(tool, path, max_bytes=max_bytes) for tool in TOOLS for path in given.get(tool, [])]
    inputs = [
        {
            "tool": r.tool,
            "name": r.source.file,
            "sha256": "sha256:" + r.source.sha256,
            "size": r.source.size,
            "version": r.version,
            "model": r.model,
        }
        for r in reports
    ]
    return genai_evidence(reports), inputs
