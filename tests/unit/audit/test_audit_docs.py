"""docs/audit.md: the auditor's standalone snippet verifies a real checkpoint and rejects forged ones."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from charter.audit.note import verifier_key
from tests.unit.audit.memlog import ORIGIN, MemLog

DOC = Path(__file__).resolve().parents[3] / "docs" / "audit.md"


def snippet() -> str:
    text = DOC.read_text()
    match = re.search(r"<!-- snippet: verify_checkpoint\.py[^>]*-->\n```python\n(.*?)```", text, re.S)
    assert match, "docs/audit.md lost its verify_checkpoint.py snippet"
    code = match.group(1)
    imports = {m.split()[1].split(".")[0] for m in re.findall(r"^(?:import|from) \S+", code, re.M)}
    assert imports <= {"base64", "hashlib", "sys", "cryptography"}, imports
    return code


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "verify_checkpoint.py"
    path.write_text(snippet())
    return path


def run(script: Path, note: str, vkey: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    (tmp_path / "checkpoint.txt").write_text(note)
    return subprocess.run(
        [sys.executable, str(script), str(tmp_path / "checkpoint.txt"), vkey], capture_output=True, text=True
    )


def test_snippet_verifies_a_real_checkpoint_and_rejects_forgeries(script: Path, tmp_path: Path) -> None:
    with MemLog() as log:
        log.append(37, 5)
        cp = log.checkpointer.checkpoint()
        assert cp is not None
        vkey = verifier_key(ORIGIN, log.key.public_raw)
        ok = run(script, cp.note, vkey, tmp_path)
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.strip() == f"OK {ORIGIN} size=37 root={cp.root.hex()}"
        forged = cp.note.replace("\n37\n", "\n36\n")
        assert run(script, forged, vkey, tmp_path).returncode != 0
        other = MemLog()
        try:
            assert run(script, cp.note, verifier_key(ORIGIN, other.key.public_raw), tmp_path).returncode != 0
        finally:
            other.close()
