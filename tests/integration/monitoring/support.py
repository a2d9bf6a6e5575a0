"""A monitored world: a licensed model version whose license carries monitoring conditions, plus synthetic
reference and production data (features age, income, region; probability score; label y; group gender)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from charter.auth.model import SYSTEM_ACTOR, Actor
from charter.bootstrap import Container
from charter.deployments import service as deployments
from charter.deployments.schemas import DeploymentCreate
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseCreate
from charter.monitoring import ProfileSpec, ReferenceProfile, build_profile, sketch_rows
from charter.monitoring import service as monitoring
from charter.monitoring.schemas import ProfileUpload
from charter.signoffs.schemas import SignOffCreate
from tests.support.builders import app_key, assessed_model, user

SPEC = ProfileSpec(
    numeric=("age", "income"),
    categorical=("region",),
    prediction="score",
    prediction_kind="probability",
    label="y",
    sensitive=("gender",),
)


@dataclass(frozen=True)
class Monitored:
    system: str
    model: str  # SYSTEM@VERSION
    digest: str
    license_id: str
    app_key: str


def reviewer(c: Container, function: str) -> Actor:
    """A reviewer of `function` (created on first use)."""
    name = f"rev-{function}-{os.urandom(3).hex()}"
    return user(c, name, "reviewer", function)


def monitored(c: Container, *, system: str = "credit", conditions: list[str], app: str = "loan-portal") -> Monitored:
    """System → model version → clean assessment → active production license with `conditions` → app key."""
    model, digest = assessed_model(c, system)
    key = app_key(c, app)
    body = {
        "model": model,
        "env": "production",
        "purposes": ["credit-scoring"],
        "callers": [f"app:{app}"],
        "days": 30,
        "conditions": conditions,
    }
    requester = user(c, f"req-{os.urandom(3).hex()}", "ml-engineer")
    with c.uow() as uow:
        lic = licenses.request(uow, requester, LicenseCreate.model_validate(body))
    approve(c, lic.id)
    with c.uow(write=False) as uow:
        state = licenses.get(uow, SYSTEM_ACTOR, lic.id).state
    assert state == "active", f"license {lic.id} is {state}"
    return Monitored(system, model, digest, lic.id, key)


def approve(c: Container, license_id: str) -> None:
    """Every sign-off the license's current stage still misses (issue or reinstatement)."""
    with c.uow(write=False) as uow:
        needed = licenses.status(uow, SYSTEM_ACTOR, license_id).missing_signoffs
    for fn in needed:
        with c.uow() as uow:
            body = SignOffCreate.model_validate({"function": fn, "decision": "approve", "comment": "reviewed"})
            licenses.sign(uow, reviewer(c, fn), license_id, body)


def table(n: int, *, seed: int, shift: float = 0.0, flip: bool = False) -> pa.Table:
    """Synthetic rows; `shift` moves income by that many σ (drift), `flip` inverts labels (accuracy collapses)."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 10, n)
    income = rng.lognormal(10, 0.4, n) * (1 + 0.4 * shift)
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.4, 0.3, 0.2, 0.1])
    gender = rng.choice(["f", "m"], n)
    score = 1 / (1 + np.exp(-(age - 40) / 10))
    y = (rng.random(n) < score).astype(np.int64)
    if flip:
        y = 1 - y
    return pa.table(
        {
            "id": np.arange(n, dtype=np.int64) + seed * 1_000_000,
            "age": age,
            "income": income,
            "region": pa.array(region),
            "gender": pa.array(gender),
            "score": score,
            "y": y,
        }
    )


def profile_of(n: int = 5000, seed: int = 1, *, model_version: str | None = None) -> ReferenceProfile:
    return build_profile(table(n, seed=seed), SPEC, model_version=model_version)


def sketch_doc(profile: ReferenceProfile, n: int, *, seed: int, shift: float = 0.0, flip: bool = False) -> Any:
    return sketch_rows(profile, table(n, seed=seed, shift=shift, flip=flip)).to_dict()


def write(path: Path, t: pa.Table) -> Path:
    if path.suffix == ".csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(t, path)
    else:
        pq.write_table(t, path, row_group_size=2048)
    return path


def sdk_world(c: Container, *, profile: bool = True) -> Monitored:
    """A monitored world whose model runs in-process: deployment `credit-sdk` (called through `charter.guard`), with
    the reference profile `profile_of` unless `profile` is False."""
    world = monitored(c, conditions=["drift.psi_max < 0.25 => suspend"])
    if profile:
        body = {"profile": profile_of(model_version=world.model).to_dict(), "source": {"name": "r", "sha256": "a" * 64}}
        with c.uow() as uow:
            monitoring.set_reference(uow, SYSTEM_ACTOR, world.model, ProfileUpload.model_validate(body))
    with c.uow() as uow:
        deployments.add(
            uow,
            SYSTEM_ACTOR,
            DeploymentCreate(name="credit-sdk", model=world.model, upstream="http://127.0.0.1:1", kind="http"),
            allow=c.settings.upstream_allowlist,
        )
    return world
