"""Local inspection of model artifacts and dataset files: streamed SHA-256, size, file list, format.

Runs where the files are (the CLI on the user's machine); the server receives the result, never the bytes.
A directory's digest is `charter.core.hashing.sha256_tree`'s: sha256 over sorted `path\\0file-digest\\n` lines,
which the server recomputes from the file list to check the declared digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from charter.catalog.formats import detect
from charter.core.errors import ErrorCode, InvalidInput
from charter.core.hashing import CHUNK

MAX_FILES = 4_000  # keeps the file list under the API body limit (1 MiB)
Progress = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class FileEntry:
    path: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass(frozen=True, slots=True)
class ArtifactInfo:
    """What Charter records about an artifact: `sha256:<hex>`, total size, files, detected format."""

    digest: str
    size: int
    files: tuple[FileEntry, ...]
    format: str | None
    framework: str | None
    is_dir: bool


def _file_digest(path: Path, progress: Progress | None) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
            if progress is not None:
                progress(len(chunk))
    return h.hexdigest()


def tree_digest(entries: Sequence[tuple[str, str]]) -> str:
    """Digest of a directory from (relative path, file hex digest) pairs, as `sha256_tree` computes it."""
    lines = "".join(f"{rel}\0{digest}\n" for rel, digest in sorted(entries))
    return hashlib.sha256(lines.encode()).hexdigest()


def list_files(root: Path, field: str = "artifact") -> list[tuple[Path, str, int]]:
    """(absolute path, relative posix path, size) of every file; raises InvalidInput for a missing path."""
    if not root.exists():
        raise InvalidInput(f"{field}: no such file or directory: {root}", code=ErrorCode.FILE_NOT_FOUND, field=field)
    if root.is_file():
        return [(root, root.name, root.stat().st_size)]
    files = sorted((p for p in root.rglob("*") if p.is_file()), key=lambda p: p.relative_to(root).as_posix())
    if not files:
        raise InvalidInput(f"{field}: directory {root} contains no files", code=ErrorCode.EMPTY_ARTIFACT, field=field)
    if len(files) > MAX_FILES:
        raise InvalidInput(
            f"{field}: {root} has more than {MAX_FILES} files", code=ErrorCode.TOO_MANY_FILES, field=field
        )
    return [(p, p.relative_to(root).as_posix(), p.stat().st_size) for p in files]


def inspect(root: Path, progress: Progress | None = None, field: str = "artifact") -> ArtifactInfo:
    """Hash a file or directory (streamed; `progress(n)` per chunk) and detect its format."""
    listing = list_files(root, field)
    entries = tuple(FileEntry(rel, size, _file_digest(path, progress)) for path, rel, size in listing)
    if root.is_file():
        digest = entries[0].sha256
    else:
        digest = tree_digest([(e.path, e.sha256) for e in entries])
    fmt, framework = detect((e.path, e.size) for e in entries)
    return ArtifactInfo(
        digest=f"sha256:{digest}",
        size=sum(e.size for e in entries),
        files=entries,
        format=fmt,
        framework=framework,
        is_dir=root.is_dir(),
    )


def total_size(root: Path, field: str = "artifact") -> int:
    """Bytes that `inspect` will read (for a progress bar)."""
    return sum(size for _, _, size in list_files(root, field))
