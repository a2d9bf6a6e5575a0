"""The key file of `charter export keys` / `charter init --join`: sealed, checked, never overwritten."""

from __future__ import annotations

import base64
import os
import stat
from pathlib import Path

import orjson
import pytest

from charter.core import keybundle
from charter.core.errors import Conflict, InvalidInput
from charter.core.keybundle import KeysFileInvalid, KeysMismatch
from charter.core.signing import HMAC_KEY, LICENSE_KEY, ensure_keys, load_keys

PASSPHRASE = "correct horse battery staple"


@pytest.fixture
def keys_dir(tmp_path: Path) -> Path:
    ensure_keys(tmp_path / "a" / "keys")
    return tmp_path / "a" / "keys"


def _export(keys_dir: Path, path: Path, passphrase: str | None = PASSPHRASE) -> Path:
    keybundle.write(path, keybundle.encode(keybundle.read_key_files(keys_dir), passphrase))
    return path


def _join(path: Path, passphrase: str | None = PASSPHRASE) -> keybundle.Bundle:
    return keybundle.decode(path, keybundle.parse(path), passphrase)


def test_round_trip_installs_the_same_keys(keys_dir: Path, tmp_path: Path) -> None:
    path = _export(keys_dir, tmp_path / "keys.json")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    for name in keybundle.FILES:  # nothing of any key in clear
        secret = (keys_dir / name).read_bytes()
        assert base64.b64encode(secret).decode() not in text and secret.hex() not in text
    assert "PRIVATE KEY" not in text
    target = tmp_path / "b" / "keys"
    assert keybundle.install(target, _join(path)) is True
    assert load_keys(target).fingerprints() == load_keys(keys_dir).fingerprints()
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert all(stat.S_IMODE((target / n).stat().st_mode) == 0o600 for n in keybundle.FILES)
    assert keybundle.install(target, _join(path)) is False  # joining twice changes nothing


def test_wrong_passphrase_and_no_passphrase(keys_dir: Path, tmp_path: Path) -> None:
    path = _export(keys_dir, tmp_path / "keys.json")
    with pytest.raises(KeysFileInvalid, match="wrong passphrase"):
        _join(path, "another passphrase entirely")
    with pytest.raises(KeysFileInvalid, match="CHARTER_KEYS_PASSPHRASE"):
        _join(path, None)


def test_swapped_fingerprints_are_refused(keys_dir: Path, tmp_path: Path) -> None:
    """The header is the associated data of the cipher: changing what it claims breaks decryption."""
    path = _export(keys_dir, tmp_path / "keys.json")
    doc = orjson.loads(path.read_bytes())
    doc["fingerprints"]["hmac"] = "0" * 16
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(KeysFileInvalid, match="wrong passphrase, or the file was altered"):
        _join(path)


def test_plain_file_with_altered_keys_is_refused(keys_dir: Path, tmp_path: Path) -> None:
    path = _export(keys_dir, tmp_path / "keys.json", None)
    assert _join(path, None).fingerprints == load_keys(keys_dir).fingerprints()
    doc = orjson.loads(path.read_bytes())
    doc["keys"][HMAC_KEY] = base64.b64encode(b"k" * 32).decode()
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(KeysFileInvalid, match="do not match the fingerprints"):
        _join(path, None)
    doc["keys"][LICENSE_KEY] = base64.b64encode(b"not a pem").decode()
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(KeysFileInvalid, match="not an unencrypted Ed25519 private key"):
        _join(path, None)


@pytest.mark.parametrize(
    ("n", "r", "p"),
    [(2**30, 8, 1), (2**20, 16, 1), (2**15, 8, 64), ("32768", 8, 1), (3, 8, 1)],
)
def test_costly_or_odd_scrypt_parameters_are_refused(keys_dir: Path, tmp_path: Path, n: object, r: int, p: int) -> None:
    path = _export(keys_dir, tmp_path / "keys.json")
    doc = orjson.loads(path.read_bytes())
    doc["protection"].update({"n": n, "r": r, "p": p})
    path.write_bytes(orjson.dumps(doc))
    with pytest.raises(KeysFileInvalid):
        _join(path)


@pytest.mark.parametrize(
    "content",
    [b"", b"[]", b'{"format": "charter-keys", "version": 2}', b"\xff\xfe", b'{"format":"charter-keys","version":1}'],
)
def test_malformed_files_name_the_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "keys.json"
    path.write_bytes(content)
    with pytest.raises(KeysFileInvalid) as err:
        _join(path, None)
    assert str(path) in err.value.message


def test_huge_file_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    path.write_bytes(b" " * (keybundle.MAX_BYTES + 1))
    with pytest.raises(KeysFileInvalid, match="too large"):
        keybundle.parse(path)


def test_short_passphrase_and_existing_output(keys_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="at least 12"):
        keybundle.encode(keybundle.read_key_files(keys_dir), "short")
    path = _export(keys_dir, tmp_path / "keys.json")
    before = path.read_bytes()
    with pytest.raises(Conflict, match="exists"):
        _export(keys_dir, path)
    assert path.read_bytes() == before


def test_other_keys_already_installed_are_never_overwritten(keys_dir: Path, tmp_path: Path) -> None:
    path = _export(keys_dir, tmp_path / "keys.json")
    mine = tmp_path / "b" / "keys"
    ensure_keys(mine)
    before = {n: (mine / n).read_bytes() for n in keybundle.FILES}
    with pytest.raises(KeysMismatch, match="already holds other keys"):
        keybundle.install(mine, _join(path))
    assert {n: (mine / n).read_bytes() for n in keybundle.FILES} == before


def test_a_directory_or_a_fifo_is_not_read(tmp_path: Path) -> None:
    with pytest.raises(KeysFileInvalid, match="not a regular file"):
        keybundle.parse(tmp_path)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(KeysFileInvalid, match="not a regular file"):  # reading it would block forever
        keybundle.parse(fifo)


def test_an_output_in_a_missing_directory_is_named(keys_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot create"):
        _export(keys_dir, tmp_path / "nowhere" / "keys.json")
