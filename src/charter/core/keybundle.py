"""The key set of a deployment as one file, so every process of a scale-out signs and digests with the same keys.

`charter export keys` writes it, `charter init --join FILE` installs it. Format (JSON, written 0600, never logged):
`{"format": "charter-keys", "version": 1, "fingerprints": {...}, "protection": P, "keys": K}` where, with a
passphrase, P names scrypt and AES-256-GCM with their parameters and K is the base64 ciphertext of the key files
(the header is the associated data, so the fingerprints cannot be swapped); without one, P is "none" and K maps file
names to their contents.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from charter.core.canonical import canonical_json as canonical
from charter.core.errors import Conflict, ErrorCode, InvalidInput
from charter.core.signing import AUDIT_KEY, HMAC_KEY, LICENSE_KEY, load_keys, ring_from_files

FORMAT = "charter-keys"
FILES = (LICENSE_KEY, AUDIT_KEY, HMAC_KEY)
MAX_BYTES = 64 * 1024  # a bundle is about 1 KiB; anything far larger is not one
MIN_PASSPHRASE = 12
# scrypt cost: about 32 MiB and 0.1 s here. A file asking for more than the bounds below is refused rather than
# allowed to make `init --join` spend gigabytes.
SCRYPT = {"n": 2**15, "r": 8, "p": 1}
MAX_N, MAX_R, MAX_P = 2**20, 16, 4
MAX_MEMORY = 256 << 20  # scrypt needs 128 * n * r bytes


class KeysFileInvalid(InvalidInput):
    code = ErrorCode.KEYS_FILE_INVALID


class KeysMismatch(Conflict):
    code = ErrorCode.KEYS_MISMATCH


@dataclass(frozen=True)
class Bundle:
    """The key files of one deployment and their fingerprints (`KeyRing.fingerprints()`)."""

    files: dict[str, bytes]
    fingerprints: dict[str, str]


def read_key_files(keys_dir: Path) -> Bundle:
    """The key files of a data dir (they must load: `charter init` made them)."""
    ring = load_keys(keys_dir)
    return Bundle({name: (keys_dir / name).read_bytes() for name in FILES}, ring.fingerprints())


def _kdf(passphrase: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode())


def _payload(files: dict[str, bytes]) -> bytes:
    return canonical({name: base64.b64encode(files[name]).decode() for name in FILES})


def encode(bundle: Bundle, passphrase: str | None) -> bytes:
    """The file's bytes; encrypted under `passphrase` unless it is None."""
    header: dict[str, Any] = {"format": FORMAT, "version": 1, "fingerprints": bundle.fingerprints}
    if passphrase is None:
        header["protection"] = "none"
        return orjson.dumps({**header, "keys": orjson.loads(_payload(bundle.files))}) + b"\n"
    if len(passphrase) < MIN_PASSPHRASE:
        raise InvalidInput(
            f"the passphrase must have at least {MIN_PASSPHRASE} characters", field="CHARTER_KEYS_PASSPHRASE"
        )
    salt, nonce = secrets.token_bytes(16), secrets.token_bytes(12)
    header["protection"] = {
        "kdf": "scrypt",
        **SCRYPT,
        "salt": base64.b64encode(salt).decode(),
        "cipher": "aes-256-gcm",
        "nonce": base64.b64encode(nonce).decode(),
    }
    key = _kdf(passphrase, salt, **SCRYPT)
    sealed = AESGCM(key).encrypt(nonce, _payload(bundle.files), canonical(header))
    return orjson.dumps({**header, "keys": base64.b64encode(sealed).decode()}) + b"\n"


def write(path: Path, data: bytes) -> None:
    """Create `path` with mode 0600; never overwrite an existing file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise Conflict(
            f"{path} exists: choose another file (a key file is never overwritten)", code=ErrorCode.FILE_EXISTS
        ) from None
    except OSError as exc:
        raise InvalidInput(f"cannot create {path}: {exc.strerror}", code=ErrorCode.FILE_UNWRITABLE) from None
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def is_encrypted(doc: dict[str, Any]) -> bool:
    return doc.get("protection") != "none"


def parse(path: Path) -> dict[str, Any]:
    """The file's JSON object, checked for format and size; keys not yet decoded."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise InvalidInput(
            f"{path}: no such file (make it with `charter export keys`)", code=ErrorCode.NOT_FOUND
        ) from None
    if not stat.S_ISREG(info.st_mode):
        raise KeysFileInvalid(f"{path}: not a regular file")
    if info.st_size > MAX_BYTES:
        raise KeysFileInvalid(f"{path}: {info.st_size} bytes is too large for a key file")
    try:
        with path.open("rb") as fh:
            raw = fh.read(MAX_BYTES + 1)  # a file that grew since stat() is still bounded
    except OSError as exc:
        raise KeysFileInvalid(f"{path}: cannot read it ({exc.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise KeysFileInvalid(f"{path}: too large for a key file")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise KeysFileInvalid(f"{path}: not JSON ({exc}); make it with `charter export keys`") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != 1:
        raise KeysFileInvalid(f"{path}: not a {FORMAT} version 1 file; make it with `charter export keys`")
    return doc


def decode(path: Path, doc: dict[str, Any], passphrase: str | None) -> Bundle:
    """The key files inside a parsed bundle, checked against its fingerprints."""
    header = {k: doc.get(k) for k in ("format", "version", "fingerprints", "protection")}
    try:
        if is_encrypted(doc):
            if passphrase is None:
                raise KeysFileInvalid(f"{path} is encrypted: set CHARTER_KEYS_PASSPHRASE or type it when asked")
            files = _decrypt(path, header, doc["keys"], passphrase)
        else:
            files = {name: base64.b64decode(doc["keys"][name], validate=True) for name in FILES}
    except (KeyError, TypeError, ValueError) as exc:
        raise KeysFileInvalid(f"{path}: malformed key file ({type(exc).__name__}: {exc})") from None
    return Bundle(files, _check(path, files, doc.get("fingerprints")))


def _decrypt(path: Path, header: dict[str, Any], sealed: str, passphrase: str) -> dict[str, bytes]:
    prot = header["protection"]
    if not isinstance(prot, dict) or prot.get("kdf") != "scrypt" or prot.get("cipher") != "aes-256-gcm":
        raise KeysFileInvalid(f"{path}: unknown protection {prot!r}")
    n, r, p = prot.get("n"), prot.get("r"), prot.get("p")
    if not (type(n) is int and type(r) is int and type(p) is int) or not (
        2 <= n <= MAX_N and 1 <= r <= MAX_R and 1 <= p <= MAX_P and 128 * n * r <= MAX_MEMORY
    ):
        raise KeysFileInvalid(
            f"{path}: scrypt parameters out of bounds (n <= {MAX_N}, r <= {MAX_R}, p <= {MAX_P}, "
            f"at most {MAX_MEMORY >> 20} MiB)"
        )
    key = _kdf(passphrase, base64.b64decode(prot["salt"], validate=True), n, r, p)
    try:
        plain = AESGCM(key).decrypt(
            base64.b64decode(prot["nonce"], validate=True), base64.b64decode(sealed), canonical(header)
        )
    except InvalidTag:
        raise KeysFileInvalid(f"{path}: wrong passphrase, or the file was altered") from None
    inner = orjson.loads(plain)
    return {name: base64.b64decode(inner[name], validate=True) for name in FILES}


def _check(path: Path, files: dict[str, bytes], claimed: object) -> dict[str, str]:
    """Load the keys as `load_keys` would and compare their fingerprints with the file's."""
    try:
        got = ring_from_files(files, str(path)).fingerprints()
    except ValueError as exc:
        raise KeysFileInvalid(str(exc)) from None
    if claimed != got:
        raise KeysFileInvalid(f"{path}: its keys do not match the fingerprints it lists (the file was altered)")
    return got


def install(keys_dir: Path, bundle: Bundle) -> bool:
    """Write the bundle's key files into `keys_dir` (0700, files 0600); True when written, False when the same keys
    were already there. Other keys already there are an error: they are never overwritten."""
    present = [name for name in FILES if (keys_dir / name).exists()]
    if present:
        try:
            have = load_keys(keys_dir).fingerprints()
        except (FileNotFoundError, ValueError):
            have = None
        if have == bundle.fingerprints:
            return False
        raise KeysMismatch(
            f"{keys_dir} already holds other keys ({', '.join(present)}): move that directory away, then run "
            "`charter init --join FILE` again"
        )
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    written: list[Path] = []
    try:
        for name in FILES:
            fd = os.open(keys_dir / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            written.append(keys_dir / name)
            with os.fdopen(fd, "wb") as fh:
                fh.write(bundle.files[name])
    except BaseException:
        for path in written:  # never leave half a key set behind
            path.unlink(missing_ok=True)
        raise
    return True
