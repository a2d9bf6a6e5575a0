"""docs/operations.md's scale-out recipe, run verbatim on PostgreSQL: one `charter serve`, two `charter gateway`.

Each "host" is a working directory and data dir of its own with the environment the page lists (the test's own
database, schema, free ports and a public URL that answers); the commands of the page's blocks run as written, the
servers in the background. Then the deployment is put to work: a license, calls through both gateways, a suspension
that reaches both, and `charter audit verify --deep`.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from charter import bootstrap
from charter.settings import Settings
from tests.reliability import stack
from tests.support.builders import user
from tests.support.db import PG_SKIP, PG_URL, pg_schema, pg_sqlalchemy_url
from tests.support.gateway_fake import FakeUpstream
from tests.support.server import free_port

pytestmark = pytest.mark.e2e

DOC = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
PASSPHRASE = "recipe test passphrase"
SERVERS = ("serve", "gateway")


def block(name: str) -> str:
    """The fenced block right after `<!-- scale-out: NAME -->` in docs/operations.md."""
    m = re.search(rf"<!-- scale-out: {re.escape(name)} -->\n```(?:sh|bash)\n(.*?)```", DOC.read_text(), re.S)
    assert m, f"docs/operations.md lost its `{name}` block"
    return m.group(1)


def commands(name: str) -> list[list[str]]:
    return [argv for line in block(name).splitlines() if (argv := shlex.split(line, comments=True))]


@dataclass
class Host:
    """One machine of the deployment: a working directory, a data dir, its environment and its server."""

    name: str
    cwd: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    out: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, argv: list[str]) -> None:
        """One line of the recipe: a server starts in the background, anything else runs to completion."""
        if argv[:1] == ["charter"] and len(argv) > 1 and argv[1] in SERVERS:
            self.start(argv)
            return
        r = subprocess.run(argv, cwd=self.cwd, env=self.env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, (self.name, argv, r.stdout[-2000:], r.stderr[-2000:])
        self.out.append(r.stdout)

    def start(self, argv: list[str]) -> None:
        port_var = "CHARTER_PORT" if argv[1] == "serve" else "CHARTER_GATEWAY_PORT"
        env = {**self.env, port_var: str(self.port)}
        log = (self.cwd / f"{argv[1]}.log").open("ab")
        self.proc = subprocess.Popen(argv, cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while True:
            assert self.proc.poll() is None, (self.name, (self.cwd / f"{argv[1]}.log").read_text()[-3000:])
            try:
                if httpx.get(self.url + "/readyz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"{self.name}: {argv} never became ready"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _path_with_charter() -> str:
    """`charter` on PATH: the console script of the interpreter running the tests."""
    return f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"


@pytest.fixture
def hosts(tmp_path: Path) -> Iterator[tuple[Host, Host, Host, dict[str, str]]]:
    with pg_schema() as schema:
        common = {
            **os.environ,
            "PATH": _path_with_charter(),
            "CHARTER_DATABASE_URL": pg_sqlalchemy_url(),
            "CHARTER_DATABASE_SCHEMA": schema,  # the test's own schema: runs in parallel with others
            "CHARTER_HOST": "127.0.0.1",
            "CHARTER_KEYS_PASSPHRASE": PASSPHRASE,
        }
        made = []
        for name in ("host1", "host2", "host3"):
            cwd = tmp_path / name
            cwd.mkdir()
            made.append(Host(name, cwd, {**common, "CHARTER_HOME": str(cwd / "charter")}))
        first = made[0]
        for h in made:  # the load balancer's URL: here the serve process itself, so it answers
            h.env["CHARTER_PUBLIC_URL"] = first.url
        try:
            yield made[0], made[1], made[2], common
        finally:
            for h in made:
                h.stop()


def _settings(host: Host) -> Settings:
    env = host.env
    return Settings(
        home=Path(env["CHARTER_HOME"]),
        database_url=env["CHARTER_DATABASE_URL"],
        database_schema=env["CHARTER_DATABASE_SCHEMA"],
        public_url=env["CHARTER_PUBLIC_URL"],
    )


def _admin_key(out: str) -> str:
    m = re.search(r"export CHARTER_API_KEY=(\S+)", out)
    assert m, out
    return m.group(1)


def test_environment_block_names_what_every_host_needs() -> None:
    names = {line.split("=", 1)[0] for line in block("environment").splitlines() if "=" in line}
    assert names == {
        "CHARTER_DATABASE_URL",
        "CHARTER_PUBLIC_URL",
        "CHARTER_HOME",
        "CHARTER_HOST",
        "CHARTER_KEYS_PASSPHRASE",
    }


@pytest.mark.postgres
@pytest.mark.skipif(not PG_URL, reason=PG_SKIP)
@pytest.mark.timeout(900)
def test_the_scale_out_recipe_runs_verbatim(hosts: tuple[Host, Host, Host, Mapping[str, str]]) -> None:
    first, *others = hosts[:3]
    for argv in commands("first host"):
        first.run(argv)
    admin_key = _admin_key("".join(first.out))
    for host in others:
        shutil.copy(first.cwd / "charter-keys.json", host.cwd / "charter-keys.json")  # "copy it to every host"
        for argv in commands("other hosts"):
            host.run(argv)
        assert not (host.cwd / "charter-keys.json").exists()
    for host in hosts[:3]:
        assert httpx.get(host.url + "/readyz", timeout=10).json()["status"] == "ready"

    c = bootstrap.build(_settings(first))
    try:
        app_key = stack.add_app(c)
        lic = stack.license_system(c, "scoring", "minimal", user(c, "rita", "ml-engineer"), {})
    finally:
        c.close()
    world = stack.World(admin_key, app_key, {"scoring": lic})
    gateways = [h.url for h in others]
    with FakeUpstream() as upstream:
        stack.add_deployments(first.url, admin_key, world, upstream.url)
        stack.wait_serving(gateways, app_key, "scoring")
        token = httpx.get(
            f"{first.url}/api/v1/licenses/{lic.license_id}/token", headers=stack.bearer(admin_key), timeout=30
        ).json()["token"]
        assert _claims(token)["iss"] == first.url
        r = httpx.post(
            f"{first.url}/api/v1/licenses/{lic.license_id}/suspend",
            json={"reason": "recipe test"},
            headers=stack.bearer(admin_key),
            timeout=30,
        )
        assert r.status_code == 200, r.text
        deadline = time.monotonic() + 5
        for url in gateways:  # the guarantee is 1 s; the deadline only bounds a broken propagation
            while (answer := stack.call(url, app_key, "scoring")).status_code == 200:
                assert time.monotonic() < deadline, f"{url} still serves a suspended license"
                time.sleep(0.02)
            assert answer.status_code == 403 and answer.json()["code"] == "license_suspended", answer.text

    verify = subprocess.run(
        ["charter", "audit", "verify", "--deep"],
        cwd=others[0].cwd,
        env=others[0].env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert verify.returncode == 0, (verify.stdout, verify.stderr)
    assert "✓" in verify.stdout


def _claims(token: str) -> dict[str, Any]:
    part = token.split(".")[1]
    doc: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return doc


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx is not installed (Debian: apt-get install nginx)")
def test_the_nginx_example_is_a_valid_configuration(tmp_path: Path) -> None:
    """`nginx -t` on the page's load balancer block, with the certificate paths pointed at a throwaway pair."""
    m = re.search(r"```nginx\n(.*?)```", DOC.read_text(), re.S)
    assert m, "docs/operations.md lost its nginx example"
    tls = tmp_path / "tls"
    tls.mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ed25519", "-nodes", "-days", "1", "-subj", "/CN=charter.example.com"]
        + ["-keyout", str(tls / "charter.key"), "-out", str(tls / "charter.crt")],
        check=True,
        capture_output=True,
        timeout=60,
    )
    temp = " ".join(f"{k}_temp_path {tmp_path / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path / 'nginx.pid'};\nerror_log {tmp_path / 'error.log'};\nevents {{}}\n"
        f"http {{\naccess_log off;\n{temp}\n{m.group(1).replace('/etc/nginx/tls/', f'{tls}/')}}}\n"
    )
    r = subprocess.run(
        ["nginx", "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
