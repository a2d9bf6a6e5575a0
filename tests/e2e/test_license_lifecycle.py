"""The license lifecycle through a real `charter serve` and the CLI, with a real assessment from `charter evaluate`:
request → the requester's own approval refused → every reviewer approves → active → the token verifies offline with
only the JWKS → suspend → the status list says so and `charter check` exits 1 → reinstate → revoke (final)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from charter.settings import Settings
from tests.support.db import env_for
from tests.support.server import Server, cli, cli_in_process

pytestmark = pytest.mark.e2e
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "credit-scoring"
MODEL = "loan-approval@1.0.0"  # the system the example registers
REVIEWERS = ("ml-lead", "security", "legal", "ethics", "privacy")


@pytest.fixture
def served(settings: Settings, tmp_path: Path) -> Iterator[tuple[dict[str, str], Server]]:
    env = {**env_for(settings), "COLUMNS": "240"}
    init = cli(env, "init", "--json")
    assert init.returncode == 0, init.stderr
    key = json.loads(init.stdout)["key"]
    server = Server(env, log=tmp_path / "server.log").start()
    try:
        yield {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": key}, server
    finally:
        server.stop()


def _assessed_model(env: dict[str, str], tmp_path: Path) -> None:
    """The credit-scoring example's README commands: a high-risk system, its model, data, and a passing evaluation."""
    text = (EXAMPLE / "README.md").read_text().split("## Run it with the Charter CLI", 1)[1]
    block = re.search(r"```bash\n(.*?)```", text, re.S)
    assert block, "the example README lost its CLI block"
    work = tmp_path / "example"
    shutil.copytree(EXAMPLE, work, ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "out").mkdir()
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    r = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", block.group(1)],
        cwd=work,
        env={**os.environ, **env, "OUT": str(tmp_path / "out"), "PATH": path},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, (r.stdout[-2000:], r.stderr[-2000:])


def _ok(r: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    doc: dict[str, Any] = json.loads(r.stdout)
    return doc


@pytest.mark.timeout(1500)
def test_license_lifecycle_end_to_end(served: tuple[dict[str, str], Server], tmp_path: Path) -> None:
    env, server = served
    _assessed_model(env, tmp_path)
    keys: dict[str, str] = {}

    admin = httpx.Client(base_url=server.url + "/api/v1", headers={"Authorization": f"Bearer {env['CHARTER_API_KEY']}"})

    def user(name: str, *grants: tuple[str, str | None]) -> None:
        """Setup through the API (the CLI for these is tested elsewhere)."""
        assert admin.post("/users", json={"name": name}).status_code == 201
        for role, fn in grants:
            r = admin.post("/roles", json={"principal": name, "role": role, "function": fn})
            assert r.status_code == 201, r.text
        keys[name] = admin.post("/keys", json={"principal": name}).json()["key"]

    user("rita", ("ml-engineer", None), ("reviewer", "ml-lead"))
    user("sam", ("senior-engineer", None))
    for fn in REVIEWERS:
        user(f"rev-{fn}", ("reviewer", fn))
    assert admin.post("/apps", json={"name": "loan-portal"}).status_code == 201

    def as_(who: str, *args: str) -> subprocess.CompletedProcess[str]:
        """The CLI's main() in this process; the calls marked "a real process" below run `charter` itself."""
        return cli_in_process({**env, "CHARTER_API_KEY": keys[who]}, *args)

    lic = _ok(
        cli(  # a real process
            {**env, "CHARTER_API_KEY": keys["rita"]},
            "license",
            "request",
            MODEL,
            "--env",
            "production",
            "--purpose",
            "credit-decisioning",
            "--caller",
            "app:loan-portal",
            "--region",
            "eu",
            "--days",
            "180",
            "--condition",
            "drift.psi_max < 0.25 => suspend",
            "--condition",
            "fairness.dp_diff < 0.1 => revoke",
            "--json",
        )
    )
    lid = str(lic["id"])
    assert lic["state"] == "requested" and lic["required_signoffs"] == list(REVIEWERS)
    too_long = as_(
        "rita",
        "license",
        "request",
        MODEL,
        "--env",
        "staging",
        "--purpose",
        "p",
        "--caller",
        "app:loan-portal",
        "--days",
        "365",
    )
    assert too_long.returncode == 2 and "validity_too_long" in too_long.stderr

    own = as_("rita", "license", "approve", lid, "--as", "ml-lead", "--comment", "mine")
    assert own.returncode == 4 and own.stderr.startswith("error: signoff_by_requester:")
    for fn in REVIEWERS:
        st = _ok(as_(f"rev-{fn}", "license", "approve", lid, "--as", fn, "--comment", "reviewed", "--json"))
    assert st["state"] == "active", st
    again = as_("rev-legal", "license", "approve", lid, "--as", "legal")
    assert again.returncode == 1 and "license_not_awaiting_signoff" in again.stderr
    assert cli(env, "check", MODEL, "--env", "production", "--purpose", "credit-decisioning").returncode == 0  # real

    token = as_("rita", "license", "token", lid)
    assert token.returncode == 0
    (tmp_path / "lic.jwt").write_text(token.stdout)
    (tmp_path / "jwks.json").write_text(httpx.get(server.url + "/.well-known/jwks.json").text)
    offline = {**env, "CHARTER_URL": "http://127.0.0.1:1", "CHARTER_API_KEY": ""}
    v = _ok(  # a real process
        cli(offline, "license", "verify", str(tmp_path / "lic.jwt"), "--jwks", str(tmp_path / "jwks.json"), "--json")
    )  # by default the status list the token names is fetched (from the server, whatever CHARTER_URL says)
    assert v["valid"] is True and v["license"] == lid and v["status"] == "valid" and v["offline"] is False
    r = cli_in_process(
        offline, "license", "verify", str(tmp_path / "lic.jwt"), "--jwks", str(tmp_path / "jwks.json"), "--offline"
    )
    assert r.returncode == 0 and "status: unchecked (--offline: revocation and suspension not checked)" in r.stdout
    digest = str(_ok(cli_in_process(env, "model", "show", MODEL, "--json"))["digest"])
    r = cli_in_process(
        offline,
        "license",
        "verify",
        str(tmp_path / "lic.jwt"),
        "--jwks",
        str(tmp_path / "jwks.json"),
        "--digest",
        digest,
    )
    assert r.returncode == 0, r.stderr
    r = cli_in_process(
        offline,
        "license",
        "verify",
        str(tmp_path / "lic.jwt"),
        "--jwks",
        str(tmp_path / "jwks.json"),
        "--digest",
        "sha256:" + "0" * 64,
    )
    assert r.returncode == 1 and r.stderr.startswith("error: digest_mismatch:")

    status_url = server.url + "/.well-known/charter/status-list"
    state = tmp_path / "seen.json"

    def verify(*extra: str) -> subprocess.CompletedProcess[str]:
        return cli_in_process(
            offline,
            "license",
            "verify",
            str(tmp_path / "lic.jwt"),
            "--jwks",
            str(tmp_path / "jwks.json"),
            "--state-file",
            str(state),
            *extra,
        )

    assert verify("--status-url", status_url).returncode == 0

    r = as_("rita", "license", "suspend", lid, "--reason", "try")
    assert r.returncode == 4
    assert (
        _ok(as_("sam", "license", "suspend", lid, "--reason", "drift under investigation", "--json"))["state"]
        == "suspended"
    )
    (tmp_path / "suspended-list.jwt").write_text(httpx.get(status_url).text)
    r = verify("--status-url", status_url)
    assert r.returncode == 1 and r.stderr.startswith("error: suspended:")
    r = verify()  # no --status-url: the token's own status-list URI is checked, so a suspended license is refused
    assert r.returncode == 1 and r.stderr.startswith("error: suspended:"), (r.stdout, r.stderr)
    r = cli_in_process(env, "check", MODEL, "--env", "production")
    assert r.returncode == 1 and "suspended" in r.stdout and "drift under investigation" in r.stdout

    r = as_("sam", "license", "reinstate", lid, "--reason", "fixed")
    assert r.returncode == 1 and "license_requirements_unmet" in r.stderr and "legal" in r.stderr
    for fn in ("ml-lead", "legal"):
        assert as_(f"rev-{fn}", "license", "approve", lid, "--as", fn, "--comment", "drift explained").returncode == 0
    assert _ok(as_("sam", "license", "reinstate", lid, "--reason", "fixed", "--json"))["state"] == "active"
    assert cli_in_process(env, "check", MODEL, "--env", "production").returncode == 0
    assert verify("--status-url", status_url).returncode == 0
    # An older status list (the suspended one) is refused once a newer version was seen.
    r = verify("--status-url", str(tmp_path / "suspended-list.jwt"))
    assert r.returncode == 1 and r.stderr.startswith("error: status_list_rollback:")

    assert _ok(as_("sam", "license", "revoke", lid, "--reason", "retired", "--json"))["state"] == "revoked"
    r = verify("--status-url", status_url)
    assert r.returncode == 1 and r.stderr.startswith("error: revoked:")
    for verb in ("suspend", "reinstate", "revoke"):
        r = as_("sam", "license", verb, lid, "--reason", "again")
        assert r.returncode == 1 and "license_invalid_transition" in r.stderr
    r = cli_in_process(env, "check", MODEL, "--env", "production", "--json")
    assert r.returncode == 1 and json.loads(r.stdout)["allowed"] is False
    [task] = _ok(cli_in_process(env, "license", "reaudits", "--status", "open", "--json"))["items"]
    assert task["system"] == "loan-approval" and task["kind"] == "periodic"
    done = _ok(as_("sam", "license", "reaudit-done", task["id"], "--note", "annual review", "--json"))
    assert done["status"] == "done" and done["completed_by"] == "user:sam"
    listed = _ok(cli_in_process(env, "license", "list", "--state", "revoked", "--json"))
    assert [i["id"] for i in listed["items"]] == [lid]
    status = _ok(cli_in_process(env, "license", "status", lid, "--json"))
    assert status["state"] == "revoked" and len(status["signoffs"]) == 7
    retired = _ok(as_("sam", "model", "retire", MODEL, "--reason", "replaced by 2.0", "--json"))
    assert retired["model"]["retire_reason"] == "replaced by 2.0" and retired["revoked"] == []
    r = as_("sam", "model", "retire", MODEL, "--reason", "again")
    assert r.returncode == 1 and "error: model_retired:" in r.stderr, r.stderr
    assert "retired" in cli_in_process(env, "model", "show", MODEL).stdout
    log = Path(server.log_path or "").read_text() if server.log_path else ""
    for secret in keys.values():
        assert secret not in log
