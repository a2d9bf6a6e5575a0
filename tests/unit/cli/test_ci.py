"""`charter ci github|gitlab`: the printed pipelines validate against the CI systems' own schemas, and the Charter
commands inside them are accepted by this CLI exactly as written (they reach for the server: exit 5, not 2)."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from charter.cli.errors import EXIT_UNREACHABLE, EXIT_USAGE, CliError
from charter.cli.main import build_app
from tests.support.server import free_port

CHECK_JSONSCHEMA = Path(sys.executable).parent / "check-jsonschema"


def _print(*args: str) -> str:
    result = CliRunner().invoke(build_app(), ["ci", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _validate(text: str, schema: str, tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    exe = str(CHECK_JSONSCHEMA) if CHECK_JSONSCHEMA.exists() else shutil.which("check-jsonschema")
    assert exe, "check-jsonschema is a dev dependency (pyproject [dev])"
    out = subprocess.run([exe, "--builtin-schema", schema, str(path)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


def _runs(doc: Any) -> list[str]:
    """Every shell line of a workflow or pipeline document, wherever it sits."""
    found: list[str] = []
    if isinstance(doc, dict):
        for key, value in doc.items():
            if key == "run" and isinstance(value, str):
                found.append(value)
            elif key in ("script", "before_script") and isinstance(value, list):
                found.extend(v for v in value if isinstance(v, str))
            else:
                found.extend(_runs(value))
    elif isinstance(doc, list):
        for item in doc:
            found.extend(_runs(item))
    return found


def _charter_lines(doc: Any, model: str) -> list[list[str]]:
    lines = [shlex.split(run.replace('"$CHARTER_MODEL"', model)) for run in _runs(doc)]
    return [words[1:] for words in lines if words and words[0] == "charter"]


def _accepted_by_cli(words: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The command parses and validates its inputs, then fails only because no server listens."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "predictions.csv").write_text("y,y_hat,p,gender\n1,1,0.9,f\n0,0,0.2,m\n")
    monkeypatch.setenv("CHARTER_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("CHARTER_API_KEY", "chk_not_a_real_key")
    result = CliRunner().invoke(build_app(), words)
    err = result.exception
    assert isinstance(err, CliError), (words, result.exit_code, result.output, err)
    assert err.exit_code == EXIT_UNREACHABLE, (words, err.code, err.message)


@pytest.mark.parametrize("upload", ["--self-reported"])
def test_github_workflow_validates_and_its_commands_parse(
    upload: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = _print(
        "github",
        "credit-scoring@2.0.0",
        "--env",
        "production",
        "--sensitive",
        "gender",
        "--score",
        "p",
        upload,
        "--predict",
        "python predict.py --out predictions.csv",
    )
    assert text.startswith("# Charter:")
    _validate(text, "vendor.github-workflows", tmp_path, "charter.yml")
    doc = yaml.safe_load(text)
    assert doc["env"]["CHARTER_API_KEY"] == "${{ secrets.CHARTER_API_KEY }}"  # from the secret store, never inline
    assert doc["jobs"]["evaluate"]["permissions"]["security-events"] == "write"  # the SARIF upload needs it
    assert doc["jobs"]["license-gate"]["needs"] == "evaluate"
    steps = [s.get("run", "") for s in doc["jobs"]["evaluate"]["steps"]]
    assert steps.index("python predict.py --out predictions.csv") < next(
        i for i, run in enumerate(steps) if run.startswith("charter evaluate")
    )
    commands = _charter_lines(doc, "credit-scoring@2.0.0")
    assert [c[0] for c in commands] == ["evaluate", "check"]
    assert ["--format", "sarif"] == commands[0][commands[0].index("--format") :][:2]
    for words in commands:
        _accepted_by_cli(words, tmp_path, monkeypatch)


def test_gitlab_pipeline_validates_and_its_commands_parse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = _print(
        "gitlab", "credit-scoring@2.0.0", "--env", "staging", "--purpose", "credit decisioning", "--self-reported"
    )
    _validate(text, "vendor.gitlab-ci", tmp_path, ".gitlab-ci.yml")
    doc = yaml.safe_load(text)
    assert doc["charter-evaluate"]["artifacts"]["paths"] == ["charter.sarif"]
    assert doc["charter-evaluate"]["artifacts"]["when"] == "always"  # kept when the verdict fails the job
    assert doc["charter-license-gate"]["rules"] == [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}]
    commands = _charter_lines(doc, "credit-scoring@2.0.0")
    assert commands[1] == ["check", "credit-scoring@2.0.0", "--env", "staging", "--purpose", "credit decisioning"]
    for words in commands:
        _accepted_by_cli(words, tmp_path, monkeypatch)


def test_a_bad_model_reference_is_a_usage_error() -> None:
    result = CliRunner().invoke(build_app(), ["ci", "github", "credit-scoring"])
    assert isinstance(result.exception, CliError)
    assert result.exception.exit_code == EXIT_USAGE
    assert "SYSTEM@VERSION" in result.exception.message


def test_hostile_values_are_quoted_not_executed(tmp_path: Path) -> None:
    """A column or purpose with shell syntax stays one argument in the printed job."""
    text = _print("gitlab", "credit-scoring@2.0.0", "--label", "y; rm -rf /", "--purpose", "$(id)", "--self-reported")
    doc = yaml.safe_load(text)
    evaluate, check = _charter_lines(doc, "m@1")
    assert evaluate[evaluate.index("--label") + 1] == "y; rm -rf /"
    assert check[-1] == "$(id)"
    assert "'$(id)'" in text


def test_the_docs_commands_run_as_written(tmp_path: Path) -> None:
    """docs/ci.md: each `charter ci` command prints a pipeline that validates; the other commands exist."""
    root = Path(__file__).resolve().parents[3]
    text = (root / "docs" / "ci.md").read_text()
    lines = [
        line
        for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S)
        for line in block.replace("\\\n", " ").splitlines()
        if line.strip()
    ]
    ran = 0
    for line in lines:
        words = shlex.split(line)
        assert words[0] == "charter", line
        if ">" in words:
            words, target = words[: words.index(">")], words[words.index(">") + 1]
            schema = "vendor.gitlab-ci" if "gitlab" in target else "vendor.github-workflows"
            _validate(_print(*words[2:]), schema, tmp_path, Path(target).name)
            ran += 1
        else:
            path = [w for w in words[1:3] if re.fullmatch(r"[a-z][a-z-]*", w)]
            result = CliRunner().invoke(build_app(), [*path, "--help"])
            assert result.exit_code == 0, (line, result.output)
    assert ran == 2
