"""Witness cosignatures (https://c2sp.org/tlog-cosignature, `cosignature/v1`, Ed25519) and the request body of the
witness protocol's `add-checkpoint` (https://c2sp.org/tlog-witness).

A cosignature is a note signature line `— <name> base64(key ID || timestamp || signature)` where the key ID is the
first 4 bytes of SHA-256(name || "\\n" || 0x04 || public key), the timestamp is 8 bytes big-endian (POSIX seconds),
and the Ed25519 signature covers `cosignature/v1\\ntime <timestamp>\\n` followed by the checkpoint's note body.
A cosigner's verifier key is `name+hex(key ID)+base64(0x04 || public key)`.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from charter.audit.note import DASH, NoteError, key_hash, parse_vkey, verifier_key
from charter.core.errors import ErrorCode
from charter.core.signing import SigningKey

COSIGNATURE_V1 = 0x04
MAX_PROOF_LINES = 63
_NAME = re.compile(r"^[^\s+]+$")
_OLD = re.compile(r"^old (0|[1-9][0-9]{0,19})$")


def key_id(name: str, public_raw: bytes) -> bytes:
    return key_hash(name, public_raw, COSIGNATURE_V1)


def cosigner_key(name: str, public_raw: bytes) -> str:
    """The verifier key string of a cosigner: `name+hex(key ID)+base64(0x04 || public key)`."""
    return verifier_key(name, public_raw, COSIGNATURE_V1)


@dataclass(frozen=True, slots=True)
class Cosigner:
    name: str
    id: bytes
    public_raw: bytes

    @classmethod
    def parse(cls, vkey: str) -> Cosigner:
        return cls(*parse_vkey(vkey, COSIGNATURE_V1, key_id, ErrorCode.BAD_WITNESS_KEY))

    def vkey(self) -> str:
        return cosigner_key(self.name, self.public_raw)


def message(body: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: header line, timestamp line, then the checkpoint's note body."""
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def cosign(body: str, name: str, key: SigningKey, timestamp: int) -> str:
    """One cosignature line (with its newline) over a checkpoint note body."""
    if not 0 < timestamp < 2**63:
        raise NoteError("a cosignature timestamp must be positive and below 2^63")
    blob = key_id(name, key.public_raw) + struct.pack(">Q", timestamp) + key.sign(message(body, timestamp))
    return f"{DASH} {name} {base64.b64encode(blob).decode()}\n"


def split_note(note: str) -> tuple[str, list[str]]:
    """A note's body (with its final newline) and its signature lines."""
    text, sep, sigs = note.rpartition("\n\n")
    if not sep or not sigs.endswith("\n"):
        raise NoteError("malformed note: expected text, a blank line and signature lines")
    return text + "\n", sigs[:-1].split("\n")


def cosigned_at(note: str, cosigner: Cosigner) -> int | None:
    """The timestamp of a valid cosignature by `cosigner` on `note`, or None when it carries none."""
    body, lines = split_note(note)
    for line in lines:
        dash, _, rest = line.partition(" ")
        name, _, b64 = rest.partition(" ")
        if dash != DASH or name != cosigner.name:
            continue
        try:
            blob = base64.b64decode(b64, validate=True)
        except binascii.Error:
            continue
        if len(blob) != 4 + 8 + 64 or blob[:4] != cosigner.id:
            continue
        (timestamp,) = struct.unpack(">Q", blob[4:12])
        try:
            Ed25519PublicKey.from_public_bytes(cosigner.public_raw).verify(blob[12:], message(body, timestamp))
        except InvalidSignature:
            continue
        return int(timestamp)
    return None


def add_checkpoint_body(old_size: int, proof: Sequence[bytes], note: str) -> bytes:
    lines = [f"old {old_size}\n", *(base64.b64encode(h).decode() + "\n" for h in proof), "\n"]
    return ("".join(lines) + note).encode()


@dataclass(frozen=True, slots=True)
class AddCheckpoint:
    old_size: int
    proof: tuple[bytes, ...]
    note: str


def parse_add_checkpoint(body: bytes) -> AddCheckpoint:
    """The parts of an add-checkpoint request; NoteError says what is malformed (the witness answers 400)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise NoteError("the request body is not UTF-8") from None
    head, sep, note = text.partition("\n\n")
    if not sep:
        raise NoteError("expected an old size line, proof lines, an empty line and a checkpoint")
    lines = head.split("\n")
    match = _OLD.match(lines[0])
    if match is None:
        raise NoteError("the first line must be 'old <size>' (decimal, no leading zeroes)")
    if len(lines) - 1 > MAX_PROOF_LINES:
        raise NoteError(f"more than {MAX_PROOF_LINES} consistency proof lines")
    proof = []
    for line in lines[1:]:
        try:
            value = base64.b64decode(line, validate=True)
        except binascii.Error:
            raise NoteError("a consistency proof line is not base64") from None
        if len(value) != 32:
            raise NoteError("a consistency proof line is not a 32-byte hash")
        proof.append(value)
    return AddCheckpoint(int(match.group(1)), tuple(proof), note)
