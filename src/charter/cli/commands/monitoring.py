"""charter monitor: reference profiles and window sketches are computed here, streamed, on the user's machine; the
API receives the profile and the sketches (bin counts), never the data."""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from charter.cli.client import Api
from charter.cli.context import STATE
from charter.cli.errors import EXIT_NO, usage
from charter.cli.output import emit, err_console, table
from charter.core.errors import ErrorCode
from charter.core.hashing import sha256_file

monitor_app = typer.Typer(help="Monitoring: reference profiles, production windows, conditions.", no_args_is_help=True)
Ref = Annotated[str, typer.Argument(help="SYSTEM@VERSION")]
ID_COLUMN = re.compile(r"^(id|.*_id)$", re.IGNORECASE)
KINDS = ("probability", "binary", "numeric")


def _base(ref: str) -> str:
    name, sep, version = ref.partition("@")
    if not sep or not name or not version:
        raise usage(ErrorCode.INVALID_REF, f"'{ref}' must be SYSTEM@VERSION (e.g. credit-scoring@1.0.0)")
    return f"/monitoring/systems/{name}/versions/{version}"


def _columns(value: str | None) -> list[str]:
    return [c.strip() for c in (value or "").split(",") if c.strip()]


def _upload(method: str, path: str, doc: dict[str, Any]) -> Any:
    """Send a (possibly large) JSON document gzip-compressed."""
    try:
        raw = json.dumps(doc, allow_nan=False, separators=(",", ":")).encode()
    except ValueError as exc:
        raise usage(ErrorCode.INVALID_DATA, f"the computed document is not valid JSON ({exc})") from None
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    return Api(timeout=300).request(method, path, content=gzip.compress(raw, 6), headers=headers)


def _live() -> bool:
    return not STATE.json and err_console.is_terminal


@contextmanager
def _bytes_bar(path: Path, label: str) -> Iterator[Callable[[int], None] | None]:
    if not _live():
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task(label, total=path.stat().st_size)
        yield lambda n: progress.advance(task, n)


@contextmanager
def _rows_bar(label: str) -> Iterator[Callable[[int, int | None], None] | None]:
    if not _live():
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task(label, total=None)
        yield lambda done, total: progress.update(task, completed=done, total=total)


def _sha256(path: Path) -> str:
    if not path.is_file():
        raise usage(ErrorCode.FILE_NOT_FOUND, f"no such file: {path}")
    with _bytes_bar(path, f"sha256 {path.name}") as advance:
        return sha256_file(path, advance)


def _evaluations(ref: str) -> list[dict[str, Any]]:
    name, _, version = ref.partition("@")
    items: list[dict[str, Any]] = Api().get_all(f"/systems/{name}/versions/{version}/evaluations")
    return [e for e in items if (e.get("inputs") or {}).get("predictions")]


def _reference_file(ref: str, file: Path | None) -> tuple[Path, str, dict[str, Any] | None]:
    """The reference file, its sha256 and the evaluation it was the data of (matched by sha256)."""
    evaluations = _evaluations(ref)
    if file is None:
        for ev in evaluations:
            data = ev["inputs"]["predictions"]
            candidate = Path(data["name"])
            if candidate.is_file() and _sha256(candidate) == data["sha256"].removeprefix("sha256:"):
                return candidate, data["sha256"].removeprefix("sha256:"), ev
        seen = ", ".join(f"{e['inputs']['predictions']['name']} ({e['id']})" for e in evaluations[:3])
        raise usage(
            ErrorCode.REFERENCE_DATA_REQUIRED,
            "FILE is required: "
            + (
                f"the evaluations of {ref} stored only the digests of their data ({seen}) and no such file with that "
                "digest is in this directory"
                if evaluations
                else f"{ref} has no evaluation with a data file to default to"
            ),
        )
    digest = _sha256(file)
    match = next((e for e in evaluations if e["inputs"]["predictions"]["sha256"].endswith(digest)), None)
    return file, digest, match


def _defaults(options: dict[str, Any], names: list[str]) -> dict[str, Any]:
    """Prediction, label and sensitive columns from an evaluation's options (those present in the file)."""
    out: dict[str, Any] = {}
    binary_ok = options.get("positive_label") is None
    if options.get("score") in names:
        out.update(prediction=options["score"], prediction_kind="probability")
    elif options.get("prediction") in names and binary_ok:
        out.update(prediction=options["prediction"], prediction_kind="binary")
    if options.get("label") in names and binary_ok:
        out["label"] = options["label"]
    sensitive = [s for s in options.get("sensitive") or [] if s in names]
    if sensitive and "prediction" in out:
        out["sensitive"] = sensitive
    # The evaluation's other prediction column (a label when the score is profiled) is an output, not a feature.
    out["exclude"] = [options[k] for k in ("prediction", "score") if options.get(k) in names]
    out["exclude"] = [c for c in out["exclude"] if c != out.get("prediction")]
    return out


@monitor_app.command("reference")
def reference(
    ref: Ref,
    file: Annotated[
        Path | None, typer.Argument(help="Reference data (Parquet/CSV); default: the evaluation's data file.")
    ] = None,
    prediction: Annotated[str | None, typer.Option(help="Prediction/score column.")] = None,
    prediction_kind: Annotated[str | None, typer.Option(help="probability | binary | numeric.")] = None,
    label: Annotated[str | None, typer.Option(help="Label column (0/1).")] = None,
    sensitive: Annotated[str | None, typer.Option(help="Sensitive attribute columns, comma-separated.")] = None,
    numeric: Annotated[str | None, typer.Option(help="Numeric features (default: inferred).")] = None,
    categorical: Annotated[str | None, typer.Option(help="Categorical features (default: inferred).")] = None,
    exclude: Annotated[str | None, typer.Option(help="Columns that are not features (ids, timestamps).")] = None,
    bins: Annotated[int, typer.Option(help="Quantile bins per numeric feature (PSI).", min=2)] = 10,
    threshold: Annotated[float, typer.Option(help="Decision threshold on probability predictions.")] = 0.5,
    capture_features: Annotated[
        str | None, typer.Option(help="Gateway capture: path of the feature object in the request JSON.")
    ] = None,
    capture_prediction: Annotated[
        str | None, typer.Option(help="Gateway capture: path of the prediction in the response JSON.")
    ] = None,
    no_capture: Annotated[bool, typer.Option("--no-capture", help="Do not capture gateway traffic.")] = False,
) -> None:
    """Build the reference profile of a model version here (streamed) and upload it."""
    from charter.monitoring.files import reference_profile, schema_of, spec_for

    base = _base(ref)
    version = Api().get(base.replace("/monitoring/systems/", "/systems/"))
    path, digest, evaluation = _reference_file(ref, file)
    names = list(schema_of(path).names)
    given = {"prediction": prediction, "label": label, "sensitive": _columns(sensitive) or None}
    found = _defaults((evaluation or {}).get("options") or {}, names) if evaluation else {}
    if prediction_kind is not None and prediction_kind not in KINDS:
        raise usage(ErrorCode.INVALID_OPTION, f"--prediction-kind must be one of {', '.join(KINDS)}")
    outputs = [c for c in found.pop("exclude", []) if c != prediction]
    options = {**found, **{k: v for k, v in given.items() if v is not None}}
    if prediction_kind is not None:
        options["prediction_kind"] = prediction_kind
    excluded = _columns(exclude)
    if not (numeric or categorical or exclude):
        taken = {options.get("prediction"), options.get("label")}
        excluded = [n for n in names if (ID_COLUMN.match(n) or n in outputs) and n not in taken]
    spec = spec_for(
        path,
        numeric=_columns(numeric),
        categorical=_columns(categorical),
        exclude=excluded,
        bins=bins,
        grid=bins * 100,
        threshold=threshold,
        **options,
    )
    if _live():
        with err_console.status(f"profiling {path.name}"):
            profile = reference_profile(path, spec, model_version=version["digest"])
    else:
        profile = reference_profile(path, spec, model_version=version["digest"])
    body = {
        "profile": profile.to_dict(),
        "source": {"name": path.name, "sha256": digest, "rows": profile.rows},
        "capture": {"enabled": not no_capture, "features": capture_features, "prediction": capture_prediction},
        "evaluation": evaluation["id"] if evaluation else None,
    }
    doc = _upload("PUT", base + "/reference", body)
    emit(doc, human=_profile_text(doc, excluded))


def _profile_text(doc: dict[str, Any], excluded: list[str]) -> str:
    spec = doc["spec"]
    parts = [f"{len(spec['numeric'])} numeric", f"{len(spec['categorical'])} categorical features"]
    if spec.get("prediction"):
        parts.append(f"prediction {spec['prediction']} ({spec['prediction_kind']})")
    if spec.get("label"):
        parts.append(f"label {spec['label']}")
    if spec.get("sensitive"):
        parts.append(f"sensitive {', '.join(spec['sensitive'])}")
    src = doc["source"]
    lines = [
        f"Reference profile of {doc['model']} ({doc['digest']}) from {src['name']}: {doc['rows']:,} rows",
        "  " + ", ".join(parts),
    ]
    if src.get("evaluation"):
        lines.append(f"  the data of evaluation {src['evaluation']} (same sha256)")
    if excluded:
        lines.append(f"  not features (identifiers, model outputs): {', '.join(excluded)}")
    return "\n".join(lines)


def _instant(text: str, what: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise usage(
            ErrorCode.INVALID_WINDOW, f"--window: {what} '{text}' is not an ISO 8601 time (2026-11-01T00:00)"
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def parse_window(text: str) -> tuple[datetime, datetime]:
    """`START/END` (ISO 8601; times without a zone are UTC)."""
    start, sep, end = text.partition("/")
    if not sep:
        raise usage(
            ErrorCode.INVALID_WINDOW, f"--window '{text}' must be START/END, e.g. 2026-11-01T00:00/2026-11-02T00:00"
        )
    a, b = _instant(start, "start"), _instant(end, "end")
    if b <= a:
        raise usage(ErrorCode.INVALID_WINDOW, f"--window '{text}': the end must be after the start")
    return a, b


@monitor_app.command("ingest")
def ingest(
    ref: Ref,
    file: Annotated[Path, typer.Argument(help="Production data of the window (Parquet/CSV).")],
    window: Annotated[str, typer.Option(help="START/END, e.g. 2026-11-01T00:00/2026-11-02T00:00 (UTC).")],
    labels: Annotated[Path | None, typer.Option(help="Late labels: a file with ids and labels.")] = None,
    id_column: Annotated[str | None, typer.Option(help="Record id column (in both files).")] = None,
    label_column: Annotated[str | None, typer.Option(help="Label column of --labels (default: the profile's).")] = None,
    batch_rows: Annotated[int, typer.Option(help="Rows per streamed batch.", min=1024)] = 65_536,
    env: Annotated[
        str, typer.Option(help="Environment the data comes from: only that environment's licenses are checked.")
    ] = "production",
) -> None:
    """Sketch a window of production data here (streamed, constant memory) and upload the sketch."""
    start, end = parse_window(window)
    if (labels is None) != (id_column is None):
        raise usage(ErrorCode.USAGE, "--labels FILE and --id-column COL go together")
    from charter.monitoring.files import sketch_window
    from charter.monitoring.ingest import LateLabels
    from charter.monitoring.profile import ReferenceProfile

    base = _base(ref)
    profile = ReferenceProfile.from_dict(Api(timeout=300).get(base + "/reference")["profile"])
    late = None
    source: dict[str, Any] = {"name": file.name, "sha256": _sha256(file)}
    if labels is not None and id_column is not None:
        column = label_column or profile.spec.label
        if column is None:
            raise usage(
                ErrorCode.NO_LABEL, f"the reference profile of {ref} has no label column, so labels cannot be used"
            )
        late = LateLabels(labels, id_column, column)
        source["labels"] = {"name": labels.name, "sha256": _sha256(labels)}
    with _rows_bar(f"sketching {file.name}") as progress:
        sketch = sketch_window(profile, file, labels=late, batch_rows=batch_rows, progress=progress)
    source["rows"] = sketch.rows
    body = {
        "start": start.isoformat(), "end": end.isoformat(), "sketch": sketch.to_dict(), "source": source, "env": env
    }  # fmt: skip
    doc = _upload("POST", base + "/windows", body)
    emit(doc, human=_window_text(doc))


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:.4g}" if isinstance(value, float) else str(value)


def _window_text(doc: dict[str, Any]) -> str:
    m = doc["metrics"]
    head = ", ".join(f"{k} {_num(m.get(k))}" for k in ("drift.psi_max", "perf.accuracy") if k in m)
    lines = [
        f"Window {doc['id']} of {doc['model']}: {doc['start']} – {doc['end']}, {doc['rows']:,} rows, "
        f"drift {doc['status']}" + (f" ({head})" if head else "")
    ]
    lines += [_check_line(c) for c in doc.get("checks", [])]
    return "\n".join(lines)


def _check_line(c: dict[str, Any]) -> str:
    mark = {"breached": "BREACHED", "holds": "holds", "no_data": "no data"}.get(c["status"], c["status"])
    line = f"  {c['license']}: {c['condition']} — {mark} (observed {_num(c['observed'])}, threshold {c['threshold']:g})"
    if c.get("fired"):
        line += f" → {c['fired']}: {c.get('outcome') or ''}"
    elif c["status"] == "breached" and c["windows"] > 1:
        line += f" [{c['consecutive']}/{c['windows']} windows]"
    return line


@monitor_app.command("status")
def status(ref: Ref) -> None:
    """The latest window and each license condition on it; exit 1 when a condition is breached."""
    doc = Api().get(_base(ref) + "/status")
    emit(doc, human=_status_text(doc))
    if doc["breached"]:
        raise typer.Exit(EXIT_NO)


def _status_text(doc: dict[str, Any]) -> str:
    lines = [f"{doc['model']} ({doc['digest']})"]
    if doc["profile"] is None:
        lines.append(f"  no reference profile: charter monitor reference {doc['model']} FILE")
    w = doc["window"]
    lines.append("  no window yet" if w is None else "  latest " + _window_text(w).splitlines()[0])
    for lic in doc["licenses"]:
        lines.append(f"  license {lic['id']} is {lic['state']}")
    lines += [_check_line(c) for c in doc["conditions"]]
    if not doc["licenses"]:
        lines.append("  no live license with conditions on this model version")
    return "\n".join(lines)


@monitor_app.command("metrics")
def metrics(
    ref: Ref,
    metric: Annotated[list[str] | None, typer.Option(help="Metric id (repeatable), e.g. drift.psi[age].")] = None,
    limit: Annotated[int, typer.Option(help="Newest windows.", min=1, max=1000)] = 100,
) -> None:
    """Metric values per window, oldest first (all metrics with --json unless --metric is given)."""
    wanted = list(metric or [])
    if not wanted and not STATE.json:
        wanted = ["window.rows", "drift.psi_max", "drift.prediction_psi", "perf.accuracy", "fairness.dp_diff"]
    items = Api().get(_base(ref) + "/metrics", params={"metric": wanted, "limit": limit})["items"]
    if STATE.json:
        emit({"items": items})
        return
    rows = [
        {"metric": s["metric"], "window_end": p["end"], "value": _num(p["value"])} for s in items for p in s["points"]
    ]
    table(rows, ["metric", "window_end", "value"], title=f"{ref} metrics")


@monitor_app.command("windows")
def windows(ref: Ref, limit: Annotated[int, typer.Option(min=1, max=1000)] = 20) -> None:
    """Newest windows of a model version."""
    items = Api().get(_base(ref) + "/windows", params={"limit": limit})["items"]
    if STATE.json:
        emit({"items": items})
        return
    rows = [
        {
            "id": w["id"],
            "window": f"{_short(w['start'])} – {_short(w['end'])}",
            "rows": f"{w['rows']:,}",
            "drift": w["status"],
            "psi_max": _num(w["metrics"].get("drift.psi_max")),
            "breached": str(sum(c["status"] == "breached" for c in w.get("checks", []))),
        }
        for w in items
    ]
    table(rows, ["id", "window", "rows", "drift", "psi_max", "breached"])


def _short(iso: str) -> str:
    return iso.replace("T", " ")[:16]


@monitor_app.command("breaches")
def breaches(ref: Annotated[str | None, typer.Argument(help="SYSTEM@VERSION (default: all).")] = None) -> None:
    """Breached license conditions, newest first."""
    path = _base(ref) + "/breaches" if ref else "/monitoring/breaches"
    items = Api().get(path)["items"]
    table(items, ["at", "license", "model", "condition", "value", "fired", "outcome"])


def register(app: typer.Typer) -> None:
    app.add_typer(monitor_app, name="monitor")
