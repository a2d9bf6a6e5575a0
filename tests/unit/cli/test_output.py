"""Tables never cut ids or deciding values: a Rich table only when it fits the terminal whole, else plain aligned
text; without a terminal (CI logs, pipes) always plain text."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from charter.cli import output
from charter.cli.commands.licenses import license_name

LIC = "lic_01m98d8m41qs634hdx9h22ahmx"
REASON = "fairness_summary.dp_diff_max=0.3118, thresholds.dp_diff_max=0.1"


def _console(monkeypatch: pytest.MonkeyPatch, *, tty: bool, width: int = 80) -> io.StringIO:
    buf = io.StringIO()
    monkeypatch.setattr(output, "console", Console(file=buf, force_terminal=tty, width=width, color_system=None))
    return buf


def test_without_a_terminal_rows_are_plain_aligned_and_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = _console(monkeypatch, tty=False)
    rows = [["FAIL", "blocker", "ETH-DP-DIFF", "Demographic parity difference at most 0.1", REASON], ["pass"] * 5]
    output.grid(["verdict", "severity", "rule", "title", "reason"], rows)
    lines = buf.getvalue().splitlines()
    assert lines[0].split() == ["verdict", "severity", "rule", "title", "reason"]
    assert lines[1].endswith(REASON) and len(lines[1]) > 80  # not cut, not wrapped
    assert lines[1].index("ETH-DP-DIFF") == lines[0].index("rule")  # aligned
    assert not any(ch in buf.getvalue() for ch in "┃│━─")  # no decoration


def test_on_a_narrow_terminal_decoration_goes_not_the_id(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = _console(monkeypatch, tty=True, width=80)
    name = license_name({"model": "credit-scoring@2.0.0", "env": "production", "state": "active", "id": LIC})
    assert name == f"credit-scoring@2.0.0 · production · active · {LIC}"
    output.grid(["license", "purposes", "expires"], [[name, "credit-decisioning, partner-prescreening", "2027-06-05"]])
    assert name in buf.getvalue() and "…" not in buf.getvalue()


def test_a_table_that_fits_is_a_table(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = _console(monkeypatch, tty=True, width=120)
    output.grid(["name", "id"], [["risk", "team_01m98d8m41qs634hdx9h22ah"], ["x[gender]", "y"]])
    text = buf.getvalue()
    assert "team_01m98d8m41qs634hdx9h22ah" in text and "x[gender]" in text and "│" in text


def test_human_text_is_printed_as_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """A condition like `fairness.dp_diff[gender] < 0.1` is data: Rich must not read `[gender]` as a style tag."""
    buf = _console(monkeypatch, tty=False)
    line = "  lic_01m98g8as059584mhcq1gzfh70: fairness.dp_diff[gender] < 0.1 => suspend — no data " + "x" * 60
    output.emit({}, human=line)
    assert buf.getvalue() == line + "\n"


def test_an_in_process_cli_call_leaves_the_cli_state_as_it_found_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The gate's one FLAKY test: an in-process `--json` call (tests.support.server.cli_in_process) left
    `STATE.json` set in the xdist worker, so the next test's human text came out as JSON."""
    from charter.cli.context import STATE
    from tests.support.server import cli_in_process

    result = cli_in_process({"CHARTER_URL": "http://127.0.0.1:9"}, "--json", "whoami")
    assert result.returncode != 0
    assert STATE.json is False
    test_human_text_is_printed_as_given(monkeypatch)
