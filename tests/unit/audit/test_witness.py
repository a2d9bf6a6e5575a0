"""The witness (C2SP tlog-witness) and cosignatures (tlog-cosignature): the witness's checks and their HTTP codes,
and the cosignature format checked by a verifier written from the specs alone (not from Charter's code)."""

from __future__ import annotations

import base64
import hashlib
import struct
import threading
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from charter.audit import cosign
from charter.audit.merkle import Levels, leaf_hash
from charter.audit.note import Checkpoint, Verifier, sign_note, verifier_key
from charter.audit.proofs import consistency_proof
from charter.audit.witnessing import Witnessing, parse_targets
from charter.core.errors import InvalidInput
from charter.core.signing import SigningKey
from charter.witness.app import Refused, Witness, origin_hash
from charter.witness.state import Mismatch, State

ORIGIN = "charter.example/audit"
LOG_KEY = SigningKey(Ed25519PrivateKey.generate())
WITNESS_KEY = SigningKey(Ed25519PrivateKey.generate())
NAME = "witness.example/w1"


class Log:
    """A log of `n` leaves whose checkpoints the tests sign."""

    def __init__(self, n: int, salt: bytes = b"") -> None:
        self.leaves = [leaf_hash(salt + str(i).encode()) for i in range(n)]

    def root(self, size: int) -> bytes:
        return Levels(self.leaves[:size]).root(size) if size else hashlib.sha256(b"").digest()

    def note(self, size: int) -> str:
        return sign_note(Checkpoint(ORIGIN, size, self.root(size)).body(), ORIGIN, LOG_KEY)

    def proof(self, old: int, new: int) -> list[bytes]:
        return consistency_proof(old, new, lambda a, b: Levels(self.leaves[a:b]).root(b - a))

    def request(self, old: int, size: int) -> bytes:
        return cosign.add_checkpoint_body(old, self.proof(old, size) if 0 < old < size else [], self.note(size))


@pytest.fixture
def witness(tmp_path: Path) -> Witness:
    log_verifier = Verifier.parse(verifier_key(ORIGIN, LOG_KEY.public_raw))
    return Witness(NAME, WITNESS_KEY, [log_verifier], State(tmp_path / "w.db"), clock=lambda: 1_700_000_000)


# --- a verifier written from c2sp.org/tlog-cosignature and c2sp.org/signed-note only --------------------------


def spec_verify_cosignature(note: str, name: str, vkey: str) -> int:
    """Return the timestamp of the Ed25519 cosignature/v1 by (name, vkey) on the note; raise otherwise."""
    # vkey: <name>+<hex key ID>+<base64(0x04 || 32-byte key)>
    vname, vid, vb64 = vkey.split("+", 2)
    raw = base64.b64decode(vb64)
    assert vname == name and raw[0] == 0x04 and len(raw) == 33
    key_id = hashlib.sha256(name.encode() + b"\n" + b"\x04" + raw[1:]).digest()[:4]
    assert key_id.hex() == vid
    # A note: text, an empty line, signature lines "— <name> <base64>".
    body, sigs = note.split("\n\n", 1)
    body += "\n"
    for line in sigs.splitlines():
        prefix = "\u2014 " + name + " "
        if not line.startswith(prefix):
            continue
        blob = base64.b64decode(line[len(prefix) :])
        if blob[:4] != key_id or len(blob) != 76:
            continue
        timestamp = struct.unpack(">Q", blob[4:12])[0]
        signed = b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + body.encode()
        try:
            Ed25519PublicKey.from_public_bytes(raw[1:]).verify(blob[12:], signed)
        except InvalidSignature:
            continue
        return int(timestamp)
    raise AssertionError("no valid cosignature")


def test_first_cosignature_verifies_with_a_spec_only_verifier(witness: Witness) -> None:
    log = Log(5)
    line = witness.add(log.request(0, 5))
    assert line.startswith(f"\u2014 {NAME} ") and line.endswith("\n")
    assert spec_verify_cosignature(log.note(5) + line, NAME, witness.vkey) == 1_700_000_000
    # The monitoring API serves the checkpoint with the log's signature and the cosignature.
    served = witness.latest(origin_hash(ORIGIN))
    assert served == log.note(5) + line
    assert witness.latest(hashlib.sha256(b"other").hexdigest()) is None


def test_the_witness_follows_a_growing_log_and_refuses_everything_else(witness: Witness) -> None:
    log = Log(20)
    witness.add(log.request(0, 3))
    witness.add(log.request(3, 8))
    witness.add(log.request(8, 8))  # the same tree again
    witness.add(log.request(8, 20))
    # The client's idea of the witness's size is wrong: 409 with the size (the HTTP layer writes it as the body).
    with pytest.raises(Mismatch) as stale:
        witness.add(log.request(8, 20))
    assert stale.value.latest == 20
    # Rollback: a smaller checkpoint, or a consistent-looking one from a rewritten log.
    with pytest.raises(Refused) as smaller:
        witness.add(log.request(20, 12))
    assert smaller.value.status == 400
    rewritten = Log(25, salt=b"x")
    with pytest.raises(Refused) as fork:
        witness.add(rewritten.request(20, 25))
    assert fork.value.status == 422
    with pytest.raises(Refused) as same_size_fork:
        witness.add(rewritten.request(20, 20))
    assert same_size_fork.value.status == 422 and "fork" in str(same_size_fork.value)
    served = witness.latest(origin_hash(ORIGIN))
    assert served is not None and served.startswith(log.note(20).split("\n\n")[0])


@pytest.mark.parametrize(
    ("mutate", "status"),
    [
        (lambda body: body.replace(b"old 0", b"old 00"), 400),
        (lambda body: b"new 0\n\n" + body.split(b"\n\n", 1)[1], 400),
        (lambda body: body.replace(ORIGIN.encode(), b"unknown.example/log"), 404),
        (lambda body: body[:-10] + b"AAAAAAAAA\n", 403),
    ],
    ids=["leading zero", "no old line", "unknown origin", "bad log signature"],
)
def test_malformed_or_untrusted_submissions(witness: Witness, mutate: object, status: int) -> None:
    body = Log(4).request(0, 4)
    with pytest.raises(Refused) as refused:
        witness.add(mutate(body))  # type: ignore[operator]
    assert refused.value.status == status


def test_old_zero_takes_no_proof_and_the_empty_tree_has_its_root(witness: Witness) -> None:
    log = Log(4)
    body = cosign.add_checkpoint_body(0, [b"\x00" * 32], log.note(4))
    with pytest.raises(Refused) as refused:
        witness.add(body)
    assert refused.value.status == 422
    empty = sign_note(Checkpoint(ORIGIN, 0, b"\x01" * 32).body(), ORIGIN, LOG_KEY)
    with pytest.raises(Refused) as bad_empty:
        witness.add(cosign.add_checkpoint_body(0, [], empty))
    assert bad_empty.value.status == 422


def test_concurrent_submissions_never_roll_the_witness_back(witness: Witness) -> None:
    log = Log(64)
    witness.add(log.request(0, 1))
    results: list[object] = []

    def submit(size: int) -> None:
        try:
            results.append(witness.add(log.request(1, size)))
        except (Mismatch, Refused) as exc:
            results.append(exc)

    threads = [threading.Thread(target=submit, args=(s,)) for s in range(2, 64)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(isinstance(r, str) for r in results) == 1  # only one extension of size 1 wins
    latest = witness.state.latest(ORIGIN)
    assert latest is not None and latest.size >= 2


def test_witness_targets_name_the_bad_entry() -> None:
    vkey = cosign.cosigner_key(NAME, WITNESS_KEY.public_raw)
    (t,) = parse_targets(f"{vkey}@http://127.0.0.1:8480/")
    assert t.url == "http://127.0.0.1:8480" and t.name == NAME
    with pytest.raises(InvalidInput, match="entry 2"):
        parse_targets(f"{vkey}@http://a, nonsense@http://b")
    with pytest.raises(InvalidInput, match="entry 1"):
        parse_targets(vkey)
    log_key = verifier_key(ORIGIN, LOG_KEY.public_raw)  # a note key (type 0x01) is not a cosigner key
    with pytest.raises(InvalidInput, match="0x04"):
        parse_targets(f"{log_key}@http://a")


def test_a_quorum_larger_than_the_witnesses_is_refused_at_start() -> None:
    """CHARTER_WITNESS_QUORUM=3 with one witness could never be met: every checkpoint would be 'not witnessed'."""
    targets = parse_targets(f"{cosign.cosigner_key(NAME, WITNESS_KEY.public_raw)}@http://127.0.0.1:8480")
    with pytest.raises(InvalidInput, match="CHARTER_WITNESS_QUORUM is 3 but CHARTER_WITNESSES names 1") as bad:
        Witnessing(targets, 3)
    assert bad.value.field == "CHARTER_WITNESS_QUORUM"
    assert Witnessing(targets, 0).quorum == 1 and Witnessing(targets, 1).quorum == 1
