"""Shared fixtures: a migrated container on each backend, an API client, principals with roles."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from starlette.testclient import TestClient

from charter import bootstrap
from charter.auth import service as auth_service
from charter.auth.model import SYSTEM_ACTOR
from charter.auth.schemas import KeyCreate, RoleGrant, UserCreate
from charter.bootstrap import Container
from charter.server import Dispatcher
from charter.settings import Settings
from tests.support.db import BACKENDS, PG_ADMIN, Templates, copied_init, settings_for

# Property tests assert behaviour, not speed: no per-example deadline and no "too slow" health check, which would
# fail on a loaded CI machine or beside other xdist workers. Each test keeps its own max_examples.
hypothesis_settings.register_profile("charter", deadline=None, suppress_health_check=[HealthCheck.too_slow])
hypothesis_settings.load_profile("charter")


@pytest.fixture(scope="session")
def templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Templates]:
    """Initialised installs, one per backend, made once per test process and copied into each test that needs one."""
    t = Templates(tmp_path_factory.mktemp("templates"))
    yield t
    t.close()
    PG_ADMIN.close()


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def settings(backend: str, tmp_path: Path, templates: Templates, request: pytest.FixtureRequest) -> Iterator[Settings]:
    """A data dir on `backend`: a copy of the initialised template when the test asks for `initialised` (directly or
    through `container`, `client`, ...), else empty (tests of `init` itself)."""
    template = templates.get(backend) if "initialised" in request.fixturenames else None
    with settings_for(backend, tmp_path / "home", template=template) as s:
        yield s


@pytest.fixture
def initialised(settings: Settings, backend: str, templates: Templates) -> bootstrap.InitResult:
    """What `charter init` returned for this data dir (it is a copy of the template's, made by `bootstrap.init`)."""
    return copied_init(templates.get(backend), settings.home)


@pytest.fixture
def container(settings: Settings, initialised: bootstrap.InitResult) -> Iterator[Container]:
    c = bootstrap.build(settings)
    yield c
    c.close()


@pytest.fixture
def admin_key(initialised: bootstrap.InitResult) -> str:
    assert initialised.admin is not None
    return initialised.admin.key


@pytest.fixture
def app(container: Container) -> Dispatcher:
    return Dispatcher(container)


@pytest.fixture
def client(app: Dispatcher, admin_key: str) -> Iterator[TestClient]:
    with TestClient(app, headers={"Authorization": f"Bearer {admin_key}"}) as c:
        yield c


MakeUser = Callable[..., tuple[str, str]]


@pytest.fixture
def make_user(container: Container) -> MakeUser:
    """Create a user with roles directly through the services; returns (name, api key)."""
    counter = {"n": 0}

    def _make(*roles: str | tuple[str, str], name: str | None = None, scope: str = "global") -> tuple[str, str]:
        counter["n"] += 1
        uname = name or f"u{counter['n']}"
        with container.uow() as uow:
            auth_service.add_user(uow, SYSTEM_ACTOR, UserCreate(name=uname))
        for role in roles:
            r, fn = (role, None) if isinstance(role, str) else role
            with container.uow() as uow:
                auth_service.grant_role(uow, SYSTEM_ACTOR, RoleGrant(principal=uname, role=r, function=fn, scope=scope))
        with container.uow() as uow:
            key = auth_service.create_key(uow, SYSTEM_ACTOR, KeyCreate(principal=uname)).key
        return uname, key

    return _make


def bearer(key: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {key}"}


# The longest modules (seconds in the full gate), started first: with `--dist loadfile` a module runs whole on one
# worker, so a long module handed out late is the gate's tail while the other workers sit idle. Measured with
# `scripts/run_tests.py` ("slowest modules"); a module missing here still runs, only by folder (_FOLDER_ORDER).
LONGEST_FIRST = (
    "tests/e2e/test_evaluate_credit_scoring.py",
    "tests/e2e/test_monitoring_drift.py",
    "tests/e2e/test_scale_out.py",
    "tests/e2e/test_license_lifecycle.py",
    "tests/reliability/test_api_fuzz.py",
    "tests/hostile/test_monitoring.py",
    "tests/e2e/test_demo.py",
    "tests/e2e/test_dataplane.py",
)
# Then the rest, longest kinds first and the many short unit modules last, which fill the workers' ends evenly.
_FOLDER_ORDER = ("tests/e2e/", "tests/reliability/", "tests/hostile/", "tests/integration/", "tests/property/")


def _start_order(item: pytest.Item) -> tuple[int, int]:
    path = item.path.as_posix()
    for i, module in enumerate(LONGEST_FIRST):
        if path.endswith("/" + module):
            return (0, i)
    for i, folder in enumerate(_FOLDER_ORDER):
        if "/" + folder in path:
            return (1, i)
    return (2, 0)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark by folder, so `-m "not e2e and not slow"` is the fast subset without every module repeating it; order
    modules longest first (scripts/run_tests.py keeps this order: `--no-loadscope-reorder`). A stable sort on the
    module alone: the tests inside a module keep their order."""
    del config
    for item in items:
        path = item.path.as_posix()
        if "/tests/e2e/" in path:
            item.add_marker(pytest.mark.e2e)
        elif "/tests/reliability/" in path:
            item.add_marker(pytest.mark.slow)
    items.sort(key=_start_order)
