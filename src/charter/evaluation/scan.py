"""Artifact safety scan of model files and directories. Nothing is ever unpickled or imported.

Pickle-based files (pickle, joblib, PyTorch zip and legacy, NumPy object arrays) are walked opcode by
opcode and every import is classified; safetensors, ONNX and GGUF are recognized as formats that cannot run
code and checked structurally. Decompression (zip members, gzip/bz2/xz joblib) is capped so zip bombs stop.
"""

from __future__ import annotations

import io
import lzma
import mmap
import os
import re
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from charter.core.errors import InvalidInput
from charter.evaluation.pickle_scan import PickleEvents, looks_like_pickle, walk_pickles
from charter.evaluation.scan_formats import (
    GGUF_MAGIC,
    HDF5_MAGIC,
    NPY_MAGIC,
    check_onnx,
    check_safetensors_header,
    compression_kind,
    open_decompressed,
    parse_npy_header,
    safetensors_header_length,
    zip_format,
)
from charter.evaluation.scan_result import Finding, ScanLimits, ScanResult, not_scanned
from charter.evaluation.scan_rules import Severity, classify_global

__all__ = ["Finding", "ScanLimits", "ScanResult", "not_scanned", "scan_bytes", "scan_path"]

PICKLE_SUFFIXES = {".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt", ".bin", ".sav"}
_TORCH_SUFFIXES = {".pt", ".pth", ".ckpt", ".bin"}
_COMPRESSED = {".gz", ".bz2", ".xz", ".lzma", ".z"}
_TENSOR_STORAGE = re.compile(r"(^|/)data/\d+$")


class _Scanner:
    def __init__(self, limits: ScanLimits) -> None:
        self.limits = limits
        self.findings: list[Finding] = []
        self.formats: set[str] = set()
        self.files = 0
        self.decompressed = 0

    def add(self, file: str, fmt: str, severity: Severity, detail: str, global_name: str | None = None) -> None:
        self.findings.append(Finding(file, fmt, severity, global_name, detail))

    def result(self) -> ScanResult:
        order = {Severity.CRITICAL: 0, Severity.WARNING: 1, Severity.INFO: 2}
        findings = sorted(self.findings, key=lambda f: (order[f.severity], f.file, f.global_name or "", f.detail))
        return ScanResult(
            performed=True,
            safe=not any(f.severity is Severity.CRITICAL for f in findings),
            formats=tuple(sorted(self.formats)),
            findings=tuple(findings),
            files_scanned=self.files,
            bytes_decompressed=self.decompressed,
        )

    # -- files on disk -------------------------------------------------------------------------------------

    def scan_file(self, path: Path, label: str) -> None:
        size = path.stat().st_size
        suffix = path.suffix.lower()
        if size == 0:
            if suffix in PICKLE_SUFFIXES | {".safetensors", ".onnx"}:
                self.files += 1
                self.add(label, "unknown", Severity.WARNING, "empty model file")
            return
        with path.open("rb") as fh:
            if fh.read(4) in {b"PK\x03\x04", b"PK\x05\x06"}:
                fmt: str | None = self.scan_zip(fh, label, depth=0)
            else:
                # mmap: reads past the end return short instead of allocating what a hostile length asks for.
                with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                    fmt = self.scan_stream(mm, size, label, path.name, depth=0)
        if fmt is not None:
            self.files += 1
            self.formats.add(fmt)

    def scan_stream(self, stream: Any, size: int, label: str, name: str, depth: int) -> str | None:
        """Scan one file's bytes; returns the recognized format, None when the file is not a model artifact."""
        lower = name.lower()
        suffix = os.path.splitext(lower)[1]
        stream.seek(0)
        head = stream.read(16)
        stream.seek(0)
        if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
            return self.scan_zip(stream, label, depth)
        if suffix == ".safetensors" or (
            suffix not in PICKLE_SUFFIXES and safetensors_header_length(head, size) and head[8:9] == b"{"
        ):
            problems = self.safetensors_problems(stream, size)
            if not (problems and looks_like_pickle(head)):
                self.report_problems(label, "safetensors", problems)
                return "safetensors"
            self.add(label, "pickle", Severity.WARNING, f"named {suffix or 'like safetensors'} but holds a pickle")
        elif suffix == ".onnx":
            if isinstance(stream, io.BytesIO):
                problems = check_onnx(stream.getbuffer())
            else:
                with memoryview(stream) as view:
                    problems = check_onnx(view)
            if not (problems and looks_like_pickle(head)):
                self.report_problems(label, "onnx", problems)
                return "onnx"
            self.add(label, "pickle", Severity.WARNING, "named .onnx but holds a pickle")
        if head.startswith(GGUF_MAGIC):
            return "gguf"
        if head.startswith(NPY_MAGIC):
            return self.scan_npy(stream, size, label)
        if head.startswith(HDF5_MAGIC):
            self.add(
                label, "hdf5", Severity.WARNING, "HDF5/Keras file not inspected; Keras Lambda layers can carry code"
            )
            return "hdf5"
        compressed = compression_kind(head)
        if compressed and (suffix in _COMPRESSED | PICKLE_SUFFIXES):
            inner = lower if suffix in PICKLE_SUFFIXES else os.path.splitext(lower)[0]
            return self.scan_compressed(stream, compressed, label, inner, depth)
        if looks_like_pickle(head) or suffix in PICKLE_SUFFIXES:
            fmt = "joblib" if ".joblib" in lower else "pytorch" if suffix in _TORCH_SUFFIXES else "pickle"
            stream.seek(0)
            events = walk_pickles(stream, size)
            if events.joblib_arrays:
                fmt = "joblib"
            self.report_pickle(events, label, fmt, depth, speculative=False)
            return fmt
        if suffix == ".py":
            self.add(
                label, "python", Severity.WARNING, "Python source shipped with the model; trust_remote_code runs it"
            )
            return "python"
        return None

    # -- formats -------------------------------------------------------------------------------------------

    def report_problems(self, label: str, fmt: str, problems: list[tuple[Severity, str]]) -> None:
        for severity, detail in problems:
            self.add(label, fmt, severity, detail)

    def report_pickle(self, events: PickleEvents, label: str, fmt: str, depth: int, *, speculative: bool) -> None:
        if speculative and (events.error is not None or events.pickles == 0):
            return  # bytes that merely started like a pickle
        seen: dict[tuple[str, str], list[Any]] = {}
        for ref, pos, opcode in events.globals:
            entry = seen.setdefault((ref.module, ref.name), [pos, opcode, 0])
            entry[2] += 1
        for (module, gname), (pos, opcode, count) in seen.items():
            verdict = classify_global(module, gname)
            if verdict is None:
                continue
            severity, reason = verdict
            more = f", {count} references" if count > 1 else ""
            self.add(label, fmt, severity, f"{reason} ({opcode} at byte {pos}{more})", f"{module}.{gname}")
        for pos in events.computed_globals:
            self.add(label, fmt, Severity.CRITICAL, f"STACK_GLOBAL at byte {pos} imports a name computed at load time")
        for pos, code in events.extensions:
            self.add(
                label, fmt, Severity.WARNING, f"copyreg extension code {code} at byte {pos} imports an unseen global"
            )
        if events.error is not None and events.pickles == 0 and not events.globals and events.error_pos in (0, None):
            self.add(label, fmt, Severity.WARNING, "content is neither a pickle nor another known model format")
        elif events.error is not None:
            where = f" at byte {events.error_pos}" if events.error_pos is not None else ""
            self.add(
                label, fmt, Severity.WARNING, f"pickle could not be parsed{where}: {events.error}; rest not checked"
            )
        if events.trailing_bytes:
            self.add(label, fmt, Severity.INFO, f"{events.trailing_bytes} bytes of raw data follow the pickles")
        if events.pickles and not speculative:
            self.add(
                label, fmt, Severity.INFO, "pickle-based format: loading runs the imports it names; prefer safetensors"
            )
        for pos, data in events.embedded:
            if depth + 1 > self.limits.max_depth:
                self.add(label, fmt, Severity.WARNING, f"embedded payload at byte {pos} nested too deeply; not scanned")
                continue
            if data[:4] == b"PK\x03\x04":
                self.scan_zip(io.BytesIO(data), f"{label}@{pos}", depth + 1)
            else:
                nested = walk_pickles(io.BytesIO(data), len(data))
                self.report_pickle(nested, f"{label}@{pos}", fmt, depth + 1, speculative=True)

    def safetensors_problems(self, stream: Any, size: int) -> list[tuple[Severity, str]]:
        stream.seek(0)
        n = safetensors_header_length(stream.read(8), size)
        if n is None:
            return [(Severity.WARNING, "safetensors header length is missing or out of bounds")]
        return check_safetensors_header(stream.read(n), size - 8 - n)

    def scan_npy(self, stream: Any, size: int, label: str) -> str:
        try:
            dtype, offset = parse_npy_header(stream.read(65_536))
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError) as exc:
            self.add(label, "numpy", Severity.WARNING, f"malformed .npy header: {exc}")
            return "numpy"
        if dtype.hasobject:
            self.add(label, "numpy", Severity.INFO, "object array: the data is a pickle (np.load needs allow_pickle)")
            self.report_pickle(walk_pickles(stream, size, start=offset), label, "numpy", 1, speculative=False)
        return "numpy"

    def scan_compressed(self, stream: Any, kind: str, label: str, inner: str, depth: int) -> str | None:
        try:
            data, complete = self.read_capped(open_decompressed(kind, stream))
        except (EOFError, OSError, ValueError, zlib.error, lzma.LZMAError) as exc:
            self.add(label, kind, Severity.WARNING, f"corrupt {kind} data: {exc}")
            return kind
        if not complete:
            self.add(
                label,
                kind,
                Severity.WARNING,
                f"decompressed data exceeds the scan budget; only {len(data)} bytes checked",
            )
        if depth >= self.limits.max_depth:
            self.add(label, kind, Severity.WARNING, "compressed data nested too deeply; not scanned")
            return kind
        fmt = self.scan_stream(io.BytesIO(data), len(data), label, inner, depth + 1)
        return fmt or kind

    def scan_zip(self, stream: Any, label: str, depth: int) -> str:
        try:
            zf = zipfile.ZipFile(stream)
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            self.add(label, "zip", Severity.WARNING, f"unreadable zip archive: {exc}")
            return "zip"
        with zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            fmt = zip_format([i.filename for i in infos])
            for info in infos[: self.limits.max_files]:
                self.scan_member(zf, info, label, fmt, depth)
            if len(infos) > self.limits.max_files:
                self.add(label, fmt, Severity.WARNING, f"{len(infos)} archive members; only the first were scanned")
        return fmt

    def scan_member(self, zf: zipfile.ZipFile, info: zipfile.ZipInfo, label: str, fmt: str, depth: int) -> None:
        name = info.filename
        member = f"{label}:{name}"
        lower = name.lower()
        suffix = os.path.splitext(lower)[1]
        if info.compress_size and info.file_size / info.compress_size > self.limits.max_compression_ratio:
            ratio = info.file_size // info.compress_size
            self.add(
                member, fmt, Severity.WARNING, f"compression ratio {ratio}:1 looks like a zip bomb; read is capped"
            )
        if fmt in {"pytorch", "torchscript"} and _TENSOR_STORAGE.search(name):
            return  # raw tensor bytes, never unpickled
        definite = suffix in {".pkl", ".pickle"} or (fmt == "keras" and lower.endswith("config.json"))
        nested = suffix in {".zip", ".pt", ".pth", ".npz", ".npy", ".joblib", ".bin", ".ckpt", ".keras", ".onnx"}
        try:
            with zf.open(info) as fh:
                head = fh.read(8)
                if not (definite or nested or looks_like_pickle(head) or head.startswith(b"PK\x03\x04")):
                    return
                self.decompressed += len(head)
                rest, complete = self.read_capped(fh)
        except (zipfile.BadZipFile, RuntimeError, OSError, zlib.error, EOFError, NotImplementedError) as exc:
            self.add(member, fmt, Severity.WARNING, f"archive member unreadable: {exc}")
            return
        data = head + rest
        if not complete:
            self.add(
                member, fmt, Severity.WARNING, f"member exceeds the decompression cap; only {len(data)} bytes checked"
            )
        if fmt == "keras" and lower.endswith("config.json"):
            if b'"Lambda"' in data:
                self.add(member, fmt, Severity.WARNING, "Keras Lambda layer stores Python code (refused by safe_mode)")
            return
        if suffix in {".pkl", ".pickle"} or (looks_like_pickle(head) and not nested):
            self.report_pickle(walk_pickles(io.BytesIO(data), len(data)), member, fmt, depth, speculative=not definite)
        elif depth < self.limits.max_depth:
            self.scan_stream(io.BytesIO(data), len(data), member, name, depth + 1)
        else:
            self.add(member, fmt, Severity.WARNING, "nested archive too deep; not scanned")

    def read_capped(self, fh: Any) -> tuple[bytes, bool]:
        """Read until EOF or until the scan's decompression budget is spent."""
        remaining = self.limits.max_decompressed_bytes - self.decompressed
        chunks: list[bytes] = []
        got = 0
        while got <= remaining:
            chunk = fh.read(min(1 << 20, remaining - got + 1))
            if not chunk:
                self.decompressed += got
                return b"".join(chunks), True
            chunks.append(chunk)
            got += len(chunk)
        data = b"".join(chunks)[:remaining]
        self.decompressed += len(data)
        return data, False


def _walk(root: Path) -> Iterator[Path]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".git"))
        for f in sorted(filenames):
            p = Path(dirpath) / f
            if p.is_file():
                yield p


def scan_path(path: str | Path, *, limits: ScanLimits | None = None) -> ScanResult:
    """Scan one model file or every file under a directory; labels are paths relative to `path`."""
    root = Path(path)
    if not root.exists():
        raise InvalidInput(f"{root}: model artifact not found; pass a file or directory path", field="path")
    scanner = _Scanner(limits or ScanLimits())
    if root.is_dir():
        for n, p in enumerate(_walk(root)):
            if n >= scanner.limits.max_files:
                scanner.add(str(root), "directory", Severity.WARNING, "too many files; the rest were not scanned")
                break
            _scan_one(scanner, p, p.relative_to(root).as_posix())
    else:
        _scan_one(scanner, root, root.name)
    if scanner.files == 0:
        scanner.add(root.name, "unknown", Severity.WARNING, "no model artifact recognized")
    return scanner.result()


def _scan_one(scanner: _Scanner, path: Path, label: str) -> None:
    try:
        scanner.scan_file(path, label)
    except OSError as exc:
        scanner.add(label, "unknown", Severity.WARNING, f"file could not be read: {exc}")


def scan_bytes(data: bytes, name: str, *, limits: ScanLimits | None = None) -> ScanResult:
    """Scan an artifact held in memory (e.g. an upload) named `name` (the extension guides detection)."""
    scanner = _Scanner(limits or ScanLimits())
    fmt = scanner.scan_stream(io.BytesIO(data), len(data), name, name, depth=0) if data else None
    if fmt is None:
        scanner.add(name, "unknown", Severity.WARNING, "no model artifact recognized")
    else:
        scanner.files += 1
        scanner.formats.add(fmt)
    return scanner.result()
