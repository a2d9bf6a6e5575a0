"""ci github|gitlab: a ready pipeline that evaluates a model version against Charter's policies and gates deployment.

The printed workflow/job has two steps a team would otherwise hand-write around the CLI:
- evaluate: `charter evaluate … --format sarif --output charter.sarif`, kept whatever the verdict (GitHub: uploaded as
  code-scanning results; GitLab: a job artifact), failing the job when a blocker rule fails (exit 1);
- gate: `charter check SYSTEM@VERSION --env ENV`, on the default branch only, failing unless an active license covers
  the model version there.
The server and key come from the CI system's own secret store (`CHARTER_URL`, `CHARTER_API_KEY`); nothing secret is
printed.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from typing import Annotated, Any

import typer
import yaml

from charter import __version__
from charter.cli.commands.evaluation import split_ref
from charter.cli.errors import usage
from charter.core.errors import ErrorCode

ci_app = typer.Typer(
    help="CI/CD: ready pipelines that evaluate against Charter and gate deployment.", no_args_is_help=True
)

SARIF = "charter.sarif"
PYTHON = "3.12"


@dataclass(frozen=True)
class Pipeline:
    """What both CI systems run: the install line, the evaluate and check command lines."""

    model: str
    env: str
    predictions: str
    install: str
    predict: str | None
    evaluate: str
    check: str


def _pipeline(
    model: str,
    env: str,
    purpose: str | None,
    predictions: str,
    label: str,
    prediction: str,
    score: str | None,
    sensitive: str | None,
    upload: bool,
    install: str | None,
    predict: str | None,
) -> Pipeline:
    split_ref(model)  # SYSTEM@VERSION or a usage error now, not in the pipeline's first run
    if not env.strip():
        raise usage(ErrorCode.USAGE, "--env must name an environment, e.g. production")
    args = ["charter", "evaluate", '"$CHARTER_MODEL"', "--predictions", shlex.quote(predictions)]
    args += ["--label", shlex.quote(label), "--prediction", shlex.quote(prediction)]
    if score:
        args += ["--score", shlex.quote(score)]
    if sensitive:
        args += ["--sensitive", shlex.quote(sensitive)]
    if upload:
        args.append("--upload")
    args += ["--format", "sarif", "--output", SARIF]
    check = ["charter", "check", '"$CHARTER_MODEL"', "--env", shlex.quote(env)]
    if purpose:
        check += ["--purpose", shlex.quote(purpose)]
    spec = install or f"charter=={__version__}"
    return Pipeline(
        model=model,
        env=env,
        predictions=predictions,
        install=f"python -m pip install --disable-pip-version-check {shlex.quote(spec)}",
        predict=predict,
        evaluate=" ".join(args),
        check=" ".join(check),
    )


def github_workflow(p: Pipeline, branch: str) -> dict[str, Any]:
    """A GitHub Actions workflow: evaluate on pull requests and pushes (SARIF to code scanning), gate on `branch`."""
    setup = [
        {"uses": "actions/checkout@v4"},
        {"uses": "actions/setup-python@v5", "with": {"python-version": PYTHON}},
        {"name": "Install Charter", "run": p.install},
    ]
    return {
        "name": "Charter",
        "on": {"pull_request": None, "push": {"branches": [branch]}},
        "permissions": {"contents": "read"},
        "env": {
            "CHARTER_URL": "${{ vars.CHARTER_URL }}",
            "CHARTER_API_KEY": "${{ secrets.CHARTER_API_KEY }}",
            "CHARTER_MODEL": p.model,
        },
        "jobs": {
            "evaluate": {
                "name": "Evaluate against Charter's policies",
                "runs-on": "ubuntu-latest",
                "permissions": {"contents": "read", "security-events": "write"},
                "steps": [
                    *setup,
                    *([{"name": f"Write {p.predictions}", "run": p.predict}] if p.predict else []),
                    {"name": "Evaluate (exit 1 when a blocker rule fails)", "run": p.evaluate},
                    {
                        "name": "Upload the verdict to code scanning",
                        "if": f"always() && hashFiles('{SARIF}') != ''",
                        "uses": "github/codeql-action/upload-sarif@v3",
                        "with": {"sarif_file": SARIF, "category": "charter"},
                    },
                ],
            },
            "license-gate": {
                "name": f"License gate ({p.env})",
                "needs": "evaluate",
                "if": f"github.event_name == 'push' && github.ref == 'refs/heads/{branch}'",
                "runs-on": "ubuntu-latest",
                "steps": [*setup, {"name": f"An active license covers the model in {p.env}", "run": p.check}],
            },
        },
    }


def gitlab_pipeline(p: Pipeline) -> dict[str, Any]:
    """GitLab CI jobs: evaluate in every pipeline (SARIF kept as an artifact), gate on the default branch."""
    base = {"image": f"python:{PYTHON}-slim", "before_script": [p.install]}
    return {
        "stages": ["evaluate", "gate"],
        "variables": {"CHARTER_MODEL": p.model},
        "charter-evaluate": {
            **base,
            "stage": "evaluate",
            "script": [*([p.predict] if p.predict else []), p.evaluate],
            "artifacts": {
                "when": "always",
                "name": "charter-evaluation",
                "expose_as": "Charter evaluation",
                "paths": [SARIF],
                "expire_in": "90 days",
            },
        },
        "charter-license-gate": {
            **base,
            "stage": "gate",
            "needs": ["charter-evaluate"],
            "rules": [{"if": "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH"}],
            "script": [p.check],
        },
    }


class _PlainDumper(yaml.SafeDumper):
    """No `&id001` anchors for the steps both jobs share: a pipeline file is read by people."""

    def ignore_aliases(self, data: Any) -> bool:  # noqa: ARG002 (PyYAML's signature)
        return True


def _dump(header: str, doc: dict[str, Any]) -> str:
    body = yaml.dump(doc, Dumper=_PlainDumper, sort_keys=False, width=4096, default_flow_style=False)
    return header + body


Model = Annotated[str, typer.Argument(help="SYSTEM@VERSION the pipeline evaluates and gates.")]
Env = Annotated[str, typer.Option(help="Environment the gate checks, e.g. production.")]
Purpose = Annotated[str | None, typer.Option(help="Purpose the gate checks (default: any licensed purpose).")]
Predictions = Annotated[str, typer.Option(help="Predictions file the pipeline produces (CSV or Parquet).")]
Label = Annotated[str, typer.Option(help="Column with the true label.")]
Prediction = Annotated[str, typer.Option(help="Column with the predicted label.")]
Score = Annotated[str | None, typer.Option(help="Column with the predicted probability.")]
Sensitive = Annotated[str | None, typer.Option(help="Sensitive attribute columns, e.g. gender,age_band.")]
Upload = Annotated[
    bool,
    typer.Option(
        "--upload/--self-reported",
        help="Send the predictions so the server computes the evidence (default), or compute it in the job.",
    ),
]
Predict = Annotated[
    str | None,
    typer.Option(
        help="Shell command, run before evaluating, that writes the predictions file (e.g. 'python predict.py')."
    ),
]
Install = Annotated[
    str | None, typer.Option(help="pip requirement for Charter in the job (default: this version from the index).")
]


@ci_app.command("github")
def github(
    model: Model,
    env: Env = "production",
    purpose: Purpose = None,
    predictions: Predictions = "predictions.csv",
    label: Label = "y",
    prediction: Prediction = "y_hat",
    score: Score = None,
    sensitive: Sensitive = None,
    upload: Upload = True,
    install: Install = None,
    predict: Predict = None,
    branch: Annotated[str, typer.Option(help="The branch whose pushes pass the license gate.")] = "main",
) -> None:
    """Print a GitHub Actions workflow (save it as .github/workflows/charter.yml).

    Set the repository variable CHARTER_URL and the secret CHARTER_API_KEY (a key with evaluation.run and
    license.read, e.g. `charter key create app:ci --expires 90`)."""
    p = _pipeline(model, env, purpose, predictions, label, prediction, score, sensitive, upload, install, predict)
    header = (
        "# Charter: evaluate every change against the governance policies; deploy only under an active license.\n"
        "# Save as .github/workflows/charter.yml. Needs the repository variable CHARTER_URL and the secret\n"
        "# CHARTER_API_KEY. The evaluate job must produce the predictions file first (--predict CMD adds that step).\n"
    )
    typer.echo(_dump(header, github_workflow(p, branch)), nl=False)


@ci_app.command("gitlab")
def gitlab(
    model: Model,
    env: Env = "production",
    purpose: Purpose = None,
    predictions: Predictions = "predictions.csv",
    label: Label = "y",
    prediction: Prediction = "y_hat",
    score: Score = None,
    sensitive: Sensitive = None,
    upload: Upload = True,
    install: Install = None,
    predict: Predict = None,
) -> None:
    """Print GitLab CI jobs (save as .gitlab-ci.yml, or include it from there).

    Set the CI/CD variables CHARTER_URL and CHARTER_API_KEY (masked, protected)."""
    p = _pipeline(model, env, purpose, predictions, label, prediction, score, sensitive, upload, install, predict)
    header = (
        "# Charter: evaluate every pipeline against the governance policies; deploy only under an active license.\n"
        "# Needs the CI/CD variables CHARTER_URL and CHARTER_API_KEY (masked, protected).\n"
    )
    typer.echo(_dump(header, gitlab_pipeline(p)), nl=False)


def register(app: typer.Typer) -> None:
    app.add_typer(ci_app, name="ci")
