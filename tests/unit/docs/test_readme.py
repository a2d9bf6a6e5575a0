"""The README's commands exist: every `charter NOUN VERB` it shows is a real command, and every linked doc exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from charter.cli.main import build_app
from charter.settings import Settings

ROOT = Path(__file__).resolve().parents[3]
README = (ROOT / "README.md").read_text()


def _commands() -> list[list[str]]:
    found = []
    for block in re.findall(r"```sh\n(.*?)```", README, flags=re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            tokens = shlex.split(line, comments=True)
            commands: list[list[str]] = [[]]
            for token in tokens:
                if token in ("&&", ">", "|"):
                    commands.append([])
                else:
                    commands[-1].append(token)
            for words in commands:
                if words and words[0].endswith("charter"):
                    found.append([w for w in words[1:3] if not w.startswith("-")])
    return found


def test_readme_shows_both_commands() -> None:
    assert "make run" in README and "make test" in README


@pytest.mark.parametrize("words", _commands(), ids=lambda w: " ".join(w))
def test_readme_command_exists(words: list[str]) -> None:
    app = build_app()
    runner = CliRunner()
    path = [w for w in words if re.fullmatch(r"[a-z][a-z-]*", w)]
    result = runner.invoke(app, [*path, "--help"])
    assert result.exit_code == 0, (path, result.output)
    assert "Usage" in result.output


def test_readme_links_exist() -> None:
    for link in re.findall(r"\]\(([^)#]+)\)", README):
        if link.startswith("http"):
            continue
        assert (ROOT / link).exists(), link


def test_every_setting_is_documented_in_operations() -> None:
    """A knob nobody can find is a knob nobody sets: docs/operations.md names every `CHARTER_*` setting."""
    text = (ROOT / "docs" / "operations.md").read_text()
    missing = [n for n in Settings.model_fields if f"CHARTER_{n.upper()}" not in text]
    assert not missing, f"add these to the settings table of docs/operations.md: {missing}"
