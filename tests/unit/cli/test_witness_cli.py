"""`charter witness serve` refuses bad arguments as usage errors (exit 2) naming the option, before it writes a key."""

from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from charter.audit.note import verifier_key
from charter.core.signing import SigningKey
from tests.support.server import cli_in_process

LOG_KEY = verifier_key("charter.local/audit", SigningKey(Ed25519PrivateKey.generate()).public_raw)


def test_a_bad_witness_name_is_a_usage_error_and_writes_nothing(tmp_path: Path) -> None:
    state = tmp_path / "w"
    result = cli_in_process({}, "witness", "serve", "--log", LOG_KEY, "--name", "bad name", "--dir", str(state))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "--name" in result.stderr and "bad name" in result.stderr, result.stderr
    assert not state.exists() or not any(state.iterdir())


def test_a_bad_log_key_is_a_usage_error(tmp_path: Path) -> None:
    result = cli_in_process({}, "witness", "serve", "--log", "garbage", "--dir", str(tmp_path / "w"))
    assert result.returncode == 2 and "--log" in result.stderr, result.stdout + result.stderr
