"""Synthetic reference/window data for the monitoring tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from charter.monitoring import ProfileSpec, ReferenceProfile, build_profile

SPEC = ProfileSpec(
    numeric=("x", "e", "k"),
    categorical=("c",),
    prediction="p",
    prediction_kind="probability",
    label="y",
    sensitive=("g",),
)


def make_table(n: int, *, seed: int, shift: float = 0.0, new_category: bool = False) -> pa.Table:
    """Numeric (normal, exponential, small integers), categorical, probability, label and a sensitive attribute."""
    r = np.random.default_rng(seed)
    g = np.array(["f", "m", "x"])[r.choice(3, n, p=[0.45, 0.45, 0.1])]
    y = r.integers(0, 2, n)
    p = np.clip(r.random(n) * 0.6 + 0.25 * y + shift * (g == "m"), 0.0, 1.0)
    cats = np.array(list("abcdefgh") + (["new"] if new_category else []))
    weights = np.linspace(1, 2, cats.size)
    c = cats[r.choice(cats.size, n, p=weights / weights.sum())]
    return pa.table(
        {
            "x": r.normal(shift, 1.0 + shift, n),
            "e": r.exponential(1.0 + shift, n),
            "k": r.integers(0, 6 if shift else 5, n),
            "c": c,
            "p": p,
            "y": y,
            "g": g,
        }
    )


@pytest.fixture(scope="session")
def reference() -> pa.Table:
    return make_table(50_000, seed=1)


@pytest.fixture(scope="session")
def current() -> pa.Table:
    return make_table(40_000, seed=2, shift=0.15, new_category=True)


@pytest.fixture(scope="session")
def profile(reference: pa.Table) -> ReferenceProfile:
    return build_profile(reference, SPEC, model_version="credit@1.0")


def columns(table: pa.Table) -> dict[str, Any]:
    """Raw NumPy columns of a table."""
    return {name: table.column(name).to_numpy() for name in table.column_names}
