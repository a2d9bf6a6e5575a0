"""policy add|list|show|diff|test|eval, controls coverage."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from charter.cli.client import Api
from charter.cli.commands.evaluation import check_format, show_assessment, split_ref
from charter.cli.context import STATE
from charter.cli.errors import EXIT_NO, usage
from charter.cli.output import console, emit, grid, table
from charter.core.errors import ErrorCode

policy_app = typer.Typer(
    help="Policies: YAML rules (CEL) over the evidence, versioned by digest.", no_args_is_help=True
)
controls_app = typer.Typer(help="Control catalogs (EU AI Act, GDPR, NIST AI RMF, ISO/IEC 42001).", no_args_is_help=True)
MAX_FILENAME = 300


def _short(digest: str | None) -> str:
    return digest[:12] if digest else "-"


@policy_app.command("add")
def policy_add(file: Annotated[Path, typer.Argument(help="Policy YAML file.")]) -> None:
    """Validate and store a policy; re-adding identical content changes nothing; a new version supersedes the old."""
    try:
        text = file.read_bytes()
    except FileNotFoundError:
        raise usage(ErrorCode.FILE_NOT_FOUND, f"policy: no such file: {file}") from None
    except OSError as exc:
        raise usage(ErrorCode.FILE_UNREADABLE, f"policy: cannot read {file}: {exc}") from None
    name = str(file) if len(str(file)) <= MAX_FILENAME else file.name[:MAX_FILENAME]
    doc = Api().post("/policies", content=text, headers={"Content-Type": "application/yaml"}, params={"filename": name})
    verb = {"created": "Added", "unchanged": "Unchanged (already active):", "reactivated": "Reactivated"}[doc["status"]]
    extra = (
        f", supersedes {_short(doc['superseded'])}" if doc.get("superseded") and doc["status"] != "unchanged" else ""
    )
    emit(doc, human=f"{verb} policy {doc['name']} {_short(doc['digest'])} ({doc['rules']} rules{extra})")


@policy_app.command("list")
def policy_list(
    all: Annotated[bool, typer.Option("--all", help="Every version, not only active ones.")] = False,
) -> None:
    """Built-in baselines and stored policies."""
    items = Api().get_all("/policies", {"all": "true"} if all else {})
    if STATE.json:
        table(items, [])
        return
    rows = [{**i, "digest": _short(i["digest"]), "active": "yes" if i["active"] else "no"} for i in items]
    table(rows, ["name", "digest", "origin", "active", "rules", "created_by", "created_at"])


@policy_app.command("deactivate")
def policy_deactivate(
    name: Annotated[str, typer.Argument(help="Name of an active stored policy.")],
    reason: Annotated[str, typer.Option(help="Why it no longer applies (kept in the audit log).")],
) -> None:
    """Take a stored policy out of the active set; a built-in baseline it replaced applies again."""
    doc = Api().post(f"/policies/{name}/deactivate", json={"reason": reason})
    emit(doc, human=f"Deactivated policy {doc['name']} {_short(doc['digest'])}; assessments no longer use it")


@policy_app.command("show")
def policy_show(
    ref: Annotated[str, typer.Argument(help="NAME (the active version) or DIGEST (7+ hex characters).")],
    yaml: Annotated[bool, typer.Option("--yaml", help="Print only the YAML source.")] = False,
) -> None:
    """A policy version: metadata and rules (or its YAML)."""
    doc = Api().get(f"/policies/{ref}")
    if STATE.json:
        emit(doc)
        return
    if yaml:
        sys.stdout.write(doc["source"] if doc["source"].endswith("\n") else doc["source"] + "\n")
        return
    state = "active" if doc["active"] else "inactive"
    console.print(f"[bold]{doc['name']}[/bold] {doc['digest']} ({doc['origin']}, {state})", highlight=False)
    if doc.get("description"):
        console.print(f"  {doc['description']}", highlight=False)
    if doc.get("created_by"):
        console.print(f"  added by {doc['created_by']} at {doc['created_at']} from {doc['filename']}", highlight=False)
    rows = [[r["id"], r["severity"], r["title"], ", ".join(r["controls"])] for r in doc["rule_list"]]
    grid(["rule", "severity", "title", "controls"], rows, title=f"{len(doc['rule_list'])} rules")


def _value(v: Any) -> str:
    text = ", ".join(map(str, v)) if isinstance(v, list) else ("-" if v is None else str(v))
    text = " ".join(text.split())
    return text if len(text) <= 90 else text[:89] + "…"


@policy_app.command("diff")
def policy_diff(
    ref: Annotated[str, typer.Argument(help="NAME (active vs previous version) or the older DIGEST.")],
    other: Annotated[str | None, typer.Argument(help="The newer NAME or DIGEST.")] = None,
) -> None:
    """Rule-level diff between two versions of a policy: added, removed and changed rules."""
    doc = Api().get(f"/policies/{ref}/diff", params={"to": other} if other else {})
    if STATE.json:
        emit(doc)
        return
    a, b = doc["from"], doc["to"]
    console.print(
        f"[bold]{a['name']}[/bold] {_short(a['digest'])} ({a['origin']}) → "
        f"[bold]{b['name']}[/bold] {_short(b['digest'])} ({b['origin']})",
        highlight=False,
    )
    for field, change in doc["metadata"].items():
        console.print(f"  ~ {field}: {_value(change['before'])} → {_value(change['after'])}", highlight=False)
    for r in doc["added"]:
        console.print(f"[green]+ {r['id']}[/green] ({r['severity']}) {r['title']}", highlight=False)
    for r in doc["removed"]:
        console.print(f"[red]- {r['id']}[/red] ({r['severity']}) {r['title']}", highlight=False)
    for r in doc["changed"]:
        console.print(f"[yellow]~ {r['id']}[/yellow]", highlight=False)
        for field, change in r["changes"].items():
            console.print(f"    {field}: {_value(change['before'])} → {_value(change['after'])}", highlight=False)
    n = len(doc["added"]) + len(doc["removed"]) + len(doc["changed"])
    console.print(
        f"{len(doc['added'])} added, {len(doc['removed'])} removed, {len(doc['changed'])} changed, "
        f"{len(doc['unchanged'])} unchanged" + ("" if n else " (no rule changes)"),
        highlight=False,
    )


@policy_app.command("test")
def policy_test(
    directory: Annotated[Path, typer.Argument(help="Directory with *.yaml policies and *_test.yaml cases.")],
    baselines: Annotated[
        bool, typer.Option("--with-baselines", help="Load the built-in baselines too (cases may expect their rules).")
    ] = False,
) -> None:
    """Run the policy tests of a directory, offline; exit 1 when a case fails."""
    from charter.policies import builtin_baselines, run_policy_tests

    if not directory.is_dir():
        raise usage(ErrorCode.DIRECTORY_NOT_FOUND, f"policy test: no such directory: {directory}")
    report = run_policy_tests(directory, extra_policies=builtin_baselines() if baselines else ())
    if not report.cases:
        raise usage(ErrorCode.NO_CASES, f"policy test: no *_test.yaml cases in {directory}")
    emit(report.to_dict(), human=report.format_text())
    if not report.passed:
        raise typer.Exit(EXIT_NO)


@policy_app.command("eval")
def policy_eval(
    ref: Annotated[str, typer.Argument(help="SYSTEM@VERSION")],
    format: Annotated[str | None, typer.Option("--format", help="json | junit | sarif | markdown.")] = None,
    output: Annotated[Path | None, typer.Option(help="Write the --format output to this file.")] = None,
    html: Annotated[Path | None, typer.Option(help="Write an HTML report to this file.")] = None,
) -> None:
    """Assess a model version with the active policies (its latest evaluation, the catalog now); exit 1 on a blocker."""
    system, version = split_ref(ref)
    check_format(format)
    doc = Api().post(f"/systems/{system}/versions/{version}/assessments", json={})
    show_assessment(doc, fmt=format, output=output, html=html, extra={})


@controls_app.command("coverage")
def controls_coverage(
    framework: Annotated[
        str | None, typer.Option(help="eu-ai-act | gdpr | nist-ai-rmf | iso-42001 (default: a summary of all).")
    ] = None,
    tier: Annotated[str | None, typer.Option(help="Only controls that apply to this risk tier.")] = None,
) -> None:
    """Which controls the active policies cover, and which they leave open."""
    params = {k: v for k, v in {"framework": framework, "risk_tier": tier}.items() if v}
    doc = Api().get("/controls/coverage", params=params)
    if STATE.json:
        emit(doc)
        return
    if framework is None:
        rows = [
            {**i, "covered": f"{i['covered_count']}/{i['total']}", "%": round(100 * i["ratio"])} for i in doc["items"]
        ]
        table(rows, ["framework", "title", "covered", "%"], title=f"Coverage by {len(doc['policies'])} policies")
        return
    console.print(
        f"[bold]{doc['title']}[/bold]: {doc['covered_count']}/{doc['total']} controls covered "
        f"({round(100 * doc['ratio'])}%) by {len(doc['policies'])} active policies",
        highlight=False,
    )
    grid(
        ["control", "title", "legal status", "rules"],
        [[c["id"], c["title"], c.get("legal_status", ""), ", ".join(c["rules"])] for c in doc["covered"]],
        title="covered",
    )
    if doc["uncovered"]:
        grid(
            ["control", "title", "legal status"],
            [[c["id"], c["title"], c.get("legal_status", "")] for c in doc["uncovered"]],
            title="not covered by any rule",
        )


@controls_app.command("status")
def controls_status(
    system: str,
    framework: Annotated[str, typer.Option(help="eu-ai-act (default) | gdpr | nist-ai-rmf | iso-42001")] = "eu-ai-act",
    all_: Annotated[bool, typer.Option("--all", help="Also list controls that do not apply.")] = False,
) -> None:
    """Each control's status for SYSTEM: auto_checked, attested, expired, missing, not_applicable (with why)."""
    doc = Api().get(f"/systems/{system}/controls", params={"framework": framework})
    red = any(not c["ok"] for c in doc["controls"])
    if STATE.json:
        emit(doc)
        if red:
            raise typer.Exit(1)
        return
    counts = ", ".join(f"{v} {k}" for k, v in sorted(doc["counts"].items()))
    console.print(f"[bold]{doc['system']}[/bold] (tier {doc['tier']}), {doc['framework']}: {counts}", highlight=False)
    rows = [
        [c["id"], c["status"] if c["ok"] else c["status"].upper(), c["legal_status"], c["why"]]
        for c in doc["controls"]
        if all_ or c["status"] != "not_applicable"
    ]
    grid(["control", "status", "legal status", "why"], rows)
    if red:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(policy_app, name="policy")
    app.add_typer(controls_app, name="controls")
