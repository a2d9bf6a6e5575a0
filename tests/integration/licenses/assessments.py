"""Assessments for license tests, stored through the evaluation service (blockers = failed blocker rules)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Protocol

from charter.auth.model import SYSTEM_ACTOR
from charter.bootstrap import Container
from charter.evaluation import service as evaluation
from charter.policies.document import Severity
from charter.policies.engine import Assessment, RuleResult, Verdict


class HasContainer(Protocol):
    c: Container


def assess(world: HasContainer, model: str, blockers: Sequence[str] = (), evidence: str = "") -> str:
    """Record an assessment of `model` failing exactly the `blockers` rules (on evidence named `evidence`: the
    same name, the same evidence digest); returns its id."""
    digest = hashlib.sha256((model + evidence).encode()).hexdigest()
    results = tuple(
        RuleResult(
            rule_id=rule,
            title=rule,
            policy="license-tests",
            policy_digest=digest,
            severity=Severity.BLOCKER,
            verdict=Verdict.FAIL,
            reason="failed on purpose",
            controls=(),
            remediation="fix it",
        )
        for rule in blockers
    )
    verdict = Verdict.FAIL if blockers else Verdict.PASS
    found = Assessment(results=results, verdict=verdict, policy_set_digest=digest, evidence_digest=digest, policies=())
    with world.c.uow() as uow:
        return evaluation.record_assessment(uow, SYSTEM_ACTOR, model, found, {}).id
