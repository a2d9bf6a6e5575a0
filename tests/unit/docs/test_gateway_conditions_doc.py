"""The docs' `gateway.*` conditions are real: every example parses in both condition parsers and names a metric
monitoring computes, the genai.md table lists exactly those metrics and the reasons it excludes, and the example's
`charter license request` options exist."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

from charter.cli.main import build_app
from charter.licenses import conditions as license_conditions
from charter.monitoring import gateway_signals as gs
from charter.monitoring.conditions import parse_condition

DOCS = Path(__file__).resolve().parents[3] / "docs"
GENAI = (DOCS / "genai.md").read_text()


def _examples() -> list[str]:
    found = []
    for name in ("genai.md", "monitoring.md", "licenses.md"):
        text = (DOCS / name).read_text()
        found += re.findall(r"--condition '(gateway\.[^']+)'", text)
        found += re.findall(r"`(gateway\.[a-z_]+ [<>=!]+ [0-9.]+ => [^`]+)`", text)
    return found


def test_every_gateway_condition_in_the_docs_parses_and_can_fire() -> None:
    examples = _examples()
    assert len(examples) >= 5, examples
    for text in examples:
        stored = license_conditions.validate([text])[0]
        assert stored["metric"] in gs.METRICS
        assert parse_condition(text).metric == stored["metric"]


def test_the_genai_table_lists_the_metrics_and_the_reasons_left_out() -> None:
    section = GENAI.split("## In production", 1)[1].split("\n## ", 1)[0]
    assert set(re.findall(r"^\| `(gateway\.[a-z_]+)` \|", section, re.M)) == set(gs.METRICS)
    for reason in (*gs.LICENSE_STATE_REASONS, *gs.TOOL_SCOPE_REASONS, *gs.NOT_REFUSALS):
        assert f"`{reason}`" in section, reason
    assert "CHARTER_MONITOR_GATEWAY_MIN_CALLS` (default 20)" in section and gs.DEFAULT_MIN_CALLS == 20


def test_the_license_request_example_uses_real_options() -> None:
    section = GENAI.split("## In production", 1)[1]
    block = re.search(r"```bash\n(charter license request .*?)```", section, re.S)
    assert block, "docs/genai.md lost its license request example"
    tokens = shlex.split(block.group(1).replace("\\\n", " "))
    options = {t for t in tokens if t.startswith("--")}
    result = CliRunner().invoke(build_app(), ["license", "request", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert options <= set(re.findall(r"--[a-z][a-z-]*", result.output)), options
