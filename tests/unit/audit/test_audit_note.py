"""Signed notes and checkpoints: the Go sumdb/note reference vector, tampering, foreign signatures."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from charter.audit.note import (
    Checkpoint,
    NoteError,
    Verifier,
    key_hash,
    open_note,
    parse_checkpoint,
    sign_note,
    verifier_key,
    verify_checkpoint,
)
from charter.core.signing import SigningKey

# golang.org/x/mod/sumdb/note (note.go documentation and tests): Ed25519 is deterministic, so our signer must
# reproduce the published note byte for byte.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = (
    GO_TEXT
    + "\n— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)


def go_key() -> SigningKey:
    seed = base64.b64decode(GO_SKEY.split("+", 4)[4])[1:]
    return SigningKey(Ed25519PrivateKey.from_private_bytes(seed))


def test_go_reference_vector() -> None:
    key = go_key()
    assert verifier_key("PeterNeumann", key.public_raw) == GO_VKEY
    assert key_hash("PeterNeumann", key.public_raw).hex() == "c74f20a3"
    assert sign_note(GO_TEXT, "PeterNeumann", key) == GO_NOTE
    assert open_note(GO_NOTE, Verifier.parse(GO_VKEY)) == GO_TEXT


def test_tampered_or_foreign_notes_are_refused() -> None:
    v = Verifier.parse(GO_VKEY)
    with pytest.raises(NoteError):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), v)
    other = SigningKey(Ed25519PrivateKey.generate())
    foreign = sign_note(GO_TEXT, "PeterNeumann", other)
    with pytest.raises(NoteError, match="no valid signature"):
        open_note(foreign, v)
    # An extra signature by someone else does not matter; ours still verifies.
    both = foreign + GO_NOTE.rsplit("\n\n", 1)[1]
    assert open_note(both, v) == GO_TEXT
    with pytest.raises(NoteError):
        open_note(GO_TEXT, v)
    with pytest.raises(NoteError):
        open_note(GO_NOTE.replace("— ", "- "), v)


@pytest.mark.parametrize(
    "bad", [GO_VKEY.replace("c74f20a3", "c74f20a4"), GO_VKEY[:-2], "PeterNeumann+c74f20a3", "a b+00000000+AQ=="]
)
def test_bad_verifier_keys(bad: str) -> None:
    with pytest.raises(NoteError):
        Verifier.parse(bad)


def test_checkpoint_round_trip_and_origin_binding() -> None:
    key = SigningKey(Ed25519PrivateKey.generate())
    cp = Checkpoint("charter.local/audit", 42, bytes(range(32)))
    assert cp.body() == f"charter.local/audit\n42\n{base64.b64encode(bytes(range(32))).decode()}\n"
    note = sign_note(cp.body(), cp.origin, key)
    assert verify_checkpoint(note, verifier_key(cp.origin, key.public_raw)) == cp
    with pytest.raises(NoteError):
        verify_checkpoint(note.replace("\n42\n", "\n43\n"), verifier_key(cp.origin, key.public_raw))
    # Extension lines after the root are allowed by tlog-checkpoint and ignored.
    assert parse_checkpoint(cp.body() + "extra line\n") == cp
    for text in ("o\n01\n" + base64.b64encode(bytes(32)).decode() + "\n", "o\n1\nAAAA\n", "o\n1\n"):
        with pytest.raises(NoteError):
            parse_checkpoint(text)
    other_name = sign_note(cp.body(), "someone.else", key)
    with pytest.raises(NoteError):
        verify_checkpoint(other_name, verifier_key("someone.else", key.public_raw))
