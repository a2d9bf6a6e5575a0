"""A bad `CHARTER_*` setting is a clear error naming the variable, with exit code 2 — never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [("CHARTER_MONITOR_WINDOW_S", "abc", "number"), ("CHARTER_PORT", "0", "greater than or equal to 1")],
)
def test_an_invalid_setting_names_its_variable(tmp_path: Path, name: str, value: str, says: str) -> None:
    env = {"CHARTER_HOME": str(tmp_path / "home"), name: value, "PATH": "/usr/bin:/bin"}
    run = subprocess.run(
        [sys.executable, "-m", "charter", "init"], env=env, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert run.returncode == 2, run.stderr
    assert "Traceback" not in run.stderr
    assert name in run.stderr and says in run.stderr and "charter.toml" in run.stderr
    assert not (tmp_path / "home").exists()  # nothing half-done
    as_json = subprocess.run(
        [sys.executable, "-m", "charter", "--json", "init"], env=env, capture_output=True, text=True, timeout=60
    )
    assert as_json.returncode == 2
    assert json.loads(as_json.stdout)["code"] == "invalid_setting"
