"""`charter attest --evidence`: a regular file, hashed without reading a large one into memory."""

from __future__ import annotations

import hashlib
from pathlib import Path

from charter.cli.commands.attestations import MAX_STORED, read_evidence
from tests.support.server import cli_in_process

NOWHERE = {"CHARTER_URL": "http://127.0.0.1:9", "CHARTER_API_KEY": "chk_x_y"}  # never reached


def test_a_device_or_fifo_is_refused_naming_the_option(tmp_path: Path) -> None:
    """/dev/zero never ends: reading it to hash it filled the memory; it is refused before anything is read."""
    r = cli_in_process(
        NOWHERE, "attest", "EUAIA-ART4", "--system", "s", "--evidence", "/dev/zero", "--valid-days", "5", cwd=tmp_path
    )
    assert r.returncode == 2 and "--evidence" in r.stderr and "regular file" in r.stderr, r.stderr


def test_a_large_file_is_hashed_in_chunks_and_not_sent(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"x" * (MAX_STORED + 1))
    digest, size, blob = read_evidence(big)
    assert digest == "sha256:" + hashlib.sha256(big.read_bytes()).hexdigest() and size == MAX_STORED + 1
    assert blob is None
    small = tmp_path / "small.csv"
    small.write_bytes(b"a,b\n")
    assert read_evidence(small) == ("sha256:" + hashlib.sha256(b"a,b\n").hexdigest(), 4, b"a,b\n")
