"""The README's five-minute tour and the worked example, verbatim: every shell block, in order, against a real
`charter serve` (SQLite) on a free port, in a directory laid out like a fresh clone after `make run`.

The first block (`make run`) is the server the test starts; `CHARTER_URL` and `CHARTER_API_KEY` are what a reader
pastes from it. The example's blocks run in its directory where the README says to run them. Ports come from the
variables the blocks read (`CHARTER_URL`, `CHARTER_DEMO_MODELS_URL`, `MODEL_URL`), so parallel runs do not collide.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from charter.bootstrap import InitResult
from charter.settings import Settings
from tests.support.db import admin_key, env_for
from tests.support.server import Server, free_port

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "credit-scoring"
MARKER = "<!-- readme-test: the worked example's blocks run here -->"
KILL_JOBS = "trap 'kill $(jobs -p) 2>/dev/null || true' EXIT"


@pytest.fixture
def backend() -> str:
    """SQLite only: this is the newcomer's path (PostgreSQL is covered by the scale-out recipe's test)."""
    return "sqlite"


def shell_blocks(markdown: str) -> list[str]:
    return re.findall(r"^```(?:sh|bash)\n(.*?)^```", markdown, re.S | re.M)


def tour_script() -> str:
    """README blocks before the marker, the example's blocks (in its directory), README blocks after it."""
    readme = (ROOT / "README.md").read_text()
    assert MARKER in readme, "the README lost the marker where the worked example runs"
    before, after = readme.split("## Five-minute tour", 1)[1].split(MARKER)
    tour, rest = shell_blocks(before), shell_blocks(after.split("\n## ", 1)[0])
    assert tour[0].strip() == "make run", tour[0]  # the server: started by the test
    example = shell_blocks((EXAMPLE / "README.md").read_text().split("## Run it with the Charter CLI", 1)[1])
    assert len(example) == 2, "the example's CLI section should have its evaluation and its license block"
    return "\n".join([KILL_JOBS, *tour[1:], "(", KILL_JOBS, "cd examples/credit-scoring", *example, ")", *rest])


def clone(tmp_path: Path) -> Path:
    """A directory laid out like the clone after `make run`: `.venv` (this interpreter's) and the example."""
    work = tmp_path / "clone"
    shutil.copytree(EXAMPLE, work / "examples" / "credit-scoring", ignore=shutil.ignore_patterns("__pycache__"))
    (work / ".venv").symlink_to(Path(sys.executable).parent.parent)
    assert (work / ".venv" / "bin" / "charter").exists(), "the interpreter's environment has no charter script"
    return work


def test_readme_and_example_run_verbatim(settings: Settings, initialised: InitResult, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "CHARTER_URL", "CHARTER_API_KEY")}
    env.update(env_for(settings))
    env["CHARTER_DEMO_MODELS_URL"] = f"http://127.0.0.1:{free_port()}"
    env["MODEL_URL"] = f"http://127.0.0.1:{free_port()}"
    (tmp_path / "out").mkdir()
    env["OUT"] = str(tmp_path / "out")
    server = Server(env, log=tmp_path / "server.log", fresh=True).start()  # as the README runs it
    work = clone(tmp_path)
    env.update({"CHARTER_URL": server.url, "CHARTER_API_KEY": admin_key(initialised)})
    started = time.monotonic()
    proc = subprocess.Popen(
        ["bash", "-euo", "pipefail", "-c", tour_script()],
        cwd=work,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its background model servers are in its process group: killed with it
    )
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        server.stop()
    elapsed = time.monotonic() - started
    (tmp_path / "tour.out").write_text(out)
    (tmp_path / "tour.err").write_text(err)
    print(f"README and example ran in {elapsed:.1f} s; output in {tmp_path}/tour.out and tour.err")
    assert proc.returncode == 0, (out[-4000:], err[-4000:])
    assert "Traceback" not in out + err and "upstream_unavailable" not in out

    assert re.search(r"^export LOAN_PORTAL_KEY=chk_\S+$", out, re.M)  # the demo's key lines
    assert out.count('{"score":0.7506,"decision":"approve"}') == 2, out  # the demo's model and the example's
    biased, _, mitigated = out.partition("blocked: exit code 1")
    assert _, "the biased evaluation did not exit with code 1"
    # A CI log: no terminal, 80 columns by default; the deciding values are whole.
    assert "fairness_summary.dp_diff_max=0.19458559168925021, thresholds.dp_diff_max=0.1" in biased
    assert "FAIL: 3 blocker rule(s) failed: ETH-DP-DIFF, ETH-EO-DIFF, ETH-DISPARATE-IMPACT" in biased
    assert "PASS: no blocker rule failed" in mitigated
    assert re.search(r"^loan-approval@1\.0\.0 · production · active · lic_[0-9a-z]{26}\b", mitigated, re.M), mitigated
    assert "refused: exit code 1" in out and "error: suspended:" in err
    assert '"code":"license_suspended"' in out.replace(" ", "")
    assert "fairness.dp_diff[gender] < 0.1 => suspend" in out  # monitor status: the condition whole
    assert (work / "annex-iv.html").stat().st_size > 0 and (work / "evidence.zip").exists()
