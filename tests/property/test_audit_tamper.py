"""Any rewrite of the stored log is caught by `verify`, which names the first bad entry.

Two attackers with write access to the database: a naive one who changes entry rows only, and a thorough one who
also renumbers bodies and recomputes leaf hashes, stored nodes and the head. Only signed checkpoints stop the
thorough one, so its rewrites are drawn below the latest checkpoint; the naive one's may hit any entry.
"""

from __future__ import annotations

import io

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from charter.audit.export import jsonl_lines, plan_export, verify_export
from charter.audit.note import Verifier, verifier_key
from tests.unit.audit.memlog import ORIGIN, MemLog, delete, edit, insert, rebuild, swap, truncate

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def logs(draw: st.DrawFn) -> tuple[int, list[int], int]:
    """(entries, checkpoint sizes, batch size)."""
    n = draw(st.integers(2, 60))
    cps = sorted(draw(st.sets(st.integers(1, n), min_size=1, max_size=4)))
    return n, cps, draw(st.sampled_from([1, 5, 17]))


def build(n: int, cps: list[int], batch: int) -> MemLog:
    log = MemLog()
    for size in cps:
        log.append(size - log.size, batch)
        assert log.checkpoint() == size
    log.append(n - log.size, batch)
    report = log.verify(deep=True)
    assert report.ok, report.problems
    return log


MUTATIONS = ["edit", "edit_fix_leaf", "delete", "insert", "swap", "truncate"]


@SETTINGS
@given(logs(), st.sampled_from(MUTATIONS), st.data())
def test_naive_rewrites_are_detected_and_located(
    shape: tuple[int, list[int], int], how: str, data: st.DataObject
) -> None:
    n, cps, batch = shape
    with build(n, cps, batch) as log:
        i = data.draw(st.integers(0, n - 1), label="entry")
        expect: int | None = i
        if how == "edit":
            edit(log, i, fix_leaf=False)
        elif how == "edit_fix_leaf":
            edit(log, i, fix_leaf=True)
            expect = None  # located by the tree, within a range that starts at or before i
        elif how == "delete":
            delete(log, i)
        elif how == "insert":
            insert(log, i)
        elif how == "swap":
            j = data.draw(st.integers(0, n - 1).filter(lambda j: j != i), label="other")
            swap(log, i, j)
            expect = min(i, j)
        else:
            k = data.draw(st.integers(0, cps[-1] - 1), label="keep")
            truncate(log, k)
            expect = k
        report = log.verify()
        assert not report.ok
        bad = report.first_bad
        assert bad is not None
        if expect is not None:
            assert bad.seq == expect, report.problems
        elif bad.seq is not None:
            assert bad.seq <= i, report.problems


@SETTINGS
@given(logs(), st.sampled_from(["edit", "delete", "insert", "swap", "truncate"]), st.data())
def test_thorough_rewrites_below_a_checkpoint_are_detected(
    shape: tuple[int, list[int], int], how: str, data: st.DataObject
) -> None:
    n, cps, batch = shape
    with build(n, cps, batch) as log:
        signed = cps[-1]
        i = data.draw(st.integers(0, signed - 1), label="entry")
        if how == "edit":
            edit(log, i, fix_leaf=True)
        elif how == "delete":
            delete(log, i)
        elif how == "insert":
            insert(log, i)
        elif how == "swap":
            j = data.draw(st.integers(0, n - 1).filter(lambda j: j != i), label="other")
            swap(log, i, j)
        else:
            truncate(log, i)
        rebuild(log, renumber=True)
        report = log.verify()
        assert not report.ok, f"{how} at {i} went unnoticed"
        bad = report.first_bad
        assert bad is not None and (bad.seq is None or bad.seq <= max(i, signed)), report.problems


@SETTINGS
@given(logs(), st.sampled_from(["edit", "delete", "dup", "swap", "truncate"]), st.data())
def test_rewritten_exports_are_detected(shape: tuple[int, list[int], int], how: str, data: st.DataObject) -> None:
    n, cps, batch = shape
    with build(n, cps, batch) as log:
        log.checkpoint()
        first = data.draw(st.integers(0, n - 1), label="first")
        end = data.draw(st.integers(first + 1, n), label="end")
        with log.engine.connect() as conn:
            plan = plan_export(conn, first, end)
            vkey = verifier_key(ORIGIN, log.key.public_raw)
            lines = list(jsonl_lines(conn, plan, ORIGIN, vkey))
        verifier = Verifier.parse(vkey)
        assert verify_export(io.BytesIO(b"".join(lines)), verifier).ok
        meta = sum(1 for line in lines if not line.startswith(b'{"action":'))
        i = data.draw(st.integers(meta, len(lines) - 1), label="line")
        if how == "edit":
            lines[i] = lines[i].replace(b'"outcome":"success"', b'"outcome":"denied"')
            if b'"outcome":"denied"' not in lines[i]:
                lines[i] = lines[i].replace(b'"v":1', b'"v":2')
        elif how == "delete":
            del lines[i]
        elif how == "dup":
            lines.insert(i, lines[i])
        elif how == "swap":
            if len(lines) - meta < 2:
                return
            j = data.draw(st.integers(meta, len(lines) - 1).filter(lambda j: j != i), label="other")
            lines[i], lines[j] = lines[j], lines[i]
        else:
            del lines[i:]
        report = verify_export(io.BytesIO(b"".join(lines)), verifier)
        assert not report.ok, f"{how} of line {i} went unnoticed"


def test_an_entry_inserted_before_the_last_is_located_exactly() -> None:
    """Found by the property above: the renumbered last entry lies beyond the head and says which one it was."""
    with build(40, [8], 17) as log:
        insert(log, 39)
        report = log.verify()
        bad = report.first_bad
        assert bad is not None and bad.seq == 39, report.problems
