"""C2SP signed notes and tlog-checkpoints with Ed25519 (https://c2sp.org/signed-note, https://c2sp.org/tlog-checkpoint).

A checkpoint is the note text `<origin>\\n<size>\\n<base64 root>\\n`, followed by a blank line and one signature line
`— <name> <base64(key hash || signature)>\\n` per signer. The key hash is the first 4 bytes of
SHA-256(name || "\\n" || 0x01 || public key); the verifier key string is `<name>+<hex key hash>+<base64(0x01 || key)>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from charter.core.errors import CharterError, ErrorCode, ErrorKind
from charter.core.signing import SigningKey

ED25519 = 0x01
DASH = "\u2014"
_NAME = re.compile(r"^[^\s+]+$")
_SIZE = re.compile(r"^(0|[1-9][0-9]{0,19})$")


class NoteError(CharterError):
    """A note or checkpoint that does not parse or does not verify."""

    kind = ErrorKind.FAILED
    code = ErrorCode.BAD_CHECKPOINT


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The signed statement: the log named `origin` had `size` entries with Merkle root `root`."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        """The note text that is signed."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def key_hash(name: str, public_raw: bytes, sig_type: int = ED25519) -> bytes:
    """First 4 bytes of SHA-256(name || "\\n" || signature type || public key) (0x01: note signatures)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_raw).digest()[:4]


def check_name(name: str) -> None:
    """NoteError unless `name` may name a key (non-empty, no spaces, no '+')."""
    if not _NAME.match(name):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'", code=ErrorCode.BAD_KEY_NAME)


def verifier_key(name: str, public_raw: bytes, sig_type: int = ED25519) -> str:
    """The verifier key string `name+hex(keyhash)+base64(type || pubkey)` (0x01: a note signer's)."""
    check_name(name)
    encoded = base64.b64encode(bytes([sig_type]) + public_raw).decode()
    return f"{name}+{key_hash(name, public_raw, sig_type).hex()}+{encoded}"


def parse_vkey(vkey: str, sig_type: int, hash_of: Callable[[str, bytes], bytes], code: str) -> tuple[str, bytes, bytes]:
    """`name+hexhash+base64(type || 32-byte key)` → (name, hash, key), the hash checked against `hash_of`."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("a verifier key looks like NAME+HEXHASH+BASE64KEY", code=code)
    name, hexhash, b64 = parts
    if not _NAME.match(name):
        raise NoteError(f"key name {name!r} must be non-empty, without spaces or '+'", code=code)
    try:
        raw = base64.b64decode(b64, validate=True)
        expected = bytes.fromhex(hexhash)
    except (binascii.Error, ValueError):
        raise NoteError("the key's hash or key is not valid hex/base64", code=code) from None
    if len(raw) != 33 or raw[0] != sig_type:
        raise NoteError(f"the key is not an Ed25519 key of signature type 0x{sig_type:02x}", code=code)
    if len(expected) != 4 or hash_of(name, raw[1:]) != expected:
        raise NoteError("the key's hash does not match its key", code=code)
    return name, expected, raw[1:]


@dataclass(frozen=True, slots=True)
class Verifier:
    """A parsed note verifier key."""

    name: str
    hash: bytes
    public_raw: bytes

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        """Parse `name+hexhash+base64key`; the hash must match the key."""
        return cls(*parse_vkey(vkey, ED25519, key_hash, ErrorCode.BAD_VERIFIER_KEY))

    def verify(self, text: str, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_raw).verify(signature, text.encode())
        except InvalidSignature:
            return False
        return True


def sign_note(text: str, name: str, key: SigningKey) -> str:
    """The signed note: `text`, a blank line and the signature line of `key` under `name`."""
    check_name(name)
    if not text.endswith("\n"):
        raise NoteError("note text must end with a newline")
    blob = key_hash(name, key.public_raw) + key.sign(text.encode())
    return f"{text}\n{DASH} {name} {base64.b64encode(blob).decode()}\n"


def open_note(note: str, verifier: Verifier) -> str:
    """The text of `note` if it carries a valid signature by `verifier`; other signatures are ignored."""
    if "\r" in note or any(ord(c) < 0x20 and c != "\n" for c in note):
        raise NoteError("note contains control characters")
    text, sep, sigs = note.rpartition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise NoteError("malformed note: expected text, a blank line and signature lines")
    text += "\n"
    for line in sigs[:-1].split("\n"):
        dash, _, rest = line.partition(" ")
        name, _, b64 = rest.partition(" ")
        if dash != DASH or not name or not b64 or " " in b64:
            raise NoteError(f"malformed signature line {line!r}")
        if name != verifier.name:
            continue
        try:
            blob = base64.b64decode(b64, validate=True)
        except binascii.Error:
            raise NoteError(f"signature of {name} is not base64") from None
        if len(blob) == 68 and blob[:4] == verifier.hash and verifier.verify(text, blob[4:]):
            return text
    raise NoteError(
        f"note carries no valid signature by {verifier.name}+{verifier.hash.hex()}", code=ErrorCode.BAD_SIGNATURE
    )


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text (origin, size, root hash; extension lines are ignored)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("checkpoint must have origin, size and root hash lines")
    origin, size, root_b64 = lines[0], lines[1], lines[2]
    if not origin or not _SIZE.match(size):
        raise NoteError(f"checkpoint origin {origin!r} or size {size!r} is malformed")
    try:
        root = base64.b64decode(root_b64, validate=True)
    except binascii.Error:
        raise NoteError("checkpoint root hash is not base64") from None
    if len(root) != 32:
        raise NoteError("checkpoint root hash is not 32 bytes")
    return Checkpoint(origin, int(size), root)


def verify_checkpoint(note: str, verifier: Verifier | str) -> Checkpoint:
    """Verify the signature on a checkpoint note and parse it."""
    v = Verifier.parse(verifier) if isinstance(verifier, str) else verifier
    cp = parse_checkpoint(open_note(note, v))
    if cp.origin != v.name:
        raise NoteError(
            f"checkpoint origin {cp.origin!r} differs from the key name {v.name!r}", code=ErrorCode.BAD_ORIGIN
        )
    return cp
