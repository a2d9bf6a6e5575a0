"""Fixtures for report tests: a world built through the domain services."""

from __future__ import annotations

import pytest

from charter.bootstrap import Container
from tests.conftest import MakeUser
from tests.integration.reports.world import ReportWorld, build_world


@pytest.fixture
def world(container: Container, make_user: MakeUser) -> ReportWorld:
    return build_world(container, make_user)
