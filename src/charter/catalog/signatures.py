"""OpenSSF model signing: verify a signature bundle over a model version's files, offline, with the signer's key.

The bundle (`model.sig`, a Sigstore bundle holding a DSSE-signed in-toto statement) lists every file of the model
with its sha256. Verifying it needs only the bundle and the public key: the signature is checked with the
`model-signing` library, then the signed file list is compared with the files the version was registered with
(whose digests the server already checked against the version's digest). So the server never needs the files, and
a tampered, missing or extra file is named.

Key-based signatures (elliptic-curve keys, as `model_signing sign key` makes) are verified here; Sigstore keyless
signatures need the public-good transparency log and are not accepted by an offline server.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization

from charter.core.errors import ErrorCode, InvalidInput

MAX_BUNDLE_BYTES = 256 << 10
MAX_KEY_BYTES = 16 << 10


@dataclass(frozen=True, slots=True)
class Verified:
    method: str  # "key"
    signer: str  # sha256:<hex> of the public key (SubjectPublicKeyInfo, DER)
    bundle_sha256: str
    files: int

    def to_dict(self) -> dict[str, Any]:
        return {"verified": True, "method": self.method, "signer": self.signer, "bundle_sha256": self.bundle_sha256}


def _bad(message: str, field: str, code: str = "invalid_signature") -> InvalidInput:
    return InvalidInput(message, code=code, field=field)


def key_fingerprint(public_key_pem: bytes) -> str:
    try:
        key = serialization.load_pem_public_key(public_key_pem)
    except (ValueError, TypeError):
        raise _bad("not a PEM public key (-----BEGIN PUBLIC KEY-----)", "signature.public_key") from None
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def signed_files(bundle: bytes, public_key_pem: bytes) -> dict[str, str]:
    """Verify the bundle's signature with the key; the signed file list (path → sha256 hex)."""
    try:
        from model_signing._signing import sign_ec_key, sign_sigstore_pb
    except ImportError:  # pragma: no cover - the extra is installed wherever tests run
        raise _bad(
            "this server cannot verify model signatures: install charter[signing] (model-signing)",
            "signature",
            code=ErrorCode.SIGNING_UNAVAILABLE,
        ) from None
    with tempfile.TemporaryDirectory(prefix="charter-sig.") as tmp:
        sig_path, key_path = Path(tmp) / "model.sig", Path(tmp) / "key.pub"
        sig_path.write_bytes(bundle)
        key_path.write_bytes(public_key_pem)
        try:
            signature = sign_sigstore_pb.Signature.read(sig_path)
        except Exception as exc:
            raise _bad(f"not a model-signing bundle ({type(exc).__name__})", "signature.bundle") from None
        try:
            # The library's elliptic-key verifier (what `verifying.Config().use_elliptic_key_verifier` uses), without
            # its hashing of local files: the signed list is compared with the registered one below.
            verifier: Any = sign_ec_key.Verifier(key_path)
            manifest = verifier.verify(signature)
        except Exception as exc:
            raise _bad(
                f"the signature does not verify with this public key ({type(exc).__name__})", "signature.public_key"
            ) from None
    serialization_type = manifest.serialization_type
    if serialization_type.get("method") != "files" or serialization_type.get("hash_type") != "sha256":
        raise _bad(
            f"signed as {serialization_type.get('method')}/{serialization_type.get('hash_type')}: sign per file "
            "with sha256 (model_signing's default) so the signed files can be compared with the registered ones",
            "signature.bundle",
        )
    return {str(rd.identifier): rd.digest.digest_hex for rd in manifest.resource_descriptors()}


def compare(signed: dict[str, str], registered: Sequence[tuple[str, str]]) -> None:
    """Raise naming the files that differ between the signed list and the registered files (path, sha256)."""
    mine = dict(registered)
    if len(mine) == 1 and len(signed) == 1:  # a single-file model: signed under its own name
        (path, digest), (signed_path, _) = next(iter(mine.items())), next(iter(signed.items()))
        if Path(path).name == Path(signed_path).name:
            mine = {signed_path: digest}
    problems: list[str] = []
    for path in sorted(set(mine) - set(signed)):
        problems.append(f"{path}: not covered by the signature (an extra file)")
    for path in sorted(set(signed) - set(mine)):
        problems.append(f"{path}: signed but not among the registered files (missing)")
    for path in sorted(set(mine) & set(signed)):
        if mine[path] != signed[path]:
            problems.append(f"{path}: sha256 {mine[path][:16]}… differs from the signed {signed[path][:16]}…")
    if problems:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        raise _bad(
            f"the model's files do not match the signature: {shown}", "signature", code=ErrorCode.SIGNATURE_MISMATCH
        )


def verify(bundle_text: str, public_key_pem: str, registered: Sequence[tuple[str, str]]) -> Verified:
    """Verify a bundle over a version's registered files; `InvalidInput` naming the field or the file otherwise."""
    bundle = bundle_text.encode()
    key = public_key_pem.encode()
    if len(bundle) > MAX_BUNDLE_BYTES:
        raise _bad(f"the bundle exceeds {MAX_BUNDLE_BYTES} bytes", "signature.bundle")
    if len(key) > MAX_KEY_BYTES:
        raise _bad(f"the public key exceeds {MAX_KEY_BYTES} bytes", "signature.public_key")
    signer = key_fingerprint(key)
    signed = signed_files(bundle, key)
    compare(signed, registered)
    return Verified("key", signer, "sha256:" + hashlib.sha256(bundle).hexdigest(), len(signed))
