"""CEL cost: a costly rule is refused when its policy loads (file:line and why), one that still overruns at run time
fails alone within the budget, and no evaluation holds up the caller's event loop (the gateway's, in `charter
serve`): the evaluator holds the GIL, so expressions run in the sandbox's worker process."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from charter.policies import _cel_cost, cel, sandbox
from charter.policies.engine import Verdict, evaluate
from charter.policies.errors import PolicyError
from charter.policies.loader import load_policy

TEN = "[0, 1, 2, 3, 4, 5, 6, 7, 8, 9]"
# The reproduction: 7 nested `.all` over a 10-element list, 10^7 iterations (5.7 s, GIL held throughout).
SEVEN = (
    "{t}.all(a, {t}.all(b, {t}.all(c, {t}.all(d, {t}.all(e, {t}.all(f, {t}.all(g, a + b + c + d + e + f + g >= 0)))))))"
)
SEVEN = SEVEN.format(t=TEN)


def _policy(check: str) -> str:
    return f"""\
apiVersion: charter.dev/v1
kind: Policy
metadata: {{name: cost-test}}
rules:
  - id: T-FINE
    title: A cheap rule
    severity: minor
    check: system.log_retention_days >= 0
    controls: [EUAIA-ART12]
    remediation: None needed.
  - id: T-COSTLY
    title: A costly rule
    severity: minor
    check: '{check}'
    controls: [EUAIA-ART12]
    remediation: Iterate less.
"""


def test_seven_nested_comprehensions_are_refused_at_load_with_file_and_line() -> None:
    with pytest.raises(PolicyError) as err:
        load_policy(_policy(SEVEN), source="policies/costly.yaml")
    text = str(err.value)
    assert "policies/costly.yaml:14:" in text, text  # the line of T-COSTLY's check
    assert "comprehensions nested 7 deep" in text and "at most 3" in text, text


def test_an_estimated_cost_over_the_budget_is_refused() -> None:
    three = "datasets.all(a, datasets.all(b, datasets.all(c, a.name == b.name && b.name == c.name)))"
    compiled, problems = cel.check(three)
    assert compiled is None and "expression too costly" in problems[0].message, problems
    assert cel.check(f"{TEN}.all(a, {TEN}.all(b, {TEN}.all(c, a + b + c >= 0)))")[0] is not None  # 1,000 steps
    assert cel.check("datasets.all(d, d.lawful_basis != null)")[0] is not None


def test_macro_calls_are_counted_when_the_static_parser_cannot_follow() -> None:
    assert _cel_cost.problems(None, "a.all(x, b.exists(y, c.map(z, d.filter(w, true))))")
    assert not _cel_cost.problems(None, "a.all(x, b.exists(y, true))")


@pytest.fixture
def unlimited(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Load-time limits off: what the runtime budget alone must stop (an expression the estimate misjudged)."""
    monkeypatch.setattr(_cel_cost, "MAX_COMPREHENSION_DEPTH", 100)
    monkeypatch.setattr(_cel_cost, "MAX_COST", 10**30)
    cel._cache.clear()
    yield
    cel._cache.clear()


SIX = "{t}.all(a, {t}.all(b, {t}.all(c, {t}.all(d, {t}.all(e, {t}.all(f, a + b + c + d + e + f >= 0))))))"


def test_an_overrun_fails_its_rule_alone_within_the_budget(unlimited: None) -> None:
    policy = load_policy(_policy(SEVEN))
    started = time.monotonic()
    assessment = evaluate([policy], {"system": {"log_retention_days": 365}}, budget_s=0.5)
    took = time.monotonic() - started
    verdicts = {r.rule_id: (r.verdict, r.reason) for r in assessment.results}
    assert verdicts["T-FINE"] == (Verdict.PASS, "check is true")
    assert verdicts["T-COSTLY"][0] is Verdict.FAIL and "exceeded its runtime budget of 0.5 s" in verdicts["T-COSTLY"][1]
    assert took < 30, took  # the batch, then each expression alone: 2 budgets plus starting workers, not 10^7 steps


def test_evaluation_never_blocks_the_event_loop(unlimited: None) -> None:
    """A costly assessment run off the loop (as the API runs sync routes) leaves the loop free to tick."""
    policy = load_policy(_policy(SIX.format(t=TEN)))
    sandbox.evaluate(["true"], {})  # start the worker first: starting it is not what is measured

    async def main() -> tuple[int, float]:
        ticks = 0
        job = asyncio.create_task(asyncio.to_thread(evaluate, [policy], {"system": {}}, budget_s=1.0))
        started = time.monotonic()
        while not job.done():
            await asyncio.sleep(0.01)
            ticks += 1
        await job
        return ticks, time.monotonic() - started

    ticks, took = asyncio.run(main())
    assert took >= 0.5, took  # it did run long
    assert ticks >= took / 0.01 * 0.3, (ticks, took)  # and the loop kept ticking (10 ms naps) meanwhile
