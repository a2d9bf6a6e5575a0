"""Hashing helpers shared by every domain."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from pathlib import Path

CHUNK = 1 << 20


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hmac_sha256_hex(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def sha256_file(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """Stream a file through SHA-256; `progress(n)` is called with each chunk's size."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return h.hexdigest()


def sha256_tree(root: Path, progress: Callable[[int], None] | None = None) -> str:
    """Digest of a directory: sha256 over sorted `relative-path\\0file-digest\\n` lines."""
    if root.is_file():
        return sha256_file(root, progress)
    lines = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        lines.append(f"{rel}\0{sha256_file(path, progress)}\n")
    return sha256_hex("".join(lines).encode())


def tree_size(root: Path) -> int:
    if root.is_file():
        return root.stat().st_size
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
