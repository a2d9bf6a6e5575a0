"""GenAI evidence from the tools teams already run: garak, Inspect AI, promptfoo, lm-eval.

Each adapter reads its tool's native output (streamed where the format allows, size-limited) into a `ToolReport`;
`genai_evidence` pools the reports into the `genai` evidence section the GenAI baseline reads. See docs/genai.md.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
    "genai_evidence",
    "not_evaluated",
    "read_garak",
    "read_inspect",
    "read_lm_eval",
    "read_promptfoo",
    "read_report",
]
