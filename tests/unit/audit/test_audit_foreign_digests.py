"""verify's check of HMAC key ids: the top-level `hmac_key` decides, whatever details carry."""

from __future__ import annotations

from charter.audit.sink import AuditSink
from charter.audit.verify import foreign_digests
from charter.core.events import AuditEvent

OURS = AuditSink(b"o" * 32)
THEIRS = AuditSink(b"t" * 32)


def _body(sink: AuditSink, seq: int, details: dict[str, object], sensitive: bool = True) -> bytes:
    prefix, *_, version = sink.prepare(
        AuditEvent(
            "app:a", "inference.allow", "deployment:d", details=details, sensitive={"request": "x"} if sensitive else {}
        )
    )
    return prefix + b',"seq":%d,"ts":"2025-06-01T12:00:00.000000Z","v":%d}' % (seq, version)


def test_only_entries_under_another_key_are_named() -> None:
    ours = f'"hmac_key":"{OURS.hmac_id}","outcome":'
    bodies = [
        _body(OURS, 0, {}),
        _body(THEIRS, 1, {}),
        _body(OURS, 2, {}, sensitive=False),  # no digests: version 1, nothing to judge
        _body(THEIRS, 3, {"note": ours}),  # our marker inside a string: escaped, so it does not count
        _body(THEIRS, 4, {"hmac_key": OURS.hmac_id, "outcome": "x"}),  # a nested member: not the entry's
        _body(OURS, 5, {"hmac_key": THEIRS.hmac_id}),
    ]
    named = foreign_digests(bodies, 10, frozenset({OURS.hmac_id}))
    assert [p.seq for p in named] == [11, 13, 14]
    assert all(THEIRS.hmac_id in p.reason and OURS.hmac_id in p.reason for p in named)


def test_legacy_entries_without_key_ids_and_several_known_keys() -> None:
    legacy = b'{"action":"inference.allow","actor":"app:a","details":{},"digests":{"request":"hmac-sha256:00"},'
    legacy += b'"outcome":"success","resource":"deployment:d","seq":0,"ts":"2025-06-01T12:00:00Z","v":1}'
    bodies = [legacy, _body(THEIRS, 1, {}), _body(OURS, 2, {})]
    assert foreign_digests(bodies, 0, frozenset({OURS.hmac_id, THEIRS.hmac_id})) == []
    assert [p.seq for p in foreign_digests(bodies, 0, frozenset({OURS.hmac_id}))] == [1]
