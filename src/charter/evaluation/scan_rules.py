"""Which globals a pickle may import: dangerous (critical), known-safe (no finding) or unknown (warning)."""

from __future__ import annotations

from enum import StrEnum


class Severity(StrEnum):
    CRITICAL = "critical"
    WARNING = "warning"
    INFO = "info"


# Importing anything from these modules gives a pickle process, file, network or interpreter control.
CRITICAL_MODULES = frozenset(
    {
        "os", "posix", "nt", "subprocess", "_posixsubprocess", "sys", "socket", "_socket", "ssl", "shutil",
        "runpy", "importlib", "imp", "_imp", "zipimport", "pkgutil", "pty", "webbrowser", "requests", "urllib",
        "urllib2", "urllib3", "httpx", "aiohttp", "http", "httplib", "ftplib", "telnetlib", "smtplib", "poplib",
        "imaplib", "xmlrpc", "ctypes", "_ctypes", "cffi", "multiprocessing", "_multiprocessing", "code", "codeop",
        "pdb", "bdb", "commands", "popen2", "marshal", "pickle", "_pickle", "cPickle", "dill", "cloudpickle",
        "shelve", "signal", "platform", "pip", "setuptools", "distutils", "fcntl", "resource", "site",
        "ensurepip", "venv", "asyncio", "tempfile", "glob", "paramiko", "sqlite3", "dbm", "ptrace",
    }
)  # fmt: skip

_CRITICAL_BUILTINS = frozenset(
    {
        "eval", "exec", "execfile", "compile", "open", "file", "__import__", "getattr", "setattr", "delattr",
        "globals", "locals", "vars", "input", "raw_input", "breakpoint", "apply", "reload", "exit", "quit",
        "help", "__build_class__",
    }
)  # fmt: skip

CRITICAL_GLOBALS = frozenset(
    {
        ("operator", "attrgetter"), ("operator", "methodcaller"), ("_operator", "attrgetter"),
        ("_operator", "methodcaller"), ("io", "open"), ("io", "FileIO"), ("io", "open_code"), ("_io", "open"),
        ("_io", "FileIO"), ("codecs", "open"), ("numpy.testing._private.utils", "runstring"),
        ("numpy", "load"), ("numpy.lib.npyio", "load"), ("numpy", "fromfile"), ("numpy", "memmap"),
        ("torch", "load"), ("torch.serialization", "load"), ("torch.hub", "load"), ("torch.jit", "load"),
        ("joblib", "load"), ("joblib.numpy_pickle", "load"), ("pandas", "read_pickle"), ("pandas", "eval"),
        ("pandas.io.pickle", "read_pickle"), ("pandas.core.computation.eval", "eval"), ("numexpr", "evaluate"),
        ("types", "FunctionType"), ("types", "LambdaType"), ("types", "CodeType"), ("types", "MethodType"),
        ("types", "ModuleType"), ("types", "BuiltinFunctionType"),
    }
)  # fmt: skip

# Function names that mean code or command execution whatever module holds them.
CRITICAL_NAMES = frozenset(
    {
        "eval", "exec", "execfile", "system", "popen", "popen2", "popen3", "popen4", "getoutput",
        "getstatusoutput", "check_output", "check_call", "spawnl", "spawnlp", "spawnv", "spawnvp", "spawnve",
        "execl", "execle", "execlp", "execv", "execve", "execvp", "execvpe", "__import__", "import_module",
        "load_module", "runstring", "run_path", "run_module", "startfile",
    }
)  # fmt: skip

_SAFE_BUILTINS = frozenset(
    {
        "set", "frozenset", "slice", "range", "complex", "bytearray", "bytes", "list", "dict", "tuple", "int",
        "float", "str", "bool", "object", "NotImplemented", "Ellipsis", "xrange", "unicode", "long",
    }
)  # fmt: skip

SAFE_GLOBALS = frozenset(
    {
        ("collections", "OrderedDict"), ("collections", "defaultdict"), ("collections", "deque"),
        ("collections", "Counter"), ("_collections", "OrderedDict"), ("_collections", "deque"),
        ("copyreg", "_reconstructor"), ("copy_reg", "_reconstructor"), ("copyreg", "__newobj__"),
        ("copyreg", "__newobj_ex__"), ("_codecs", "encode"), ("datetime", "datetime"), ("datetime", "date"),
        ("datetime", "time"), ("datetime", "timedelta"), ("datetime", "timezone"), ("decimal", "Decimal"),
        ("fractions", "Fraction"), ("uuid", "UUID"), ("types", "SimpleNamespace"),
        ("numpy", "dtype"), ("numpy", "ndarray"), ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
        ("numpy._core.multiarray", "scalar"), ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"), ("numpy.ma.core", "_mareconstruct"),
        ("numpy.ma.core", "MaskedArray"), ("numpy.matrixlib.defmatrix", "matrix"),
        ("numpy.random._pickle", "__randomstate_ctor"), ("numpy.random._pickle", "__bit_generator_ctor"),
        ("numpy.random._pickle", "__generator_ctor"), ("numpy.random.mtrand", "RandomState"),
        ("numpy.random._mt19937", "MT19937"), ("numpy.random._pcg64", "PCG64"),
        ("numpy.random._pcg64", "PCG64DXSM"), ("numpy.random._philox", "Philox"), ("numpy.random._sfc64", "SFC64"),
        ("numpy.random._generator", "Generator"), ("numpy.random.bit_generator", "SeedSequence"),
        ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"), ("numpy", "matrix"), ("numpy.ma", "MaskedArray"),
        ("joblib.numpy_pickle", "NumpyArrayWrapper"), ("joblib.numpy_pickle_compat", "NDArrayWrapper"),
        ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"),
        ("torch._utils", "_rebuild_tensor"), ("torch._utils", "_rebuild_tensor_v2"),
        ("torch._utils", "_rebuild_tensor_v3"), ("torch._utils", "_rebuild_parameter"),
        ("torch._utils", "_rebuild_parameter_with_state"), ("torch._utils", "_rebuild_qtensor"),
        ("torch._utils", "_rebuild_sparse_tensor"), ("torch._utils", "_rebuild_nested_tensor"),
        ("torch._utils", "_rebuild_device_tensor_from_numpy"), ("torch._utils", "_rebuild_meta_tensor_no_storage"),
        ("torch._utils", "_rebuild_wrapper_subclass"), ("torch._tensor", "_rebuild_from_type_v2"),
        ("torch", "Size"), ("torch", "device"), ("torch", "Tensor"), ("torch.nn.parameter", "Parameter"),
        ("torch.storage", "UntypedStorage"), ("torch.storage", "TypedStorage"), ("torch", "UntypedStorage"),
        ("pandas.core.indexes.base", "_new_Index"), ("pandas._libs.internals", "_unpickle_block"),
        ("pandas.core.internals.blocks", "new_block"), ("pandas._libs.tslibs.timestamps", "_unpickle_timestamp"),
        ("pandas._libs.tslibs.timedeltas", "_timedelta_unpickle"),
    }
)  # fmt: skip

_NUMPY_SCALARS = frozenset(
    {
        "bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float16", "float32",
        "float64", "longdouble", "complex64", "complex128", "str_", "bytes_", "object_", "datetime64",
        "timedelta64", "void", "intc", "uintc", "intp", "uintp", "longlong", "ulonglong", "half", "single",
        "double", "csingle", "cdouble",
    }
)  # fmt: skip

_TORCH_DTYPES = frozenset(
    {
        "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int64", "long", "int32", "int",
        "int16", "short", "int8", "uint8", "bool", "complex64", "complex128", "float8_e4m3fn", "float8_e5m2",
        "qint8", "quint8", "qint32",
    }
)  # fmt: skip

_SPARSE = frozenset(
    f"{kind}_{shape}" for kind in ("csr", "csc", "coo", "bsr", "dia", "dok", "lil") for shape in ("matrix", "array")
)

# Roots whose classes (CapWords names) are reconstructed by plain attribute restoring, never by running code.
_CLASS_ROOTS = ("sklearn.", "xgboost.", "lightgbm.", "catboost.", "torch.nn.modules.", "pandas.", "scipy.")


def classify_global(module: str, name: str) -> tuple[Severity, str] | None:
    """Severity and reason for a pickle importing `module.name`; None when it is on the allowlist."""
    root = module.split(".", 1)[0]
    if module in {"builtins", "__builtin__"}:
        if name in _SAFE_BUILTINS:
            return None
        if name in _CRITICAL_BUILTINS:
            return Severity.CRITICAL, f"builtin '{name}' can run code or touch files when the pickle is loaded"
        return Severity.WARNING, f"builtin '{name}' is not on the allowlist"
    if root in CRITICAL_MODULES:
        return Severity.CRITICAL, f"module '{root}' gives process, file, network or interpreter access on load"
    if (module, name) in CRITICAL_GLOBALS or name in CRITICAL_NAMES:
        return Severity.CRITICAL, f"'{module}.{name}' can run code or load further untrusted data on load"
    if (module, name) in SAFE_GLOBALS:
        return None
    if module == "numpy" and name in _NUMPY_SCALARS:
        return None
    if module == "torch" and (name in _TORCH_DTYPES or name.endswith("Storage")):
        return None
    if root == "scipy" and module.startswith("scipy.sparse") and name in _SPARSE:
        return None
    qualified = f"{module}."
    if qualified.startswith(_CLASS_ROOTS) and name[:1].isupper() and "." not in name:
        return None
    if qualified.startswith(_CLASS_ROOTS) and name.startswith("__pyx_unpickle_"):
        return None
    if (module, name) == ("torch.storage", "_load_from_bytes"):
        return Severity.WARNING, "nested torch.load of embedded bytes (the embedded data is scanned too)"
    return Severity.WARNING, f"'{module}.{name}' is not on the allowlist of known-safe globals"
