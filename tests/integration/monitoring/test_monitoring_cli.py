"""`charter monitor` argument handling that needs no server: windows, evaluation defaults, window files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from charter.cli.commands.monitoring import _defaults, parse_window
from charter.cli.errors import CliError
from charter.core.errors import InvalidInput
from charter.monitoring.files import sketch_window, spec_for
from tests.integration.monitoring.support import SPEC, profile_of, table, write


def test_windows() -> None:
    assert parse_window("2026-11-01T00:00/2026-11-02T00:00") == (
        datetime(2026, 11, 1, tzinfo=UTC),
        datetime(2026, 11, 2, tzinfo=UTC),
    )
    start, end = parse_window("2026-11-01T01:00+01:00/2026-11-01T12:00Z")
    assert start == datetime(2026, 11, 1, tzinfo=UTC) and end.hour == 12
    for bad in ("2026-11-01", "2026-11-02/2026-11-01", "yesterday/today", "2026-11-01/"):
        with pytest.raises(CliError) as err:
            parse_window(bad)
        assert err.value.exit_code == 2 and err.value.code == "invalid_window"


def test_defaults_from_an_evaluation() -> None:
    names = ["id", "age", "score", "y_hat", "y", "gender"]
    options = {"label": "y", "prediction": "y_hat", "score": "score", "sensitive": ["gender", "absent"]}
    assert _defaults(options, names) == {
        "prediction": "score",
        "prediction_kind": "probability",
        "label": "y",
        "sensitive": ["gender"],
        "exclude": ["y_hat"],
    }
    binary = _defaults({"label": "y", "prediction": "y_hat"}, names)
    assert binary == {"prediction": "y_hat", "prediction_kind": "binary", "label": "y", "exclude": []}
    # Labels given as other values than 0/1 cannot be profiled; the model output is still no feature.
    assert _defaults({"label": "y", "prediction": "y_hat", "positive_label": "ok"}, names) == {"exclude": ["y_hat"]}


def test_window_files_with_and_without_labels(tmp_path: Path) -> None:
    profile = profile_of()
    t = table(3000, seed=2)
    full = sketch_window(profile, write(tmp_path / "w.parquet", t), batch_rows=1024)
    assert full.rows == 3000 and full.labels is not None and int(full.labels.sum()) == 3000
    bare = sketch_window(profile, write(tmp_path / "w.csv", t.drop_columns(["y"])), batch_rows=1024)
    assert bare.rows == 3000 and bare.labels is not None and int(bare.labels.sum()) == 0
    assert bare.label_missing == 3000
    seen: list[tuple[int, int | None]] = []
    sketch_window(
        profile, tmp_path / "w.parquet", batch_rows=1024, progress=lambda done, total: seen.append((done, total))
    )
    assert seen[-1] == (3000, 3000) and len(seen) > 1
    with pytest.raises(InvalidInput):
        sketch_window(profile, write(tmp_path / "x.parquet", t.drop_columns(["income"])))


def test_spec_inference(tmp_path: Path) -> None:
    path = write(tmp_path / "r.parquet", table(100, seed=1))
    spec = spec_for(path, prediction="score", label="y", sensitive=["gender"], exclude=["id"])
    assert spec.numeric == SPEC.numeric and spec.categorical == ("region", "gender")
    explicit = spec_for(path, numeric=["age"], categorical=["region"], prediction="score")
    assert explicit.numeric == ("age",) and explicit.label is None
    with pytest.raises(InvalidInput):
        spec_for(path, prediction="nope")
    with pytest.raises(InvalidInput):
        spec_for(tmp_path / "missing.parquet")
