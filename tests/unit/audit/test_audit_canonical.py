"""The hot-path canonicalizer is byte-identical to the RFC 8785 reference, errors included."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charter.audit.canonical import canonical, canonical_document
from charter.audit.sink import AuditSink
from charter.core.canonical import canonical_json
from charter.core.events import AuditEvent

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(1 << 60), max_value=1 << 60)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([0.0, -0.0, 1.0, 1e21, 1e-7, 123456789012345680000.0, 5e-324, 1e16, 2.5, -1e300])
    | st.text()
    | st.sampled_from(["\ue000", "\U0001f600", "a\x00b", "\u2028", "é"])
)
keys = st.text(max_size=5) | st.sampled_from(["\ue000", "\U0001f600", "\uffff", "a"])
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4), max_leaves=12
)


def outcome(fn: Any, value: Any) -> Any:
    try:
        return fn(value)
    except ValueError as exc:
        return type(exc).__mro__[-4]  # the CanonicalizationError family, whichever subclass


@settings(max_examples=600, deadline=None)
@given(json_values)
def test_same_bytes_as_reference(value: Any) -> None:
    assert outcome(canonical, value) == outcome(canonical_json, value)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(keys, json_values, max_size=4), st.text(), st.integers(0, 1 << 40))
def test_entry_documents(details: dict[str, Any], actor: str, seq: int) -> None:
    doc = {"v": 1, "seq": seq, "ts": "2025-01-01T00:00:00Z", "actor": actor, "details": details}
    assert outcome(canonical_document, doc) == outcome(canonical_json, doc)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(keys, json_values, max_size=4),
    st.dictionaries(st.text(max_size=8), st.binary(max_size=20), max_size=2),
    st.text(max_size=12),
    st.integers(0, 1 << 40),
)
def test_prepared_bodies_are_the_canonical_entry_document(
    details: dict[str, Any], sensitive: dict[str, bytes], actor: str, seq: int
) -> None:
    sink = AuditSink(b"k" * 32)
    event = AuditEvent(actor, "license.suspend", "license:x", details=details, sensitive=sensitive)
    ts = "2025-06-01T12:00:00.123456Z"
    try:
        want = canonical_json(sink.entry_document(seq, event, ts))
    except ValueError:
        with pytest.raises(ValueError):
            sink.prepare(event)
        return
    prefix, *_, version = sink.prepare(event)
    assert version == (2 if sensitive else 1)
    assert prefix + b',"seq":%d,"ts":"%s","v":%d}' % (seq, ts.encode(), version) == want
