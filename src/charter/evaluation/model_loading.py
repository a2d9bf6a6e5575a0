"""Loading a scikit-learn pickle or joblib file for `charter evaluate --model`, never anything else.

Two locks, both needed: the scan must report nothing but notes (an unknown global is as blocking as a known-dangerous
one), and the unpickler itself resolves only globals on an explicit allowlist (`find_class` refuses the rest), so a
global the scan failed to see still never runs. ONNX and safetensors cannot run code when loaded: prefer them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from charter.core.errors import ErrorCode
from charter.evaluation.scan_result import ScanResult
from charter.evaluation.scan_rules import Severity, classify_global

RECOMMENDED = "ONNX and safetensors are the recommended formats: they cannot run code when loaded"

# Modules whose allowlisted globals (`classify_global` → None) a scikit-learn model may need. Everything else that
# the scan tolerates (torch, pandas, xgboost…) is still refused here: --model runs scikit-learn estimators only.
_LOADABLE_ROOTS = frozenset(
    {"builtins", "__builtin__", "collections", "_collections", "copyreg", "copy_reg", "_codecs", "datetime",
     "decimal", "fractions", "uuid", "numpy", "scipy", "sklearn", "joblib"}
)  # fmt: skip
_REFUSED = frozenset({("joblib.numpy_pickle_compat", "NDArrayWrapper")})  # reads companion files with np.load


class UnsafeModel(Exception):
    """The model was not loaded; `code` is the problem code, the message says why and what to use instead."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def loadable_global(module: str, name: str) -> bool:
    """True only for a global on the explicit allowlist of what a scikit-learn model is made of."""
    if (module, name) in _REFUSED or classify_global(module, name) is not None:
        return False
    if module.split(".", 1)[0] not in _LOADABLE_ROOTS:
        return False
    parts = module.split(".")
    return not any(p in {"tests", "_testing", "testing"} for p in parts)


def blocking_findings(scan: ScanResult) -> list[str]:
    """Every finding that is more than a note: critical, unknown globals, unparsed bytes. Any of them blocks loading."""
    if not scan.performed:
        return ["the file was not scanned"]
    return [f"{f.file}: {f.detail}" for f in scan.findings if f.severity is not Severity.INFO]


def check_loadable(path: Path, scan: ScanResult) -> None:
    """Raise UnsafeModel unless the scan of `path` is clean (notes only)."""
    blocking = blocking_findings(scan)
    if blocking:
        shown = "; ".join(blocking[:3]) + (f" (and {len(blocking) - 3} more)" if len(blocking) > 3 else "")
        raise UnsafeModel(
            ErrorCode.MODEL_UNSAFE, f"model: {path.name} was not loaded because its scan found: {shown}. {RECOMMENDED}"
        )


def load_pickled_model(path: Path, scan: ScanResult) -> Any:
    """Unpickle a scikit-learn pickle/joblib file whose scan is clean, resolving only allowlisted globals."""
    check_loadable(path, scan)
    import joblib.numpy_pickle as numpy_pickle  # type: ignore[import-untyped]
    from joblib.numpy_pickle_utils import _validate_fileobject_and_memmap  # type: ignore[import-untyped]

    class _Restricted(numpy_pickle.NumpyUnpickler):  # type: ignore[misc]
        def find_class(self, module: str, name: str) -> Any:
            if not loadable_global(module, name):
                raise UnsafeModel(
                    ErrorCode.MODEL_UNSAFE,
                    f"model: {path.name} was not loaded: it imports '{module}.{name}', which is not on the allowlist "
                    f"of scikit-learn and NumPy globals. {RECOMMENDED}",
                )
            return super().find_class(module, name)

    with path.open("rb") as fh, _validate_fileobject_and_memmap(fh, str(path), None) as (fobj, _):
        if isinstance(fobj, str):
            raise UnsafeModel(
                ErrorCode.MODEL_UNSAFE,
                f"model: {path.name} is a joblib < 0.10 file with companion files. {RECOMMENDED}",
            )
        unpickler = _Restricted(str(path), fobj, ensure_native_byte_order=True, mmap_mode=None)
        return unpickler.load()
