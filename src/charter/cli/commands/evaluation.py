"""charter evaluate: metrics, fairness and the artifact scan computed here, on the user's machine; the API receives
the evidence with the sha256 of each input (never the data), stores it and assesses it against the active policies.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from charter.cli.client import Api
from charter.cli.context import STATE
from charter.cli.errors import EXIT_NO, EXIT_USAGE, CliError
from charter.cli.output import console, emit, err_console
from charter.core.hashing import sha256_file, sha256_tree, tree_size

if TYPE_CHECKING:
    from charter.evaluation.schemas import AssessmentDetail

FORMATS = ("json", "junit", "sarif", "markdown")
PREDICTION_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq", ".txt", ".gz", ".bz2", ".zst")
PROGRESS_MIN_BYTES = 16 << 20
DEFAULT_RESAMPLES = 200  # charter.evaluation.bootstrap.DEFAULT_RESAMPLES (not imported: numpy/pyarrow load slowly)
_MARK = {"fail": "[red]FAIL[/red]", "pass": "[green]pass[/green]", "not_applicable": "[dim]n/a[/dim]"}
_ORDER = {"fail": 0, "pass": 1, "not_applicable": 2}
_SEVERITY = {"blocker": 0, "major": 1, "minor": 2}


def usage(code: str, message: str) -> CliError:
    """A usage error (exit 2)."""
    return CliError(code, message, EXIT_USAGE)


def split_ref(ref: str) -> tuple[str, str]:
    """`SYSTEM@VERSION` → (system, version), or a usage error."""
    name, sep, version = ref.partition("@")
    if not sep or not name or not version:
        raise usage("invalid_ref", f"'{ref}' must be SYSTEM@VERSION (e.g. credit-scoring@1.0.0)")
    return name, version


def check_format(fmt: str | None) -> None:
    """Reject an unknown --format before any work is done."""
    if fmt is not None and fmt not in FORMATS:
        raise usage("unknown_format", f"--format: '{fmt}' is not one of {', '.join(FORMATS)}")


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


def _predictions_file(path: Path) -> Path:
    if not path.is_file():
        raise usage("file_not_found", f"predictions: no such file: {path}")
    suffixes = [s.lower() for s in path.suffixes]
    if not any(s in PREDICTION_SUFFIXES for s in suffixes[-2:]):
        with path.open("rb") as fh:
            magic = fh.read(4)
        if magic != b"PAR1":
            raise usage(
                "unsupported_file_type",
                f"predictions: {path.name} is not a CSV or Parquet file; give a .csv or .parquet file",
            )
    return path


def _columns(value: str | None) -> list[str]:
    if not value:
        return []
    cols = [c.strip() for c in value.split(",")]
    if any(not c for c in cols):
        raise usage("invalid_columns", f"--sensitive: '{value}' must be column names separated by commas")
    return list(dict.fromkeys(cols))


def _artifact_digest(path: Path) -> tuple[str, int]:
    if not path.exists():
        raise usage("file_not_found", f"artifact: no such file or directory: {path}")
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
    console.print(f"[bold]{a.model}[/bold] {a.digest}  assessment {a.id}", highlight=False)
    t = Table(show_lines=False)
    for col, kw in (("verdict", {}), ("severity", {}), ("rule", {"no_wrap": True}), ("title", {}), ("reason", {})):
        t.add_column(col, **kw)  # type: ignore[arg-type]
    ordered = sorted(a.results, key=lambda r: (_ORDER[r.verdict], _SEVERITY[r.severity], r.policy, r.rule_id))
    for r in ordered:
        t.add_row(_MARK[r.verdict], r.severity, r.rule_id, r.title, r.reason)
    console.print(t)
    failed = [r for r in ordered if r.verdict == "fail"]
    for r in failed:
        console.print(f"  [bold]{r.rule_id}[/bold] ({r.severity}): {r.remediation}", highlight=False)
    counts = a.counts
    summary = (
        f"{counts.get('pass', 0)} passed, {counts.get('fail', 0)} failed, "
        f"{counts.get('not_applicable', 0)} not applicable"
    )
    if a.verdict == "pass":
        console.print(f"[green bold]PASS[/green bold]: no blocker rule failed ({summary})", highlight=False)
    else:
        console.print(
            f"[red bold]FAIL[/red bold]: {len(a.blockers)} blocker rule(s) failed: {', '.join(a.blockers)} ({summary})",
            highlight=False,
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
    format: Annotated[str | None, typer.Option("--format", help="json | junit | sarif | markdown.")] = None,
    output: Annotated[Path | None, typer.Option(help="Write the --format output to this file.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write an HTML report to this file.")] = None,
    bootstrap: Annotated[
        int, typer.Option(help="Bootstrap resamples for confidence intervals (0: none).", min=0, max=100_000)
    ] = DEFAULT_RESAMPLES,
) -> None:
    """Evaluate a model version: metrics and fairness from a predictions file, an artifact scan, the policy verdict.

    Exit code 1 when a blocker rule fails, 0 when the model version passes.
    """
    from charter.evaluation import build_evaluation_evidence, evaluate_predictions, load_predictions, scan_path

    system, version = split_ref(ref)
    check_format(format)
    if predictions is None and artifact is None:
        raise usage("nothing_to_evaluate", "give --predictions FILE (and/or --artifact PATH)")
    columns = _columns(sensitive)
    pred_path = _predictions_file(predictions) if predictions is not None else None
    api = Api()
    model = api.get(f"/systems/{system}/versions/{version}")  # unknown model version: exit 3 before any work
    inputs: dict[str, Any] = {}
    evaluated = None
    if pred_path is not None:
        data = load_predictions(
            pred_path, label=label, prediction=prediction, score=score, sensitive=columns, positive_label=positive_label
        )
        with _progress(pred_path.stat().st_size, f"sha256 {pred_path.name}") as advance:
            digest = sha256_file(pred_path, advance)
        inputs["predictions"] = {
            "name": pred_path.name,
            "sha256": digest,
            "size": pred_path.stat().st_size,
            "rows": data.n,
        }
        evaluated = evaluate_predictions(data, resamples=bootstrap)
    scan = None
    if artifact is not None:
        digest, size = _artifact_digest(artifact)
        if digest != model["digest"]:
            raise usage(
                "artifact_digest_mismatch",
                f"artifact: {artifact} is {digest}, but {model['ref']} is {model['digest']}; "
                "pass the file or directory that was registered",
            )
        inputs["artifact"] = {"name": artifact.name, "sha256": digest, "size": size}
        scan = scan_path(artifact)
    evidence = build_evaluation_evidence(predictions=evaluated, scan=scan)
    evidence.pop("documentation", None)  # the server reads it from the stored model card
    options = {
        "label": label if pred_path else None,
        "prediction": prediction if pred_path else None,
        "score": score,
        "sensitive": columns,
        "positive_label": positive_label,
        "bootstrap_resamples": bootstrap if pred_path else None,
        "source": "predictions" if pred_path else None,
    }
    body = {"evidence": evidence, "inputs": inputs, "options": {k: v for k, v in options.items() if v is not None}}
    result = api.post(f"/systems/{system}/versions/{version}/evaluations", json=body)
    show_assessment(
        result["assessment"], fmt=format, output=output, html=html, extra={"evaluation": result["evaluation"]}
    )


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate)
