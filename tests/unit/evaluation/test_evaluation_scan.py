"""Artifact scan: real malicious pickles are caught in every container; benign models pass; nothing is loaded."""

from __future__ import annotations

import builtins
import collections
import gzip
import io
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import types
import zipfile
from pathlib import Path
from typing import Any

import joblib  # type: ignore[import-untyped]  # no py.typed, no stubs
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from charter.core.errors import InvalidInput
from charter.evaluation.pickle_scan import GlobalRef, walk_pickles
from charter.evaluation.scan import ScanLimits, ScanResult, not_scanned, scan_bytes, scan_path
from charter.evaluation.scan_rules import Severity, classify_global

PROTOCOLS = range(pickle.HIGHEST_PROTOCOL + 1)


def _payload(func: Any, *args: Any) -> Any:
    class Payload:
        def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
            return func, args

    return Payload()


def _critical(result: ScanResult) -> set[str]:
    return {f.global_name or f.detail for f in result.findings if f.severity is Severity.CRITICAL}


def _problems(result: ScanResult) -> list[Any]:
    return [f for f in result.findings if f.severity is not Severity.INFO]


@pytest.fixture(scope="module")
def sklearn_models() -> list[Any]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(300, 5))
    y = (x[:, 0] + 0.3 * rng.normal(size=300) > 0).astype(int)
    return [
        make_pipeline(StandardScaler(), LogisticRegression()).fit(x, y),
        RandomForestClassifier(n_estimators=4, random_state=0).fit(x, y),
    ]


# -- plain pickles ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize(
    ("func", "args", "expected"),
    [
        (os.system, ("echo pwned",), {"posix.system", "nt.system"}),
        (subprocess.Popen, (["id"],), {"subprocess.Popen", "commands.Popen"}),
        (builtins.eval, ("1+1",), {"builtins.eval", "__builtin__.eval"}),
        (builtins.exec, ("x=1",), {"builtins.exec", "__builtin__.exec"}),
        (builtins.getattr, ("abc", "upper"), {"builtins.getattr", "__builtin__.getattr"}),
        (builtins.__import__, ("os",), {"builtins.__import__", "__builtin__.__import__"}),
        (builtins.open, ("/etc/passwd",), {"io.open"}),
        (socket.create_connection, (("example.com", 80),), {"socket.create_connection"}),
        (shutil.rmtree, ("/tmp/x",), {"shutil.rmtree"}),
        (sys.exit, (3,), {"sys.exit"}),
    ],
)
def test_malicious_pickles_are_critical(protocol: int, func: Any, args: tuple[Any, ...], expected: set[str]) -> None:
    data = pickle.dumps(_payload(func, *args), protocol=protocol)
    result = scan_bytes(data, "evil.pkl")
    assert result.performed and not result.safe
    assert _critical(result) & expected, result.findings
    finding = next(f for f in result.findings if f.global_name in expected)
    assert finding.file == "evil.pkl" and finding.format == "pickle" and "at byte" in finding.detail


def test_stack_global_operands_from_memo_are_resolved() -> None:
    # "os" and "system" are memoized, popped, and fetched back: the two opcodes before STACK_GLOBAL are BINGETs.
    data = (
        b"\x80\x04"
        b"\x8c\x02os\x94"  # SHORT_BINUNICODE 'os', MEMOIZE 0
        b"0"  # POP
        b"\x8c\x06system\x94"  # MEMOIZE 1
        b"0"
        b"h\x00h\x01\x93"  # BINGET 0, BINGET 1, STACK_GLOBAL
        b"\x8c\x02id\x85R."  # 'id', TUPLE1, REDUCE, STOP
    )
    assert pickle.loads.__name__  # the payload is only ever walked, never loaded
    result = scan_bytes(data, "memo.pkl")
    assert "os.system" in _critical(result)


def test_computed_stack_global_is_critical() -> None:
    # The module name is the result of a call: legit pickles never do this.
    data = (
        b"\x80\x04\x8c\x08builtins\x8c\x03str\x93\x8c\x02os\x85R"  # str('os') -> computed
        b"\x8c\x06system\x93."
    )
    result = scan_bytes(data, "computed.pkl")
    assert any("computed at load time" in f.detail for f in result.findings if f.severity is Severity.CRITICAL)


def test_extension_codes_are_reported() -> None:
    result = scan_bytes(b"\x80\x02\x82\x01)R.", "ext.pkl")
    assert any("extension code 1" in f.detail for f in result.findings if f.severity is Severity.WARNING)


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_benign_sklearn_pickle_passes(sklearn_models: list[Any], protocol: int) -> None:
    for model in sklearn_models:
        result = scan_bytes(pickle.dumps(model, protocol=protocol), "model.pkl")
        assert result.safe and _problems(result) == [], result.findings
        assert result.formats == ("pickle",)
        assert [f.severity for f in result.findings] == [Severity.INFO]  # "prefer safetensors"


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
def test_benign_containers_and_numpy_values() -> None:
    value = {
        "od": collections.OrderedDict(a=1),
        "dd": collections.defaultdict(list),
        "arr": np.arange(6, dtype=np.float32).reshape(2, 3),
        "scalar": np.float64(1.5),
        "set": {1, 2},
        "fs": frozenset({3}),
        "bytes": b"\x00\x01",
        "rng": np.random.default_rng(1),
        "legacy_rng": np.random.RandomState(1),
        "masked": np.ma.masked_array([1, 2], [False, True]),
        "matrix": np.matrix([[1]]),
        "misc": (slice(1, 2), 1j, range(3), bytearray(b"x"), np.dtype("M8[ns]")),
    }
    for protocol in PROTOCOLS:
        result = scan_bytes(pickle.dumps(value, protocol=protocol), "v.pkl")
        assert _problems(result) == [], (protocol, result.findings)


def test_unknown_global_is_a_warning_not_unsafe() -> None:
    result = scan_bytes(pickle.dumps(Path("/tmp/x"), protocol=4), "p.pkl")
    assert result.safe
    assert [f.global_name for f in _problems(result)] == ["pathlib.PosixPath"]
    assert _problems(result)[0].severity is Severity.WARNING


# -- joblib ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("compress", [0, 3, ("gzip", 3), ("bz2", 3), ("xz", 3), ("lzma", 3)])
def test_joblib_arrays_are_skipped_and_later_payload_found(tmp_path: Path, compress: Any) -> None:
    big = np.arange(50_000, dtype=np.float64)  # raw bytes that would derail a naive opcode walk
    obj = {"a": big, "objects": np.array([1, "x", None], dtype=object), "z_evil": _payload(os.system, "id")}
    path = tmp_path / "model.joblib"
    joblib.dump(obj, path, compress=compress)
    result = scan_path(path)
    assert result.formats == ("joblib",)
    assert "posix.system" in _critical(result) or "nt.system" in _critical(result)
    assert not any("could not be parsed" in f.detail for f in result.findings)


def test_benign_joblib_model_passes(tmp_path: Path, sklearn_models: list[Any]) -> None:
    for compress in (0, 3):
        path = tmp_path / f"m{compress}.joblib"
        joblib.dump(sklearn_models, path, compress=compress)
        result = scan_path(path)
        assert result.safe and _problems(result) == [], result.findings


def test_joblib_arrays_of_every_layout(tmp_path: Path) -> None:
    arrays = {
        "unicode": np.array(["ab", "cde"]),
        "bytes": np.array([b"x", b"yz"]),
        "datetime": np.array(["2020-01-01"], dtype="M8[ns]"),
        "record": np.zeros(3, dtype=[("a", "i4"), ("b", "f8")]),
        "big_endian": np.arange(5, dtype=">i4"),
        "fortran": np.asfortranarray(np.ones((3, 4))),
        "half": np.ones(3, dtype="f2"),
        "complex": np.ones(2, dtype="c16"),
        "empty": np.zeros((0, 3)),
        "zero_dim": np.array(5),
        "after": _payload(os.system, "id"),
    }
    joblib.dump(arrays, tmp_path / "layouts.joblib")
    result = scan_path(tmp_path / "layouts.joblib")
    assert [f.global_name for f in _problems(result)] in (["posix.system"], ["nt.system"])


def test_payload_inside_joblib_object_array(tmp_path: Path) -> None:
    arr = np.empty(2, dtype=object)
    arr[0] = 1
    arr[1] = _payload(subprocess.check_output, ["id"])
    joblib.dump({"x": np.ones(10), "arr": arr}, tmp_path / "o.pkl")
    assert "subprocess.check_output" in _critical(scan_path(tmp_path / "o.pkl"))


# -- PyTorch ----------------------------------------------------------------------------------------------


class _StorageRef:
    pass


@pytest.fixture
def fake_torch(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """torch is not installed: importable stand-ins so pickle writes the same globals torch.save does."""
    torch = types.ModuleType("torch")
    utils = types.ModuleType("torch._utils")

    def _rebuild_tensor_v2(*args: Any) -> None:
        raise AssertionError("never called")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    storage = type("FloatStorage", (), {"__module__": "torch"})
    torch.FloatStorage = storage  # type: ignore[attr-defined]
    torch._utils = utils  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "torch", torch)
    monkeypatch.setitem(sys.modules, "torch._utils", utils)
    return torch


def _torch_pickle(torch: types.ModuleType, extra: Any = None) -> bytes:
    class Tensor:
        def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
            return torch._utils._rebuild_tensor_v2, (_StorageRef(), 0, (2, 2), (2, 1), False, collections.OrderedDict())

    class TorchPickler(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            if isinstance(obj, _StorageRef):
                return ("storage", torch.FloatStorage, "0", "cpu", 4)
            return None

    state = collections.OrderedDict(weight=Tensor())
    if extra is not None:
        state["extra"] = extra
    buf = io.BytesIO()
    TorchPickler(buf, protocol=2).dump(state)
    return buf.getvalue()


def _torch_zip(path: Path, data_pkl: bytes) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("archive/data.pkl", data_pkl)
        zf.writestr("archive/byteorder", "little")
        zf.writestr("archive/data/0", np.arange(4, dtype=np.float32).tobytes())
        zf.writestr("archive/version", "3\n")


def test_pytorch_zip_benign_and_malicious(tmp_path: Path, fake_torch: types.ModuleType) -> None:
    good = tmp_path / "good.pt"
    _torch_zip(good, _torch_pickle(fake_torch))
    result = scan_path(good)
    assert result.safe and result.formats == ("pytorch",) and _problems(result) == [], result.findings

    bad = tmp_path / "pytorch_model.bin"
    _torch_zip(bad, _torch_pickle(fake_torch, extra=_payload(os.system, "id")))
    result = scan_path(bad)
    assert not result.safe
    finding = next(f for f in result.findings if f.severity is Severity.CRITICAL)
    assert finding.file == "pytorch_model.bin:archive/data.pkl" and finding.format == "pytorch"


def test_legacy_pytorch_sequence_of_pickles(tmp_path: Path, fake_torch: types.ModuleType) -> None:
    parts = [
        pickle.dumps(0x1950A86A20F9469CFC6C, protocol=2),
        pickle.dumps(1001, protocol=2),
        pickle.dumps({"protocol_version": 1001, "little_endian": True}, protocol=2),
        _torch_pickle(fake_torch, extra=_payload(builtins.exec, "import os")),
        pickle.dumps(["0"], protocol=2),
        (4).to_bytes(8, "little") + np.arange(4, dtype=np.float32).tobytes(),
    ]
    path = tmp_path / "legacy.pth"
    path.write_bytes(b"".join(parts))
    result = scan_path(path)
    assert _critical(result) & {"builtins.exec", "__builtin__.exec"}
    assert any(f.severity is Severity.INFO and "raw data follow" in f.detail for f in result.findings)


def test_pickle_embedded_in_bytes_is_scanned() -> None:
    inner = pickle.dumps(_payload(os.system, "id"), protocol=4)
    outer = pickle.dumps({"blob": inner, "ok": b"\x80\x05 not a pickle at all"}, protocol=4)
    result = scan_bytes(outer, "outer.pkl")
    finding = next(f for f in result.findings if f.severity is Severity.CRITICAL)
    assert finding.file.startswith("outer.pkl@") and finding.global_name in {"posix.system", "nt.system"}


# -- NumPy, safetensors, ONNX, GGUF ---------------------------------------------------------------------


def test_npy_object_array_and_npz(tmp_path: Path) -> None:
    arr = np.array([1, _payload(os.system, "id")], dtype=object)
    np.save(tmp_path / "evil.npy", arr, allow_pickle=True)
    np.savez(tmp_path / "bundle.npz", weights=np.ones(3), evil=arr)
    np.save(tmp_path / "plain.npy", np.ones((3, 3)))
    result = scan_path(tmp_path)
    files = {f.file for f in result.findings if f.severity is Severity.CRITICAL}
    assert files == {"evil.npy", "bundle.npz:evil.npy"}
    assert not any(f.file == "plain.npy" for f in result.findings)
    assert result.formats == ("numpy",)


def _safetensors(tensors: dict[str, np.ndarray], metadata: dict[str, str] | None = None) -> bytes:
    header: dict[str, Any] = {"__metadata__": metadata} if metadata else {}
    offset, blobs = 0, []
    for name, arr in tensors.items():
        raw = arr.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return len(text).to_bytes(8, "little") + text + b"".join(blobs)


def test_safetensors_valid_and_invalid() -> None:
    good = _safetensors({"w": np.ones((2, 3)), "b": np.zeros(3)}, {"format": "pt"})
    result = scan_bytes(good, "model.safetensors")
    assert result.safe and result.findings == () and result.formats == ("safetensors",)
    # Recognized by content even without the extension.
    assert scan_bytes(good, "weights").formats == ("safetensors",)

    header = json.dumps({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 999]}}).encode()
    bad = len(header).to_bytes(8, "little") + header + b"\x00" * 24
    assert any("outside" in f.detail for f in scan_bytes(bad, "bad.safetensors").findings)
    not_json = (5).to_bytes(8, "little") + b"{oops"
    assert any("not valid JSON" in f.detail for f in scan_bytes(not_json, "x.safetensors").findings)
    huge = (10**12).to_bytes(8, "little") + b"{}"
    assert any("out of bounds" in f.detail for f in scan_bytes(huge, "y.safetensors").findings)


def _varint(n: int) -> bytes:
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        out += bytes([b | (0x80 if n else 0)])
        if not n:
            return out


def _field(number: int, value: bytes | int) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    return _varint(number << 3 | 2) + _varint(len(value)) + value


def _onnx(domain: str = "", location: str | None = None) -> bytes:
    tensor = _field(1, 4) + _field(8, b"w")
    if location is not None:
        tensor += _field(13, _field(1, b"location") + _field(2, location.encode())) + _field(14, 1)
    graph = _field(5, tensor) + _field(2, b"g")
    return (
        _field(1, 8)
        + _field(2, b"charter-test")
        + _field(7, graph)
        + _field(8, _field(1, domain.encode()) + _field(2, 17))
    )


def test_onnx_checks() -> None:
    result = scan_bytes(_onnx(), "model.onnx")
    assert result.safe and result.findings == () and result.formats == ("onnx",)
    assert scan_bytes(_onnx(location="weights.bin"), "m.onnx").findings == ()
    escaping = scan_bytes(_onnx(location="../../etc/passwd"), "m.onnx")
    assert not escaping.safe and "outside the model directory" in escaping.findings[0].detail
    assert not scan_bytes(_onnx(location="/etc/shadow"), "m.onnx").safe
    custom = scan_bytes(_onnx(domain="com.evil"), "m.onnx")
    assert custom.safe and "custom operator domain 'com.evil'" in custom.findings[0].detail
    garbage = scan_bytes(b"\xff\xff\xff\xff", "m.onnx")
    assert garbage.findings[0].severity is Severity.WARNING and "ONNX" in garbage.findings[0].detail


@pytest.mark.parametrize("name", ["model.safetensors", "model.onnx"])
def test_pickle_disguised_as_a_safe_format(name: str) -> None:
    result = scan_bytes(pickle.dumps(_payload(os.system, "id"), protocol=2), name)
    assert not result.safe
    assert any("holds a pickle" in f.detail for f in result.findings)


def test_gguf_and_python_source(tmp_path: Path) -> None:
    (tmp_path / "model.gguf").write_bytes(b"GGUF\x03\x00\x00\x00" + b"\x00" * 16)
    (tmp_path / "modeling_custom.py").write_text("import os\n")
    (tmp_path / "config.json").write_text("{}")
    result = scan_path(tmp_path)
    assert result.formats == ("gguf", "python")
    assert [(f.file, f.severity) for f in result.findings] == [("modeling_custom.py", Severity.WARNING)]


# -- zip bombs, directories, robustness -----------------------------------------------------------------


def test_zip_bomb_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "bomb.pt"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02" + b"N" * (64 * 1024 * 1024))
    result = scan_path(path, limits=ScanLimits(max_decompressed_bytes=1024 * 1024))
    details = " ".join(f.detail for f in result.findings)
    assert "zip bomb" in details and "exceeds the decompression cap" in details
    assert result.bytes_decompressed <= 1024 * 1024


def test_gzip_bomb_is_capped(tmp_path: Path) -> None:
    path = tmp_path / "model.pkl.gz"
    path.write_bytes(gzip.compress(b"\x80\x02" + b"N" * (32 * 1024 * 1024)))
    result = scan_path(path, limits=ScanLimits(max_decompressed_bytes=100_000))
    assert any("exceeds the scan budget" in f.detail for f in result.findings)


def test_directory_scan_mixes_formats(tmp_path: Path, sklearn_models: list[Any]) -> None:
    (tmp_path / "sub").mkdir()
    (tmp_path / "model.safetensors").write_bytes(_safetensors({"w": np.ones(2)}))
    (tmp_path / "sub" / "model.pkl").write_bytes(pickle.dumps(sklearn_models[0]))
    (tmp_path / "sub" / "evil.pkl").write_bytes(pickle.dumps(_payload(os.system, "id")))
    (tmp_path / "README.md").write_text("# model")
    result = scan_path(tmp_path)
    assert result.files_scanned == 3 and result.formats == ("pickle", "safetensors")
    assert not result.safe
    assert {f.file for f in result.findings if f.severity is Severity.CRITICAL} == {"sub/evil.pkl"}
    doc = result.to_dict()
    assert set(doc) == {"performed", "safe", "formats", "findings"}
    assert set(doc["findings"][0]) == {"file", "format", "severity", "global", "detail"}
    assert doc["findings"][0]["severity"] == "critical"


def test_nothing_recognized_and_not_scanned(tmp_path: Path) -> None:
    result = scan_path(tmp_path)
    assert result.performed and result.safe and result.formats == ()
    assert result.findings[0].detail == "no model artifact recognized"
    assert not_scanned().to_dict() == {"performed": False, "safe": False, "formats": [], "findings": []}
    with pytest.raises(InvalidInput, match="not found"):
        scan_path(tmp_path / "missing")
    (tmp_path / "empty.pkl").write_bytes(b"")
    assert scan_path(tmp_path / "empty.pkl").findings[0].detail == "empty model file"


def test_not_a_pickle_with_pickle_extension() -> None:
    result = scan_bytes(b"\x00\x01\x02 random", "weights.bin")
    assert result.safe and "neither a pickle" in result.findings[0].detail


def test_truncated_pickle_keeps_what_was_seen() -> None:
    data = pickle.dumps([_payload(os.system, "id"), list(range(100))], protocol=4)
    result = scan_bytes(data[: len(data) // 2 + 20], "cut.pkl")
    assert "posix.system" in _critical(result) or "nt.system" in _critical(result)
    assert any("could not be parsed" in f.detail for f in result.findings)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_crash(data: bytes) -> None:
    for name in ("x.pkl", "x.pt", "x.safetensors", "x.onnx", "x.npy", "x"):
        result = scan_bytes(data, name)
        assert result.performed


_SAMPLE = pickle.dumps(
    {"a": [1, 2.5, "x", b"y", None, True], "b": (collections.OrderedDict(k=1), {3, 4}), "c": np.arange(3)}, protocol=4
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(_SAMPLE) - 1), st.integers(0, 255)), min_size=1, max_size=4))
def test_mutated_pickles_never_crash(flips: list[tuple[int, int]]) -> None:
    data = bytearray(_SAMPLE)
    for pos, value in flips:
        data[pos] = value
    for name in ("m.pkl", "m.joblib"):
        assert scan_bytes(bytes(data), name).performed


def _plain(value: Any) -> Any:
    """Turn the walker's inert values back into Python literals."""
    from charter.evaluation.pickle_scan import _Dict  # test-only peek at the inert dict

    if isinstance(value, _Dict):
        return {_plain(k): _plain(v) for k, v in value.items}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_plain(v) for v in value)
    return value


def _has_bytes(value: Any) -> bool:
    if isinstance(value, bytes):
        return True
    if isinstance(value, dict):
        return any(_has_bytes(k) or _has_bytes(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return any(_has_bytes(v) for v in value)
    return False


_literals = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5)
        | st.tuples(inner, inner)
        | st.tuples(inner)
        | st.tuples(inner, inner, inner, inner)
        | st.dictionaries(st.text(max_size=5) | st.integers(), inner, max_size=5)
    ),
    max_leaves=30,
)


@settings(max_examples=200, deadline=None)
@given(_literals, st.sampled_from(list(PROTOCOLS)))
def test_walker_reconstructs_literals(value: Any, protocol: int) -> None:
    data = pickle.dumps([value, value], protocol=protocol)  # the repeat exercises the memo
    events = walk_pickles(io.BytesIO(data), len(data))
    assert events.error is None and events.pickles == 1
    if protocol >= 3 or not _has_bytes(value):  # protocols 0-2 spell bytes as _codecs.encode calls
        assert _plain(events.root) == [value, value]
    assert all(classify_global(g.module, g.name) is None for g, _, _ in events.globals)


def test_rules() -> None:
    assert classify_global("torch._utils", "_rebuild_tensor_v2") is None
    assert classify_global("sklearn.linear_model._logistic", "LogisticRegression") is None
    assert classify_global("numpy.testing._private.utils", "runstring")[0] is Severity.CRITICAL  # type: ignore[index]
    assert classify_global("numpy", "load")[0] is Severity.CRITICAL  # type: ignore[index]
    assert classify_global("builtins", "set") is None
    assert classify_global("some_pkg", "system")[0] is Severity.CRITICAL  # type: ignore[index]
    assert classify_global("sklearn.utils", "some_function")[0] is Severity.WARNING  # type: ignore[index]
    assert GlobalRef("a", "b") == GlobalRef("a", "b")
