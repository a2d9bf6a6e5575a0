"""Results of the artifact scan: findings, the overall outcome and the caps that bound the work."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from charter.evaluation.scan_rules import Severity


@dataclass(frozen=True)
class Finding:
    """One problem (or note) about one file; `global_name` is the pickle import involved, if any."""

    file: str
    format: str
    severity: Severity
    global_name: str | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        """Evidence form: {file, format, severity, global, detail}."""
        return {
            "file": self.file,
            "format": self.format,
            "severity": str(self.severity),
            "global": self.global_name,
            "detail": self.detail,
        }


@dataclass(frozen=True)
class ScanResult:
    """Outcome of a scan: `safe` means no critical finding."""

    performed: bool
    safe: bool
    formats: tuple[str, ...]
    findings: tuple[Finding, ...]
    files_scanned: int = 0
    bytes_decompressed: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Evidence form: {performed, safe, formats, findings}."""
        return {
            "performed": self.performed,
            "safe": self.safe,
            "formats": list(self.formats),
            "findings": [f.to_dict() for f in self.findings],
        }


@dataclass(frozen=True)
class ScanLimits:
    """Caps that bound the work an adversarial artifact can cause."""

    max_decompressed_bytes: int = 512 * 1024 * 1024
    max_compression_ratio: int = 200
    max_depth: int = 3
    max_files: int = 100_000


def not_scanned() -> ScanResult:
    """The result recorded when no artifact was scanned."""
    return ScanResult(performed=False, safe=False, formats=(), findings=())
