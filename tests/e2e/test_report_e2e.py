"""Reports through the CLI and a real `charter serve`: the Annex IV PDF, HTML with MISSING fields, the compliance
summary, an evidence pack downloaded and verified offline, and exit 5 when the server has no PDF renderer."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pypdf
import pytest

from charter.bootstrap import Container
from charter.reports.pdf import ENV_VAR, find_chromium
from charter.settings import Settings
from tests.conftest import MakeUser
from tests.integration.reports.world import build_world
from tests.support.db import env_for
from tests.support.server import Server, cli

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.timeout(900),  # a dozen CLI processes on a loaded machine
    pytest.mark.parametrize("backend", ["sqlite"], indirect=True),
]


def test_reports_through_cli_and_real_server(
    settings: Settings, container: Container, make_user: MakeUser, admin_key: str, tmp_path: Path
) -> None:
    world = build_world(container, make_user)
    world.license(world.documented_system())
    world.bare_system("chat-helper")
    container.close()
    env = {**env_for(settings), "COLUMNS": "200"}
    server = Server(env, log=tmp_path / "server.log").start()
    try:
        env = {**env, "CHARTER_URL": server.url, "CHARTER_API_KEY": admin_key}
        if find_chromium() is not None:
            r = cli(env, "report", "system", "credit-scoring", "--format", "pdf", "--output", str(tmp_path / "r.pdf"))
            assert r.returncode == 0, r.stderr
            text = " ".join(p.extract_text() for p in pypdf.PdfReader(tmp_path / "r.pdf").pages)
            assert "General description of the AI system" in text and "Audit summary" in text

        r = cli(env, "report", "system", "chat-helper", "--format", "html")
        assert r.returncode == 0, r.stderr
        assert r.stdout.startswith("<!DOCTYPE html>") and '<span class="missing">MISSING</span>' in r.stdout

        r = cli(env, "report", "compliance", "--json")
        assert r.returncode == 0, r.stderr
        assert {i["system"] for i in json.loads(r.stdout)["items"]} == {"credit-scoring", "chat-helper"}
        r = cli(env, "report", "compliance")
        assert r.returncode == 0 and "credit-scoring" in r.stdout and "incomplete" in r.stdout

        pack = tmp_path / "pack.zip"
        r = cli(env, "report", "pack", "credit-scoring", "--output", str(pack), "--json")
        assert r.returncode == 0, r.stderr
        assert json.loads(r.stdout)["pack"].startswith("pack_") and pack.is_file()
        assert not (tmp_path / "pack.zip.part").exists()
        key_url = server.url + "/.well-known/charter/audit-key"
        r = cli(env, "report", "verify-pack", str(pack), "--key", key_url)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert r.stdout.startswith("✓") and "credit-scoring" in r.stdout

        with zipfile.ZipFile(pack) as zf:
            members = {n: zf.read(n) for n in zf.namelist()}
        members["report.html"] = members["report.html"].replace(b"ACME Bank", b"Other Bank")
        forged = io.BytesIO()
        with zipfile.ZipFile(forged, "w") as zf:
            for name, data in members.items():
                zf.writestr(name, data)
        (tmp_path / "forged.zip").write_bytes(forged.getvalue())
        r = cli(env, "report", "verify-pack", str(tmp_path / "forged.zip"), "--key", key_url)
        assert r.returncode == 1 and "report.html" in r.stdout

        r = cli(env, "report", "system", "nope", "--format", "html")
        assert r.returncode == 3 and r.stderr.startswith("error: system_not_found: "), r.stderr
    finally:
        server.stop()

    server = Server({**env, ENV_VAR: "/nonexistent/chromium"}, log=tmp_path / "server2.log").start()
    try:
        env = {**env, "CHARTER_URL": server.url}
        r = cli(env, "report", "system", "credit-scoring", "--format", "pdf", "--output", str(tmp_path / "x.pdf"))
        assert r.returncode == 5, (r.stdout, r.stderr)
        assert r.stderr.startswith("error: pdf_renderer_unavailable: ") and not (tmp_path / "x.pdf").exists()
    finally:
        server.stop()
