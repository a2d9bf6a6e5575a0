"""Key material on disk: Ed25519 signing keys and the audit HMAC key, files with 0600 permissions."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

LICENSE_KEY = "license-ed25519.pem"
AUDIT_KEY = "audit-ed25519.pem"
HMAC_KEY = "audit-hmac.key"


def _write_secret(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def thumbprint(public_raw: bytes) -> str:
    """RFC 7638 thumbprint of an Ed25519 public key's OKP JWK."""
    canonical = '{"crv":"Ed25519","kty":"OKP","x":"' + _b64url(public_raw) + '"}'
    return _b64url(hashlib.sha256(canonical.encode()).digest())


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key with its raw public key and RFC 7638 JWK thumbprint."""

    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def public_raw(self) -> bytes:
        return self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def sign(self, data: bytes) -> bytes:
        return self.private.sign(data)

    @property
    def thumbprint(self) -> str:
        """RFC 7638 thumbprint of the OKP JWK: the `kid` of license tokens."""
        return thumbprint(self.public_raw)

    def public_jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": _b64url(self.public_raw),
            "kid": self.thumbprint,
            "alg": "EdDSA",
            "use": "sig",
        }


HMAC_KEY_ID_LABEL = b"charter/audit-hmac/key-id"


def hmac_key_id(key: bytes) -> str:
    """A public name for the audit HMAC key: HMAC-SHA256(key, label), 16 hex digits; it reveals nothing of the key."""
    return hmac.new(key, HMAC_KEY_ID_LABEL, hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class KeyRing:
    license: SigningKey
    audit: SigningKey
    hmac: bytes

    @property
    def hmac_id(self) -> str:
        return hmac_key_id(self.hmac)

    def fingerprints(self) -> dict[str, str]:
        """What the database records of this key set: JWK thumbprints of the signing keys, the HMAC key id."""
        return {"license": self.license.thumbprint, "audit": self.audit.thumbprint, "hmac": self.hmac_id}


def ensure_keys(keys_dir: Path) -> bool:
    """Create any missing key file (0600) in `keys_dir` (0700); return True when something was created."""
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    created = False
    for name in (LICENSE_KEY, AUDIT_KEY):
        path = keys_dir / name
        if not path.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            _write_secret(path, pem)
            created = True
    hmac_path = keys_dir / HMAC_KEY
    if not hmac_path.exists():
        _write_secret(hmac_path, secrets.token_bytes(32))
        created = True
    return created


def load_keys(keys_dir: Path) -> KeyRing:
    """Load the key ring; a missing file is an error that names `charter init`."""
    files: dict[str, bytes] = {}
    for name in (LICENSE_KEY, AUDIT_KEY, HMAC_KEY):
        path = keys_dir / name
        if not path.exists():
            raise FileNotFoundError(f"{path} is missing: run `charter init` (or point CHARTER_HOME at the data dir)")
        files[name] = path.read_bytes()
    return ring_from_files(files, str(keys_dir))


def ring_from_files(files: Mapping[str, bytes], where: str) -> KeyRing:
    """The key ring from the contents of its three files (ValueError naming the file when one is not a key)."""

    def _ed(name: str) -> SigningKey:
        try:
            key = serialization.load_pem_private_key(files[name], password=None)
        except (ValueError, TypeError):
            key = None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{where}/{name} is not an unencrypted Ed25519 private key (PEM)")
        return SigningKey(key)

    hmac_key = files[HMAC_KEY]
    if len(hmac_key) < 32:
        raise ValueError(f"{where}/{HMAC_KEY} holds {len(hmac_key)} bytes; an audit HMAC key has at least 32")
    return KeyRing(license=_ed(LICENSE_KEY), audit=_ed(AUDIT_KEY), hmac=hmac_key)
