"""Open an untrusted zip without being hurt by it: no path traversal, links, encryption, duplicate names, or
decompression bombs (caps on members, per-member and total uncompressed size, and compression ratio)."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from charter.core.errors import CharterError, ErrorCode, ErrorKind, InvalidInput

CHUNK = 1 << 16
_DRIVE = re.compile(r"^[A-Za-z]:")
_S_IFMT, _S_IFLNK, _S_IFREG = 0o170000, 0o120000, 0o100000


class ZipUnsafe(CharterError):
    """The archive was refused before anything in it was trusted."""

    kind = ErrorKind.FAILED
    code = ErrorCode.PACK_UNSAFE


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps for an archive; the ratio applies to members (and the whole) above `ratio_floor` bytes."""

    max_members: int = 5_000
    max_member_bytes: int = 1 << 30
    max_total_bytes: int = 2 << 30
    max_ratio: float = 200.0
    ratio_floor: int = 1 << 20


def unsafe_name(name: str) -> str | None:
    """Why a member name may not be extracted or trusted, or None when it is a plain relative path."""
    if not name or len(name) > 255:
        return "empty or longer than 255 characters"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return "contains control characters"
    if "\\" in name:
        return "contains a backslash"
    if name.startswith("/") or _DRIVE.match(name):
        return "is an absolute path"
    parts = name.split("/")
    if ".." in parts:
        return "climbs out of the archive (..)"
    if any(p in ("", ".") for p in parts):
        return "has an empty or '.' path component"
    return None


def checked_members(zf: zipfile.ZipFile, limits: Limits) -> list[zipfile.ZipInfo]:
    """Every member, after checking names, types and declared sizes; ZipUnsafe on the first violation."""
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise ZipUnsafe(f"{len(infos)} members exceed the limit of {limits.max_members}")
    seen: set[str] = set()
    total = packed = 0
    for info in infos:
        name = info.filename
        why = unsafe_name(name)
        if why is not None:
            raise ZipUnsafe(f"member {name[:100]!r} {why}", details={"member": name[:255]})
        if name in seen:
            raise ZipUnsafe(f"member {name!r} appears twice", details={"member": name})
        seen.add(name)
        mode = (info.external_attr >> 16) & _S_IFMT
        if mode not in (0, _S_IFREG):
            kind = "a symbolic link" if mode == _S_IFLNK else "not a regular file"
            raise ZipUnsafe(f"member {name!r} is {kind}", details={"member": name})
        if info.flag_bits & 0x1:
            raise ZipUnsafe(f"member {name!r} is encrypted", details={"member": name})
        if info.file_size > limits.max_member_bytes:
            raise ZipUnsafe(
                f"member {name!r} would expand to {info.file_size} bytes (limit {limits.max_member_bytes})",
                details={"member": name},
            )
        if info.file_size > limits.ratio_floor and info.file_size > limits.max_ratio * max(info.compress_size, 1):
            ratio = info.file_size / max(info.compress_size, 1)
            raise ZipUnsafe(
                f"member {name!r} expands {ratio:.0f}× (limit {limits.max_ratio:.0f}×): a zip bomb?",
                details={"member": name},
            )
        total += info.file_size
        packed += info.compress_size
    if total > limits.max_total_bytes:
        raise ZipUnsafe(f"the archive would expand to {total} bytes (limit {limits.max_total_bytes})")
    if total > limits.ratio_floor and total > limits.max_ratio * max(packed, 1):
        raise ZipUnsafe(
            f"the archive expands {total / max(packed, 1):.0f}× (limit {limits.max_ratio:.0f}×): a zip bomb?"
        )
    return infos


def open_zip(source: IO[bytes]) -> zipfile.ZipFile:
    """The archive in `source`; InvalidInput (pack_malformed) when it is not a zip file."""
    try:
        return zipfile.ZipFile(source)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        raise InvalidInput(f"not a readable zip archive: {exc}", code=ErrorCode.PACK_MALFORMED) from None


def chunks(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The member's bytes in chunks, never more than its declared size (a lying header is refused)."""
    left = info.file_size
    with zf.open(info) as fh:
        while True:
            block = fh.read(CHUNK)
            if not block:
                return
            left -= len(block)
            if left < 0:
                raise ZipUnsafe(f"member {info.filename!r} is larger than its header says")
            yield block


def read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, limit: int) -> bytes:
    """A small member read whole (at most `limit` bytes)."""
    if info.file_size > limit:
        raise ZipUnsafe(f"member {info.filename!r} is {info.file_size} bytes; at most {limit} expected")
    return b"".join(chunks(zf, info))
