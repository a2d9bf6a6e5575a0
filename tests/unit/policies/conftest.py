"""Shared policy texts for the policy tests."""

from __future__ import annotations

import pytest

VALID = """\
apiVersion: charter.dev/v1
kind: Policy
metadata:
  name: credit-rules
  description: Rules for the credit scoring system.
rules:
  - id: CR-ACCURACY
    title: Accuracy at least 0.8
    severity: blocker
    when: system.risk_tier == 'high'
    check: performance.accuracy >= 0.8
    evidence: [performance.accuracy]
    controls: [EUAIA-ART15]
    remediation: Improve the model.
  - id: CR-OWNER
    title: Owner team recorded
    severity: minor
    check: system.owner_team != null
    controls: [ISO42001-A.3.2]
    remediation: Record the owner team.
"""


@pytest.fixture
def valid_text() -> str:
    return VALID
