"""CEL evaluation in a worker process with a runtime budget.

The evaluator (Rust, through pyo3) holds the GIL for as long as an expression runs and cannot be interrupted: run in
the server's process, one costly expression would stall every other request, the gateway's included. So the
expressions of an assessment run in one long-lived worker process; the caller's thread waits without the GIL, and
a batch that outlives `BUDGET_S` has its worker killed. The expressions are then run again one by one, each with
the budget, so that only the one that overran fails (`evaluation exceeded its runtime budget`) and the others get
their values. Load-time limits (`charter.policies._cel_cost`) make this the backstop, not the rule.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from collections.abc import Mapping, Sequence
from multiprocessing.pool import Pool
from typing import Any

import cel as _cel

from charter.policies import cel

BUDGET_S = 5.0
STARTUP_S = 120.0  # a worker that cannot start in this long is a broken host, not a costly expression
_lock = threading.Lock()
_pool: Pool | None = None

# (value, error, nanoseconds) of one expression
Outcome = tuple[Any, str | None, int]


def over_budget(budget_s: float) -> str:
    return f"evaluation exceeded its runtime budget of {budget_s:g} s (the worker running it was stopped)"


def evaluate(sources: Sequence[str], evidence: Mapping[str, Any], budget_s: float | None = None) -> list[Outcome]:
    """Evaluate each expression on `evidence` in the worker: one outcome per source, in order."""
    budget = BUDGET_S if budget_s is None else budget_s
    if not sources:
        return []
    doc = dict(evidence)
    try:
        return _submit(list(sources), doc, budget)
    except multiprocessing.TimeoutError:
        _kill()
    out: list[Outcome] = []
    for source in sources:  # find the one that overran; the others get their values
        started = time.perf_counter_ns()
        try:
            out.extend(_submit([source], doc, budget))
        except multiprocessing.TimeoutError:
            _kill()
            out.append((None, over_budget(budget), time.perf_counter_ns() - started))
    return out


def _submit(sources: list[str], evidence: dict[str, Any], budget: float) -> list[Outcome]:
    result = _worker().apply_async(_run, (sources, evidence))
    got: list[Outcome] = result.get(timeout=budget)
    return got


def _worker() -> Pool:
    global _pool
    with _lock:
        if _pool is None:
            # spawn: a fresh interpreter, whatever threads the server runs (a fork could inherit a held lock)
            _pool = multiprocessing.get_context("spawn").Pool(1)
            _pool.apply_async(_ready).get(timeout=STARTUP_S)  # started and imported: the budget is for evaluating
        return _pool


def _kill() -> None:
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.terminate()


def shutdown() -> None:
    """Stop the worker (tests, process exit)."""
    _kill()


# --- in the worker process -----------------------------------------------------------------------------------
def _ready() -> bool:
    return True


def _run(sources: list[str], evidence: dict[str, Any]) -> list[Outcome]:
    try:
        context = cel.make_context(evidence)
    except Exception as exc:
        return [(None, f"evidence cannot be read by CEL: {exc}", 0) for _ in sources]
    out: list[Outcome] = []
    for source in sources:
        started = time.perf_counter_ns()
        program = _programs.get(source)
        if program is None:  # checked when its policy loaded: compile only
            try:
                program = _programs[source] = _cel.compile(source)
            except Exception as exc:
                out.append((None, f"CEL error: {exc}", 0))
                continue
        value, error = cel.run(cel.Compiled(source, "", program, frozenset()), context)
        out.append((_portable(value), error, time.perf_counter_ns() - started))
    if len(_programs) > cel.CACHE_SIZE:
        _programs.clear()
    return out


_programs: dict[str, Any] = {}


def _portable(value: Any) -> Any:
    """The value, or its text when it cannot travel back to the caller (pickle)."""
    if value is None or isinstance(value, bool | int | float | str | bytes):
        return value
    if isinstance(value, list | tuple):
        return [_portable(v) for v in value]
    if isinstance(value, dict):
        return {_portable(k): _portable(v) for k, v in value.items()}
    return str(value)
