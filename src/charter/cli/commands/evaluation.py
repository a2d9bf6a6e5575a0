"""charter evaluate: with --upload the predictions go to the server, which computes metrics, fairness and bootstrap
intervals itself (computed_by: server); without it they are computed here, on the user's machine, and the API
receives only the figures with the sha256 of each input (self-reported). The artifact is always scanned here.
`charter assessment verify` recomputes a stored assessment from its inputs with the same code.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

from charter.cli.client import Api
from charter.cli.context import STATE
from charter.cli.errors import EXIT_NO, usage
from charter.cli.output import console, emit, err_console, grid
from charter.core.errors import ErrorCode
from charter.core.hashing import sha256_file, sha256_tree, tree_size

if TYPE_CHECKING:
    from charter.evaluation.scan import ScanResult
    from charter.evaluation.schemas import AssessmentDetail
    from charter.evaluation.tabular import Predictions

FORMATS = ("json", "junit", "sarif", "markdown")
PREDICTION_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".txt", ".gz", ".bz2", ".zst")
PROGRESS_MIN_BYTES = 16 << 20
DEFAULT_RESAMPLES = 200  # charter.evaluation.resampling.DEFAULT_RESAMPLES (not imported: numpy/pyarrow load slowly)
GENAI_MAX_BYTES = 256 << 20  # charter.evaluation.genai.DEFAULT_MAX_BYTES
_MARK = {"fail": "FAIL", "pass": "pass", "not_applicable": "n/a"}
_ORDER = {"fail": 0, "pass": 1, "not_applicable": 2}
_SEVERITY = {"blocker": 0, "major": 1, "minor": 2}


def split_ref(ref: str) -> tuple[str, str]:
    """`SYSTEM@VERSION` → (system, version), or a usage error."""
    name, sep, version = ref.partition("@")
    if not sep or not name or not version:
        raise usage(ErrorCode.INVALID_REF, f"'{ref}' must be SYSTEM@VERSION (e.g. credit-scoring@1.0.0)")
    return name, version


def check_format(fmt: str | None) -> None:
    """Reject an unknown --format before any work is done."""
    if fmt is not None and fmt not in FORMATS:
        raise usage(ErrorCode.UNKNOWN_FORMAT, f"--format: '{fmt}' is not one of {', '.join(FORMATS)}")


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr for large inputs on a terminal; nothing with --json or when piped."""
    if STATE.json or total < PROGRESS_MIN_BYTES or not err_console.is_terminal:
        yield None
        return
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TimeRemainingColumn())
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def _predictions_file(path: Path, field: str = "predictions") -> Path:
    if not path.is_file():
        raise usage(ErrorCode.FILE_NOT_FOUND, f"{field}: no such file: {path}")
    suffixes = [s.lower() for s in path.suffixes]
    if not any(s in PREDICTION_SUFFIXES for s in suffixes[-2:]):
        with path.open("rb") as fh:
            magic = fh.read(4)
        if magic != b"PAR1":
            raise usage(
                ErrorCode.UNSUPPORTED_FILE_TYPE,
                f"{field}: {path.name} is not a CSV or Parquet file; give a .csv or .parquet file",
            )
    return path


def _columns(value: str | None) -> list[str]:
    if not value:
        return []
    cols = [c.strip() for c in value.split(",")]
    if any(not c for c in cols):
        raise usage(ErrorCode.INVALID_COLUMNS, f"--sensitive: '{value}' must be column names separated by commas")
    return list(dict.fromkeys(cols))


def _artifact_digest(path: Path) -> tuple[str, int]:
    if not path.exists():
        raise usage(ErrorCode.FILE_NOT_FOUND, f"artifact: no such file or directory: {path}")
    total = tree_size(path)
    with _progress(total, f"sha256 {path.name}") as advance:
        return "sha256:" + sha256_tree(path, advance), total


def show_assessment(
    detail: dict[str, Any], *, fmt: str | None, output: Path | None, html: Path | None, extra: dict[str, Any]
) -> None:
    """Print (or write) an assessment; exit 1 when a blocker rule failed."""
    from charter.evaluation.report import render_assessment
    from charter.evaluation.schemas import AssessmentDetail

    parsed = AssessmentDetail.model_validate(detail)
    if html is not None:
        html.write_text(render_assessment(parsed, "html"), encoding="utf-8")
    if fmt is not None:
        text = render_assessment(parsed, fmt)
        if output is not None:
            output.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
    if fmt is None or output is not None:
        if STATE.json:
            emit({**extra, "assessment": detail})
        else:
            _human(parsed, written=[p for p in (output, html) if p is not None])
    if parsed.verdict != "pass":
        raise typer.Exit(EXIT_NO)


def _human(a: AssessmentDetail, written: list[Path]) -> None:
    from charter.evaluation.report import computed_by_text

    console.print(f"{a.model} {a.digest}  assessment {a.id}", markup=False, highlight=False, soft_wrap=True)
    if a.computed_by is not None:
        style = "yellow bold" if a.self_reported else "green"
        console.print(f"evidence: [{style}]{computed_by_text(a)}[/{style}]", highlight=False, soft_wrap=True)
    ordered = sorted(a.results, key=lambda r: (_ORDER[r.verdict], _SEVERITY[r.severity], r.policy, r.rule_id))
    rows = [[_MARK[r.verdict], r.severity, r.rule_id, r.title, r.reason] for r in ordered]
    grid(["verdict", "severity", "rule", "title", "reason"], rows)
    failed = [r for r in ordered if r.verdict == "fail"]
    for r in failed:
        console.print(f"  {r.rule_id} ({r.severity}): {r.remediation}", markup=False, highlight=False, soft_wrap=True)
    counts = a.counts
    summary = (
        f"{counts.get('pass', 0)} passed, {counts.get('fail', 0)} failed, "
        f"{counts.get('not_applicable', 0)} not applicable"
    )
    if a.verdict == "pass":
        console.print(
            f"[green bold]PASS[/green bold]: no blocker rule failed ({summary})", highlight=False, soft_wrap=True
        )
    else:
        console.print(
            f"[red bold]FAIL[/red bold]: {len(a.blockers)} blocker rule(s) failed: {', '.join(a.blockers)} ({summary})",
            highlight=False,
            soft_wrap=True,
        )
    for path in written:
        console.print(f"wrote {path}", highlight=False)


def evaluate(
    ref: Annotated[str, typer.Argument(help="SYSTEM@VERSION")],
    predictions: Annotated[
        Path | None, typer.Option(help="CSV or Parquet: labels, predictions, scores, sensitive attributes.")
    ] = None,
    label: Annotated[str, typer.Option(help="Column with the true label (0/1, true/false).")] = "y",
    prediction: Annotated[str, typer.Option(help="Column with the predicted label.")] = "y_hat",
    score: Annotated[str | None, typer.Option(help="Column with the predicted probability (ROC AUC, ECE).")] = None,
    sensitive: Annotated[str | None, typer.Option(help="Sensitive attribute columns, e.g. gender,age_band.")] = None,
    positive_label: Annotated[
        str | None, typer.Option(help="The positive value when labels are two other values.")
    ] = None,
    artifact: Annotated[Path | None, typer.Option(help="The registered model file or directory, to scan.")] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            help="A scikit-learn pickle/joblib or ONNX model to run on --data (scanned first; never loaded if unsafe)."
        ),
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help="CSV or Parquet with features, label and sensitive columns.")
    ] = None,
    features: Annotated[
        str | None, typer.Option(help="Feature columns for --model (default: the model's own, else all the others).")
    ] = None,
    format: Annotated[str | None, typer.Option("--format", help="json | junit | sarif | markdown.")] = None,
    output: Annotated[Path | None, typer.Option(help="Write the --format output to this file.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write an HTML report to this file.")] = None,
    bootstrap: Annotated[
        int, typer.Option(help="Bootstrap resamples for confidence intervals (0: none).", min=0, max=100_000)
    ] = DEFAULT_RESAMPLES,
    upload: Annotated[
        bool,
        typer.Option(
            "--upload",
            help="Send the predictions to the server, which computes the figures (required for high-risk systems "
            "by the built-in evidence baseline); without it they are computed here and marked self-reported.",
        ),
    ] = False,
    garak: Annotated[list[Path] | None, typer.Option("--garak", help="garak report.jsonl (repeatable).")] = None,
    inspect: Annotated[
        list[Path] | None, typer.Option("--inspect", help="Inspect AI log, .eval or .json (repeatable).")
    ] = None,
    promptfoo: Annotated[
        list[Path] | None, typer.Option("--promptfoo", help="promptfoo results JSON (repeatable).")
    ] = None,
    lm_eval: Annotated[list[Path] | None, typer.Option("--lm-eval", help="lm-eval results JSON (repeatable).")] = None,
    genai_max_bytes: Annotated[
        int,
        typer.Option(
            "--genai-max-bytes", envvar="CHARTER_GENAI_MAX_BYTES", min=1024, help="Largest GenAI tool output read."
        ),
    ] = GENAI_MAX_BYTES,
) -> None:
    """Evaluate a model version: metrics and fairness from a predictions file, an artifact scan, the policy verdict.

    Exit code 1 when a blocker rule fails, 0 when the model version passes.
    """
    from charter.evaluation import build_evaluation_evidence, evaluate_predictions, load_predictions, scan_path

    system, version = split_ref(ref)
    check_format(format)
    if model is not None:
        if data is None or predictions is not None:
            raise usage(
                ErrorCode.USAGE, "--model needs --data FILE (and no --predictions): the model predicts on the data"
            )
        artifact = artifact or model
    elif data is not None or features is not None:
        raise usage(ErrorCode.USAGE, "--data and --features go with --model FILE")
    genai_given = {
        "garak": garak or [],
        "inspect": inspect or [],
        "promptfoo": promptfoo or [],
        "lm_eval": lm_eval or [],
    }
    if predictions is None and artifact is None and not any(genai_given.values()):
        raise usage(
            ErrorCode.NOTHING_TO_EVALUATE,
            "give --predictions FILE (and/or --artifact PATH), --model with --data, "
            "or a GenAI report (--garak, --inspect, --promptfoo, --lm-eval)",
        )
    if upload and predictions is None:
        raise usage(
            ErrorCode.USAGE,
            "--upload sends a predictions file: give --predictions FILE (for --model, write the model's predictions "
            "to a file first)",
        )
    if upload and any(genai_given.values()):
        raise usage(
            ErrorCode.USAGE,
            "--upload sends predictions for the server to compute; GenAI reports are read here: evaluate them in a "
            "run of their own, without --upload",
        )
    columns = _columns(sensitive)
    given = predictions or data
    table_path = _predictions_file(given, "predictions" if predictions else "data") if given is not None else None
    api = Api(timeout=900.0) if upload else Api()  # the server computes the bootstrap of a large upload
    registered = api.get(f"/systems/{system}/versions/{version}")  # unknown model version: exit 3 before any work
    inputs: dict[str, Any] = {}
    scan = None
    if artifact is not None:
        digest, size = _artifact_digest(artifact)
        if digest != registered["digest"]:
            raise usage(
                ErrorCode.ARTIFACT_DIGEST_MISMATCH,
                f"artifact: {artifact} is {digest}, but {registered['ref']} is {registered['digest']}; "
                "pass the file or directory that was registered",
            )
        inputs["artifact"] = {"name": artifact.name, "sha256": digest, "size": size}
        scan = scan_path(artifact)
    evaluated = None
    if upload and table_path is not None:
        meta = {
            "options": {
                "label": label,
                "prediction": prediction,
                "score": score,
                "sensitive": columns,
                "positive_label": positive_label,
                "bootstrap_resamples": bootstrap,
                "source": "predictions",
            },
            "evidence": {"scan": scan.to_dict()} if scan is not None else {},
            "inputs": {k: v for k, v in inputs.items() if k == "artifact"},
        }
        result = upload_predictions(api, f"/systems/{system}/versions/{version}/evaluations/upload", table_path, meta)
        show_assessment(
            result["assessment"], fmt=format, output=output, html=html, extra={"evaluation": result["evaluation"]}
        )
        return
    if table_path is not None:
        if model is not None:
            model_scan = scan if scan is not None and artifact == model else scan_path(model)
            loaded = run_model(
                model, model_scan, table_path, label=label, sensitive=columns, features=_columns(features),
                positive_label=positive_label,
            )  # fmt: skip
        else:
            loaded = load_predictions(
                table_path, label=label, prediction=prediction, score=score, sensitive=columns,
                positive_label=positive_label,
            )  # fmt: skip
        with _progress(table_path.stat().st_size, f"sha256 {table_path.name}") as advance:
            digest = sha256_file(table_path, advance)
        size = table_path.stat().st_size
        inputs["predictions"] = {"name": table_path.name, "sha256": digest, "size": size, "rows": loaded.n}
        evaluated = evaluate_predictions(loaded, resamples=bootstrap)
    evidence = build_evaluation_evidence(predictions=evaluated, scan=scan)
    evidence.pop("documentation", None)  # the server reads it from the stored model card
    if any(genai_given.values()):
        evidence["genai"], inputs["genai"] = _genai(genai_given, genai_max_bytes)
    options = {
        "label": label if table_path else None,
        "prediction": prediction if predictions else None,
        "score": score if predictions else None,
        "sensitive": columns,
        "positive_label": positive_label,
        "bootstrap_resamples": bootstrap if table_path else None,
        "source": ("model" if model else "predictions") if table_path else None,
    }
    body = {"evidence": evidence, "inputs": inputs, "options": {k: v for k, v in options.items() if v is not None}}
    result = api.post(f"/systems/{system}/versions/{version}/evaluations", json=body)
    show_assessment(
        result["assessment"], fmt=format, output=output, html=html, extra={"evaluation": result["evaluation"]}
    )


class _Counted:
    """A file whose reads advance a progress bar (httpx reads multipart files in chunks)."""

    def __init__(self, fh: Any, advance: Callable[[int], None] | None) -> None:
        self._fh = fh
        self._advance = advance

    def read(self, size: int = -1) -> bytes:
        chunk: bytes = self._fh.read(size)
        if self._advance is not None:
            self._advance(len(chunk))
        return chunk

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fh, name)


def upload_predictions(api: Api, path: str, file: Path, meta: dict[str, Any]) -> Any:
    """POST the predictions file (multipart) with its options; a progress bar on a terminal for large files."""
    import json

    ctype = "application/vnd.apache.parquet" if file.suffix.lower() in {".parquet", ".pq"} else "text/csv"
    with file.open("rb") as fh, _progress(file.stat().st_size, f"upload {file.name}") as advance:
        files = {"predictions": (file.name, _Counted(fh, advance), ctype)}
        return api.post(path, files=files, data={"meta": json.dumps(meta)})


def _genai(given: dict[str, list[Path]], max_bytes: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The `genai` evidence and input entries from the tools' reports, or a usage error naming the file and field."""
    from charter.evaluation.genai import GenaiInputError, collect

    try:
        return collect(given, max_bytes=max_bytes)
    except GenaiInputError as exc:
        raise usage(ErrorCode.GENAI_REPORT_INVALID, str(exc)) from None


def run_model(
    model: Path, scan: ScanResult, data: Path, *, label: str, sensitive: list[str], features: list[str],
    positive_label: str | None,
) -> Predictions:  # fmt: skip
    """A model's predictions on `data`. ONNX runs in onnxruntime; a scikit-learn pickle/joblib is unpickled only when
    its scan found nothing but notes, and then only through an unpickler limited to an allowlist of globals."""
    from charter.evaluation import predictions_from_arrays
    from charter.evaluation.model_loading import RECOMMENDED, UnsafeModel, check_loadable, load_pickled_model

    critical = [f for f in scan.findings if str(f.severity) == "critical"]
    if not scan.safe or critical:
        found = "; ".join(f"{f.file}: {f.detail}" for f in critical[:3]) or "no clean result"
        raise usage(
            ErrorCode.MODEL_UNSAFE, f"model: {model.name} was not loaded because its scan found: {found}. {RECOMMENDED}"
        )
    if "onnx" in scan.formats and not set(scan.formats) & {"pickle", "joblib"}:
        return _run_onnx(
            model, data, label=label, sensitive=sensitive, features=features, positive_label=positive_label
        )
    if not set(scan.formats) & {"pickle", "joblib"}:
        kinds = ", ".join(scan.formats) or "an unrecognised format"
        raise usage(
            ErrorCode.UNSUPPORTED_MODEL_FORMAT,
            f"model: {model.name} is {kinds}; --model runs scikit-learn pickle/joblib and ONNX files, "
            f"for other models compute predictions and pass --predictions ({RECOMMENDED})",
        )
    try:
        check_loadable(model, scan)  # a pickle: anything more than a note blocks, unknown globals included
    except UnsafeModel as exc:
        raise usage(exc.code, exc.message) from None
    try:
        import joblib  # type: ignore[import-untyped]  # noqa: F401
        import sklearn  # noqa: F401  (the pickle needs it)
    except ImportError:
        raise usage(ErrorCode.ML_EXTRA_MISSING, "--model needs scikit-learn: pip install 'charter[ml]'") from None
    try:
        estimator = load_pickled_model(model, scan)
    except UnsafeModel as exc:
        raise usage(exc.code, exc.message) from None
    except Exception as exc:  # a truncated or corrupt pickle: bad input, not a crash
        raise usage(
            ErrorCode.MODEL_UNREADABLE, f"model: {model.name} could not be loaded: {exc}. {RECOMMENDED}"
        ) from None
    if not callable(getattr(estimator, "predict", None)):
        raise usage(
            ErrorCode.NOT_A_MODEL, f"model: {model.name} holds a {type(estimator).__name__}, which cannot predict"
        )
    table = _data_table(data, [label, *sensitive, *features])
    names = list(table.column_names)
    wanted = features or [str(c) for c in getattr(estimator, "feature_names_in_", [])]
    wanted = wanted or [c for c in names if c not in {label, *sensitive}]
    x = _matrix(table, wanted, data.name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            y_hat = estimator.predict(x)
            proba = estimator.predict_proba(x) if callable(getattr(estimator, "predict_proba", None)) else None
    except Exception as exc:  # whatever the estimator raises, report it as bad input
        raise usage(ErrorCode.MODEL_FAILED, f"model: {model.name} failed to predict on {data.name}: {exc}") from None
    score = _positive_scores(proba, getattr(estimator, "classes_", None), positive_label)
    return predictions_from_arrays(
        table.column(label).to_numpy(zero_copy_only=False),
        y_hat,
        y_score=score,
        sensitive={c: table.column(c).to_numpy(zero_copy_only=False).astype(str) for c in sensitive},
        positive_label=positive_label,
        source=data.name,
    )


def _run_onnx(
    model: Path, data: Path, *, label: str, sensitive: list[str], features: list[str], positive_label: str | None
) -> Predictions:
    """An ONNX classifier's predictions on `data` (onnxruntime; ONNX graphs cannot run code when loaded)."""
    from charter.cli.onnx_model import onnx_predict
    from charter.evaluation import predictions_from_arrays

    table = _data_table(data, [label, *sensitive, *features])
    names = list(table.column_names)
    columns = {c: table.column(c).to_numpy(zero_copy_only=False) for c in names}
    wanted = features or [c for c in names if c not in {label, *sensitive}]
    y_hat, score = onnx_predict(model, columns, wanted, positive_label)
    return predictions_from_arrays(
        columns[label],
        y_hat,
        y_score=score,
        sensitive={c: columns[c].astype(str) for c in sensitive},
        positive_label=positive_label,
        source=data.name,
    )


def _data_table(path: Path, required: list[str]) -> Any:
    """The --data table, or a usage error naming the first required column it lacks."""
    table = _read_table(path)
    names = list(table.column_names)
    missing = [c for c in required if c not in names]
    if missing:
        raise usage(
            ErrorCode.COLUMN_NOT_FOUND, f"{path.name}: column '{missing[0]}' not found; columns are: {', '.join(names)}"
        )
    return table


def _read_table(path: Path) -> Any:
    import pyarrow as pa
    import pyarrow.csv as pa_csv
    import pyarrow.parquet as pq

    try:
        with path.open("rb") as fh:
            parquet = fh.read(4) == b"PAR1"
        return pq.read_table(path) if parquet else pa_csv.read_csv(path)
    except (pa.ArrowException, OSError) as exc:
        raise usage(ErrorCode.UNREADABLE_FILE, f"data: {path.name} cannot be read as CSV or Parquet: {exc}") from None


def _matrix(table: Any, columns: list[str], source: str) -> Any:
    import numpy as np

    out = []
    for c in columns:
        if c not in table.column_names:
            raise usage(ErrorCode.COLUMN_NOT_FOUND, f"{source}: feature column '{c}' not found")
        try:
            out.append(np.asarray(table.column(c).to_numpy(zero_copy_only=False), dtype=np.float64))
        except (TypeError, ValueError):
            raise usage(ErrorCode.INVALID_FEATURE, f"{source}: feature column '{c}' is not numeric") from None
    return np.column_stack(out)


def _positive_scores(proba: Any, classes: Any, positive_label: str | None) -> Any:
    if proba is None or classes is None or getattr(proba, "ndim", 0) != 2:
        return None
    wanted = {positive_label} if positive_label is not None else {"1", "True", "true", "1.0"}
    index = [i for i, c in enumerate(classes) if str(c) in wanted]
    return proba[:, index[0]] if len(index) == 1 else None


assessment_app = typer.Typer(help="Stored assessments (policy verdicts on a model version).", no_args_is_help=True)


@assessment_app.command("list")
def assessment_list(ref: Annotated[str, typer.Argument(help="SYSTEM@VERSION")]) -> None:
    """Assessments of a model version, newest first."""
    from charter.cli.output import table

    system, version = split_ref(ref)
    items = Api().get_all(f"/systems/{system}/versions/{version}/assessments")
    rows = (
        items
        if STATE.json
        else [{**i, "blockers": ", ".join(i["blockers"]) or "-", "computed_by": _who(i)} for i in items]
    )
    table(rows, ["id", "verdict", "blockers", "computed_by", "created_at", "created_by"])


def _who(item: dict[str, Any]) -> str:
    if not item.get("computed_by"):
        return "-"
    return "self-reported" if item.get("self_reported") else str(item["computed_by"])


@assessment_app.command("show")
def assessment_show(
    assessment_id: Annotated[str, typer.Argument(help="Assessment id (asm_…).")],
    format: Annotated[str | None, typer.Option("--format", help="json | junit | sarif | markdown.")] = None,
    output: Annotated[Path | None, typer.Option(help="Write the --format output to this file.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write an HTML report to this file.")] = None,
) -> None:
    """One stored assessment (exit 1 when it has blockers)."""
    check_format(format)
    doc = Api().get(f"/assessments/{assessment_id}")
    show_assessment(doc, fmt=format, output=output, html=html, extra={})


@assessment_app.command("verify")
def assessment_verify(
    assessment_id: Annotated[str, typer.Argument(help="Assessment id (asm_…).")],
    predictions: Annotated[Path, typer.Option(help="The predictions file the assessment was made from.")],
) -> None:
    """Recompute an assessment's figures from its original predictions file, here, with the same code, and compare
    them with the stored ones (and the file's sha256 with the recorded one). Exit 1 naming every figure that differs."""
    from charter.core.errors import InvalidInput
    from charter.evaluation.compute import ComputeOptions, differences, predictions_evidence

    doc = Api().get(f"/assessments/{assessment_id}")
    recorded = (doc.get("inputs") or {}).get("predictions")
    if not recorded:
        raise usage(
            ErrorCode.NOTHING_TO_VERIFY,
            f"assessment {assessment_id} was not made from a predictions file (its evaluation has none), "
            "so there is nothing to recompute",
        )
    path = _predictions_file(predictions)
    with _progress(path.stat().st_size, f"sha256 {path.name}") as advance:
        sha = "sha256:" + sha256_file(path, advance).removeprefix("sha256:")
    problems: list[str] = []
    if sha != recorded["sha256"]:
        problems.append(
            f"input predictions: {path.name} is {sha}, but the assessment was made from {recorded['name']} "
            f"{recorded['sha256']}"
        )
    evidence = doc.get("evidence") or {}
    noted = ((evidence.get("evaluation") or {}).get("inputs") or {}).get("predictions")
    if noted is not None and noted != recorded["sha256"]:
        problems.append(
            f"evidence.evaluation.inputs.predictions: {noted}, but the evaluation recorded {recorded['sha256']}"
        )
    try:
        sections, rows = predictions_evidence(path, ComputeOptions.from_stored(doc.get("options") or {}))
    except InvalidInput as exc:
        raise usage(exc.code, exc.message) from None
    figures = differences({k: evidence.get(k) for k in sections}, sections)
    problems.extend(figures)
    result = {
        "assessment": assessment_id,
        "match": not problems,
        "computed_by": doc.get("computed_by"),
        "self_reported": doc.get("self_reported"),
        "predictions": {"name": path.name, "sha256": sha, "rows": rows, "recorded": recorded["sha256"]},
        "differences": problems,
    }
    if STATE.json:
        emit(result)
    elif not problems:
        console.print(
            f"[green bold]MATCH[/green bold]: every figure of {assessment_id} recomputed from {path.name} "
            f"({rows} rows, {sha}) equals the stored one",
            highlight=False,
            soft_wrap=True,
        )
    else:
        console.print(
            f"[red bold]MISMATCH[/red bold]: {assessment_id} does not match {path.name}: {len(problems)} difference(s)",
            highlight=False,
            soft_wrap=True,
        )
        for line in problems:
            console.print(f"  {line}", markup=False, highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(EXIT_NO)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
    app.add_typer(assessment_app, name="assessment")
