"""Format helpers: structural checks of safetensors, ONNX and .npy headers; zip and compression detection."""

from __future__ import annotations

import ast
import bz2
import gzip
import json
import lzma
import re
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from charter.evaluation.pickle_scan import Stream
from charter.evaluation.scan_rules import Severity

Problem = tuple[Severity, str]

SAFETENSORS_MAX_HEADER = 100_000_000
NPY_MAGIC = b"\x93NUMPY"
GGUF_MAGIC = b"GGUF"
HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"

# Bytes per element; sub-byte float formats are checked for bounds only.
SAFETENSORS_DTYPES: dict[str, int | None] = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "F8_E8M0": 1, "I16": 2, "U16": 2, "F16": 2,
    "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "C64": 8, "I64": 8, "U64": 8, "F64": 8, "F4": None,
    "F6_E2M3": None, "F6_E3M2": None,
}  # fmt: skip


def safetensors_header_length(prefix: bytes, file_size: int) -> int | None:
    """Header length from the 8-byte little-endian prefix, or None when it cannot be a safetensors file."""
    if len(prefix) < 8:
        return None
    n = int.from_bytes(prefix[:8], "little")
    if n < 2 or n > SAFETENSORS_MAX_HEADER or 8 + n > file_size:
        return None
    return n


def check_safetensors_header(header: bytes, data_len: int) -> list[Problem]:
    """Validate the JSON header: tensor entries with known dtype, shape and in-bounds, gap-free offsets."""
    try:
        doc = json.loads(header.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return [(Severity.WARNING, f"safetensors header is not valid JSON: {exc}")]
    if not isinstance(doc, dict):
        return [(Severity.WARNING, "safetensors header is not a JSON object")]
    problems: list[Problem] = []
    spans: list[tuple[int, int, str]] = []
    for name, entry in doc.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                problems.append((Severity.WARNING, "safetensors __metadata__ must map strings to strings"))
            continue
        problem = _check_tensor_entry(name, entry, data_len)
        if problem:
            problems.append((Severity.WARNING, problem))
        else:
            begin, end = entry["data_offsets"]
            spans.append((begin, end, name))
    spans.sort()
    cursor = 0
    for begin, end, name in spans:
        if begin != cursor:
            problems.append((Severity.WARNING, f"safetensors tensor '{name}' overlaps or leaves a gap at byte {begin}"))
            break
        cursor = end
    if not problems and cursor != data_len:
        problems.append((Severity.WARNING, f"safetensors data is {data_len} bytes but tensors cover {cursor}"))
    return problems


def _check_tensor_entry(name: str, entry: Any, data_len: int) -> str | None:
    if not isinstance(entry, dict):
        return f"safetensors entry '{name}' is not an object"
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if dtype not in SAFETENSORS_DTYPES:
        return f"safetensors tensor '{name}' has unknown dtype {dtype!r}"
    if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
        return f"safetensors tensor '{name}' has an invalid shape {shape!r}"
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) for o in offsets)
        or not 0 <= offsets[0] <= offsets[1] <= data_len
    ):
        return f"safetensors tensor '{name}' has data_offsets {offsets!r} outside the {data_len}-byte data area"
    size = SAFETENSORS_DTYPES[dtype]
    if size is not None and int(np.prod(shape, dtype=np.int64)) * size != offsets[1] - offsets[0]:
        return f"safetensors tensor '{name}' shape {shape} x {dtype} does not match its {offsets[1] - offsets[0]} bytes"
    return None


class _ProtobufError(Exception):
    pass


def _varint(buf: memoryview, i: int, end: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if i >= end or shift > 63:
            raise _ProtobufError(f"truncated or overlong varint at byte {i}")
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, i
        shift += 7


def _fields(buf: memoryview, start: int, end: int) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, value or start, end) of each field in buf[start:end]."""
    i = start
    while i < end:
        key, i = _varint(buf, i, end)
        number, wire = key >> 3, key & 7
        if number == 0:
            raise _ProtobufError(f"field number 0 at byte {i}")
        if wire == 0:
            value, i = _varint(buf, i, end)
            yield number, wire, value, i
        elif wire in (1, 5):
            width = 8 if wire == 1 else 4
            if i + width > end:
                raise _ProtobufError(f"truncated fixed-width field at byte {i}")
            yield number, wire, i, i + width
            i += width
        elif wire == 2:
            length, i = _varint(buf, i, end)
            if i + length > end:
                raise _ProtobufError(f"field {number} runs past its message at byte {i}")
            yield number, wire, i, i + length
            i += length
        else:
            raise _ProtobufError(f"unsupported wire type {wire} at byte {i}")


_STANDARD_DOMAINS = frozenset(
    {"", "ai.onnx", "ai.onnx.ml", "ai.onnx.training", "ai.onnx.preview.training", "com.microsoft"}
)
_ESCAPING_PATH = re.compile(r"(^[/\\])|(^[A-Za-z]:)|(^|[/\\])\.\.([/\\]|$)")


def check_onnx(buf: memoryview) -> list[Problem]:
    """Walk the ModelProto: ir_version and graph must be present; flag custom op domains and escaping external data."""
    problems: list[Problem] = []
    try:
        top = list(_fields(buf, 0, len(buf)))
        if not any(n == 1 and w == 0 for n, w, _, _ in top) or not any(n == 7 and w == 2 for n, w, _, _ in top):
            return [(Severity.WARNING, "not an ONNX model: ir_version or graph is missing")]
        for number, wire, start, end in top:
            if number == 8 and wire == 2:  # opset_import
                for n, w, s, e in _fields(buf, start, end):
                    if n == 1 and w == 2:
                        domain = bytes(buf[s:e]).decode("utf-8", "replace")
                        if domain not in _STANDARD_DOMAINS:
                            problems.append(
                                (Severity.WARNING, f"custom operator domain '{domain}' needs a native op library")
                            )
            elif number == 7 and wire == 2:
                problems.extend(_check_external_data(buf, start, end))
    except _ProtobufError as exc:
        return [(Severity.WARNING, f"not a valid ONNX protobuf: {exc}")]
    return problems


def _check_external_data(buf: memoryview, start: int, end: int) -> list[Problem]:
    problems: list[Problem] = []
    for n, w, s, e in _fields(buf, start, end):
        if n != 5 or w != 2:  # GraphProto.initializer
            continue
        for tn, tw, ts, te in _fields(buf, s, e):
            if tn != 13 or tw != 2:  # TensorProto.external_data
                continue
            entry = {k: bytes(buf[a:b]).decode("utf-8", "replace") for k, wt, a, b in _fields(buf, ts, te) if wt == 2}
            key, value = entry.get(1), entry.get(2, "")
            if key == "location" and _ESCAPING_PATH.search(value):
                problems.append(
                    (Severity.CRITICAL, f"external data location '{value}' points outside the model directory")
                )
    return problems


def parse_npy_header(head: bytes) -> tuple[np.dtype[Any], int]:
    """(dtype, offset of the data) from the start of a .npy file; ValueError when malformed."""
    if not head.startswith(NPY_MAGIC) or len(head) < 10:
        raise ValueError("missing .npy magic")
    major = head[6]
    if major == 1:
        length, start = int.from_bytes(head[8:10], "little"), 10
    elif major in (2, 3):
        length, start = int.from_bytes(head[8:12], "little"), 12
    else:
        raise ValueError(f"unknown .npy version {major}")
    if start + length > len(head):
        raise ValueError(".npy header runs past the data read")
    text = head[start : start + length].decode("latin-1" if major < 3 else "utf-8")
    meta = ast.literal_eval(text)
    if not isinstance(meta, dict) or "descr" not in meta:
        raise ValueError(".npy header is not a dict with 'descr'")
    dtype = np.lib.format.descr_to_dtype(meta["descr"])
    return dtype, start + length


def zip_format(names: list[str]) -> str:
    """What a zip archive holds, from its member names."""
    if any(n.endswith("constants.pkl") or "/code/" in n for n in names):
        return "torchscript"
    if any(n == "data.pkl" or n.endswith("/data.pkl") for n in names):
        return "pytorch"
    if names and all(n.lower().endswith(".npy") for n in names):
        return "numpy"
    if "config.json" in names and any(n.endswith(".weights.h5") for n in names):
        return "keras"
    return "zip"


def compression_kind(head: bytes) -> str | None:
    """gzip, bz2, xz, lzma or zlib (joblib's compressors) from the first bytes."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"BZh"):
        return "bz2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    if head.startswith(b"]\x00\x00"):
        return "lzma"
    if len(head) >= 2 and head[0] == 0x78 and (head[0] * 256 + head[1]) % 31 == 0:
        return "zlib"
    return None


class ZlibReader:
    """File-like raw zlib stream (joblib's zlib compressor) that inflates lazily."""

    def __init__(self, raw: Stream) -> None:
        self.raw = raw
        self.inflater = zlib.decompressobj()

    def read(self, n: int) -> bytes:
        out = b""
        while len(out) < n and not self.inflater.eof:
            tail = self.inflater.unconsumed_tail
            data = tail if tail else self.raw.read(1 << 16)
            if not data:
                break
            out += self.inflater.decompress(data, n - len(out))
        return out


def open_decompressed(kind: str, stream: Any) -> Any:
    """A file-like object reading the decompressed stream lazily."""
    if kind == "gzip":
        return gzip.GzipFile(fileobj=stream, mode="rb")
    if kind == "bz2":
        return bz2.BZ2File(stream, mode="rb")
    if kind in {"xz", "lzma"}:
        return lzma.LZMAFile(stream, mode="rb")
    return ZlibReader(stream)
