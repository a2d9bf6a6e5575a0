"""system, model, dataset, lineage, export cyclonedx.

Digests, file lists, table schemas and model cards are read here, on the user's machine; the API receives
the results (never the bytes) and checks them for consistency.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn
from rich.tree import Tree

from charter.catalog import artifacts, spdx, yamlfile
from charter.catalog.card import read_card
from charter.catalog.questionnaire import Questionnaire, questions
from charter.catalog.schemas import LawfulBasis
from charter.catalog.terms import KNOWN_MODEL_LICENSES
from charter.cli.client import Api
from charter.cli.context import STATE
from charter.cli.errors import CliError
from charter.cli.errors import usage as _usage
from charter.cli.output import console, emit, err_console, grid, table
from charter.core.errors import ErrorCode

system_app = typer.Typer(help="AI systems and their EU AI Act classification.", no_args_is_help=True)
model_app = typer.Typer(help="Model versions (SYSTEM@VERSION).", no_args_is_help=True)
dataset_app = typer.Typer(help="Datasets.", no_args_is_help=True)
lineage_app = typer.Typer(help="Dataset lineage.", no_args_is_help=True)
export_app = typer.Typer(help="Export the catalog.", no_args_is_help=True)
mlflow_app = typer.Typer(help="MLflow Model Registry bridge (needs charter[mlflow]).", no_args_is_help=True)

PROGRESS_MIN_BYTES = 16 << 20


def _read_text(path: Path, field: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _usage("file_not_found", f"{field}: no such file: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _usage("file_unreadable", f"{field}: cannot read {path}: {exc}") from None


def load_answers(path: Path) -> dict[str, Any]:
    """Read and validate a questionnaire answers file (YAML or JSON); errors name file:line:col and the field."""
    located = yamlfile.load(_read_text(path, "answers"), str(path), field_name="answers")
    if not isinstance(located.value, dict):
        raise _usage("invalid_answers", f"{path}:1:1: answers must be a mapping with a 'prohibited' section")
    try:
        return Questionnaire.model_validate(located.value).model_dump(mode="json")
    except ValidationError as exc:
        raise yamlfile.describe_validation(located, exc.errors(), prefix="answers.") from None


def ask_questionnaire() -> dict[str, Any]:
    """Ask every question on the terminal (yes/no for flags, text otherwise; empty text keeps the default)."""
    doc: dict[str, dict[str, Any]] = {}
    for section, name, question, default in questions():
        if default is ... or isinstance(default, bool):
            value: Any = typer.confirm(question, default=False if default is ... else default)
        else:
            shown = ",".join(default) if isinstance(default, list) else ("" if default is None else str(default))
            raw = typer.prompt(f"{question} [{shown or 'none'}]", default="", show_default=False).strip()
            value = default if not raw else ([v.strip() for v in raw.split(",")] if isinstance(default, list) else raw)
        doc.setdefault(section, {})[name] = value
    try:
        return Questionnaire.model_validate(doc).model_dump(mode="json")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise _usage("invalid_answers", f"answers.{where}: {first['msg']}") from None


def _answers(path: Path | None) -> dict[str, Any]:
    if path is not None:
        return load_answers(path)
    if STATE.json or not sys.stdin.isatty():
        raise _usage("answers_required", "--answers FILE is required (or run in a terminal to answer interactively)")
    return ask_questionnaire()


@contextmanager
def _hash_progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A Rich progress bar on stderr for large inputs on a terminal; nothing with --json or when piped."""
    if STATE.json or total < PROGRESS_MIN_BYTES or not err_console.is_terminal:
        yield None
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as progress:
        task = progress.add_task(label, total=total)
        yield lambda n: progress.advance(task, n)


def _inspect(path: Path, field: str, label: str) -> artifacts.ArtifactInfo:
    total = artifacts.total_size(path, field)
    with _hash_progress(total, label) as advance:
        return artifacts.inspect(path, advance, field)


def _tier_line(doc: dict[str, Any]) -> str:
    area = f", Annex III {doc['annex_iii_area']}" if doc.get("annex_iii_area") else ""
    gpai = ", GPAI" + (" with systemic risk" if doc.get("gpai_systemic") else "") if doc.get("gpai") else ""
    return f"{doc['risk_tier']}{area}{gpai}"


def _show_system(doc: dict[str, Any]) -> None:
    if STATE.json:
        emit(doc)
        return
    console.print(f"[bold]{doc['name']}[/bold] ({doc['id']}) — tier [bold]{_tier_line(doc)}[/bold]")
    for label, key in (("purpose", "purpose"), ("team", "team"), ("deployer", "deployer")):
        console.print(f"  {label}: {doc.get(key) or '-'}", highlight=False)
    if doc.get("production_licensed"):
        console.print("  holds a production license: changes need senior-engineer")
    if doc.get("thresholds"):
        tightened = ", ".join(f"{k} {v}" for k, v in sorted(doc["thresholds"].items()))
        console.print(f"  tightened thresholds: {tightened}", highlight=False)
    if doc.get("is_prohibited"):
        console.print("[red]  prohibited practice: no license can be issued for this system[/red]")
    for reason in doc.get("tier_reasons", []):
        console.print(f"  • {reason}", highlight=False)
    rows = [[ob["id"], ob.get("legal_status", ""), ob["why"]] for ob in doc.get("obligations_explained", [])]
    grid(["control", "legal status", "why it applies"], rows, title=f"{len(doc['obligations'])} applicable obligations")


@system_app.command("register")
def system_register(
    name: str,
    purpose: Annotated[str, typer.Option(help="Intended purpose.")],
    team: Annotated[str | None, typer.Option(help="Owner team.")] = None,
    answers: Annotated[Path | None, typer.Option(help="Questionnaire answers (YAML/JSON).")] = None,
    deployer: Annotated[str | None, typer.Option(help="Deploying organisation.")] = None,
    human_oversight: Annotated[str | None, typer.Option(help="How humans oversee the system.")] = None,
    dpia_ref: Annotated[str | None, typer.Option(help="DPIA reference.")] = None,
    log_retention_days: Annotated[int | None, typer.Option(help="Days logs are kept.", min=0)] = None,
    access_restricted: Annotated[bool, typer.Option(help="Access restricted to named principals.")] = False,
) -> None:
    """Register an AI system from the EU AI Act questionnaire; prints its tier and obligations."""
    body = {
        "name": name,
        "purpose": purpose,
        "team": team,
        "answers": _answers(answers),
        "deployer": deployer,
        "human_oversight": human_oversight,
        "dpia_reference": dpia_ref,
        "log_retention_days": log_retention_days,
        "access_restricted": access_restricted,
    }
    doc = Api().post("/systems", json=body)
    emit(
        doc,
        human=f"Registered {doc['name']} ({doc['id']}): tier {_tier_line(doc)}, "
        f"{len(doc['obligations'])} obligations (charter system show {doc['name']})",
    )


@system_app.command("classify")
def system_classify(
    name: str, answers: Annotated[Path | None, typer.Option(help="Questionnaire answers (YAML/JSON).")] = None
) -> None:
    """Re-classify a system from new answers."""
    doc = Api().post(f"/systems/{name}/classify", json={"answers": _answers(answers)})
    emit(doc, human=f"{doc['name']}: tier {_tier_line(doc)}, {len(doc['obligations'])} obligations")


@system_app.command("update")
def system_update(
    name: str,
    purpose: Annotated[str | None, typer.Option()] = None,
    team: Annotated[str | None, typer.Option()] = None,
    deployer: Annotated[str | None, typer.Option()] = None,
    human_oversight: Annotated[str | None, typer.Option()] = None,
    dpia_ref: Annotated[str | None, typer.Option()] = None,
    log_retention_days: Annotated[int | None, typer.Option(min=0)] = None,
    access_restricted: Annotated[bool | None, typer.Option("--access-restricted/--no-access-restricted")] = None,
    threshold: Annotated[
        list[str] | None,
        typer.Option(help="NAME=VALUE to tighten a policy threshold for this system (NAME=default resets it)."),
    ] = None,
) -> None:
    """Change a system's descriptive fields, or tighten its policy thresholds."""
    given = {
        "purpose": purpose,
        "team": team,
        "deployer": deployer,
        "human_oversight": human_oversight,
        "dpia_reference": dpia_ref,
        "log_retention_days": log_retention_days,
        "access_restricted": access_restricted,
        "thresholds": _thresholds(threshold) if threshold else None,
    }
    doc = Api().request("PATCH", f"/systems/{name}", json={k: v for k, v in given.items() if v is not None})
    emit(doc, human=f"Updated {doc['name']} (revision {doc['revision']})")


def _thresholds(values: list[str]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for item in values:
        name, sep, raw = item.partition("=")
        if not sep or not name.strip():
            raise _usage("invalid_threshold", f"--threshold '{item}': use NAME=VALUE, e.g. dp_diff_max=0.05")
        if raw.strip() == "default":
            out[name.strip()] = None
            continue
        try:
            out[name.strip()] = float(raw)
        except ValueError:
            raise _usage("invalid_threshold", f"--threshold {name}: '{raw}' is not a number (or 'default')") from None
    return out


@system_app.command("show")
def system_show(name: str) -> None:
    """A system's tier, reasons and obligations (with why each applies)."""
    _show_system(Api().get(f"/systems/{name}"))


@system_app.command("list")
def system_list(
    team: Annotated[str | None, typer.Option()] = None, tier: Annotated[str | None, typer.Option()] = None
) -> None:
    """List AI systems."""
    params = {k: v for k, v in {"team": team, "tier": tier}.items() if v}
    table(Api().get_all("/systems", params), ["name", "team", "risk_tier", "annex_iii_area", "purpose"])


def _split_ref(ref: str) -> tuple[str, str]:
    name, sep, version = ref.partition("@")
    if not sep or not name or not version:
        raise _usage("invalid_ref", f"'{ref}' must be SYSTEM@VERSION (e.g. credit-scoring@1.0.0)")
    return name, version


def _model_license(value: str | None) -> str | None:
    return spdx.normalize(value, field="license", extra=tuple(KNOWN_MODEL_LICENSES)) if value else None


def _signature(signature: Path | None, signer_key: Path | None) -> dict[str, str] | None:
    if signature is None and signer_key is None:
        return None
    if signature is None or signer_key is None:
        raise _usage("invalid_signature", "--signature and --signer-key go together (the bundle and the public key)")
    out: dict[str, str] = {}
    for field, path, limit in (("bundle", signature, 256 << 10), ("public_key", signer_key, 16 << 10)):
        try:
            if path.stat().st_size > limit:
                raise _usage("invalid_signature", f"{path}: larger than {limit} bytes; is it the right file?")
            out[field] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
            raise _usage("invalid_signature", f"{path}: {why}") from None
    return out


@model_app.command("register")
def model_register(
    ref: Annotated[str, typer.Argument(help="SYSTEM@VERSION")],
    artifact: Annotated[Path, typer.Option(help="Model file or directory.")],
    card: Annotated[
        Path | None, typer.Option(help="Model card (Hugging Face README.md with YAML front matter).")
    ] = None,
    framework: Annotated[str | None, typer.Option(help="Framework (default: detected).")] = None,
    format: Annotated[str | None, typer.Option(help="Format (default: from the file extension).")] = None,
    license: Annotated[str | None, typer.Option(help="Upstream license: SPDX id or e.g. openrail, llama3.")] = None,
    restricted_purpose: Annotated[list[str] | None, typer.Option(help="A purpose the terms forbid.")] = None,
    uri: Annotated[str | None, typer.Option(help="Where the artifact lives (default: its local path).")] = None,
    signature: Annotated[
        Path | None, typer.Option(help="OpenSSF model-signing bundle over the artifact (model.sig).")
    ] = None,
    signer_key: Annotated[
        Path | None, typer.Option(help="The signer's public key (PEM) to verify --signature with.")
    ] = None,
) -> None:
    """Register a model version: Charter hashes the artifact here and records `sha256:<hex>`.

    With --signature and --signer-key the server verifies the signature over the files before recording the
    version (a tampered, missing or extra file is refused, named) and records the signer."""
    name, version = _split_ref(ref)
    signed = _signature(signature, signer_key)
    card_doc = read_card(card) if card is not None else {}
    license_expr = _model_license(license)
    artifacts.list_files(artifact, "artifact")
    api = Api()
    api.get(f"/systems/{name}")  # fail before hashing a large file when the system is unknown
    info = _inspect(artifact, "artifact", f"sha256 {artifact.name}")
    body = {
        "version": version,
        "digest": info.digest,
        "size_bytes": info.size,
        "files": [f.to_dict() for f in info.files],
        "uri": uri or str(artifact.resolve()),
        "framework": framework,
        "format": format,
        "card": card_doc,
        "license": license_expr,
        "restricted_purposes": restricted_purpose or [],
    }
    if signed is not None:
        body["signature"] = signed
    doc = api.post(f"/systems/{name}/versions", json=body)
    emit(
        doc,
        human=f"Registered {doc['ref']} {doc['digest']} ({doc['format'] or 'unknown format'}, "
        f"{doc['size_bytes']} bytes)"
        + (f", signed by {doc['signature']['signer']} (verified)" if doc.get("signature") else ""),
    )


@model_app.command("show")
def model_show(ref: Annotated[str, typer.Argument(help="SYSTEM@VERSION")]) -> None:
    """A model version."""
    name, version = _split_ref(ref)
    doc = Api().get(f"/systems/{name}/versions/{version}")
    if STATE.json:
        emit(doc)
        return
    state = "locked (licensed)" if doc["locked"] else "unlocked"
    if doc.get("retired_at"):
        state = f"retired {doc['retired_at']} by {doc['retired_by']}: {doc['retire_reason']}"
    console.print(f"[bold]{doc['ref']}[/bold] {doc['digest']} — {state}", highlight=False)
    for key in ("framework", "format", "size_bytes", "license", "uri"):
        console.print(f"  {key}: {doc.get(key) if doc.get(key) is not None else '-'}", highlight=False)
    console.print(f"  restricted purposes: {', '.join(doc['restricted_purposes']) or 'none'}", highlight=False)
    console.print(f"  card fields: {', '.join(k for k in doc['card'] if k != 'sections') or 'none'}", highlight=False)


@model_app.command("list")
def model_list(system: Annotated[str | None, typer.Argument(help="Only this system's versions.")] = None) -> None:
    """List model versions."""
    path = f"/systems/{system}/versions" if system else "/models"
    items = Api().get_all(path)
    rows = items if STATE.json else [{**i, "retired": "yes" if i.get("retired_at") else ""} for i in items]
    table(rows, ["ref", "digest", "format", "license", "locked", "retired"])


@model_app.command("retire")
def model_retire(
    ref: Annotated[str, typer.Argument(help="SYSTEM@VERSION")],
    reason: Annotated[str, typer.Option(help="Why it is withdrawn (kept in the audit log and on its licenses).")],
) -> None:
    """Retire a model version for good: its licenses are revoked at once, and it can never be licensed again."""
    name, version = _split_ref(ref)
    doc = Api().post(f"/systems/{name}/versions/{version}/retire", json={"reason": reason})
    revoked = ", ".join(doc["revoked"]) or "none"
    emit(doc, human=f"Retired {doc['model']['ref']}; licenses revoked: {revoked}")


def _date(value: str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise _usage("invalid_date", f"{field}: '{value}' is not a date (YYYY-MM-DD)") from None


def _lawful_basis(value: str | None) -> str | None:
    if value is None:
        return None
    normalized = value.strip().lower().replace("_", "-")
    choices = [b.value for b in LawfulBasis]
    if normalized not in choices:
        raise _usage(
            "invalid_lawful_basis",
            f"lawful-basis: '{value}' is not a GDPR Art. 6 lawful basis; use one of: {', '.join(choices)}",
        )
    return normalized


@dataset_app.command("register")
def dataset_register(
    name: str,
    file: Annotated[Path, typer.Option(help="Dataset file or directory (CSV/Parquet: schema and rows are read).")],
    version: Annotated[str | None, typer.Option(help="Version label (default: next integer).")] = None,
    license: Annotated[str | None, typer.Option(help="SPDX license expression.")] = None,
    lawful_basis: Annotated[
        str | None,
        typer.Option(help="consent|contract|legal-obligation|vital-interests|public-task|legitimate-interests"),
    ] = None,
    personal_data: Annotated[bool, typer.Option(help="Contains personal data.")] = False,
    special_category: Annotated[bool, typer.Option(help="Contains GDPR Art. 9 data.")] = False,
    source: Annotated[str | None, typer.Option(help="Where the data comes from.")] = None,
    consent_ref: Annotated[str | None, typer.Option(help="Consent record reference.")] = None,
    retention_until: Annotated[str | None, typer.Option(help="Delete after (YYYY-MM-DD).")] = None,
    derived_from: Annotated[list[str] | None, typer.Option(help="Upstream dataset (NAME or NAME@VERSION).")] = None,
    team: Annotated[str | None, typer.Option(help="Owner team.")] = None,
    uri: Annotated[str | None, typer.Option(help="Where the data lives (default: its local path).")] = None,
) -> None:
    """Register a dataset: digest, schema and row count are computed here."""
    license_expr = spdx.normalize(license, field="license") if license else None
    basis = _lawful_basis(lawful_basis)
    retention = _date(retention_until, "retention-until")
    artifacts.list_files(file, "file")
    from charter.catalog import tabular  # pyarrow: imported only by the command that needs it

    table_info = tabular.read_table_info(file, "file")
    info = _inspect(file, "file", f"sha256 {file.name}")
    body = {
        "name": name,
        "version": version,
        "team": team,
        "digest": info.digest,
        "size_bytes": info.size,
        "uri": uri or str(file.resolve()),
        "source": source,
        "license": license_expr,
        "lawful_basis": basis,
        "personal_data": personal_data or special_category,
        "special_category": special_category,
        "consent_ref": consent_ref,
        "retention_until": retention,
        "data_format": table_info.format if table_info else None,
        "schema": table_info.schema() if table_info else None,
        "row_count": table_info.rows if table_info else None,
        "derived_from": derived_from or [],
    }
    doc = Api().post("/datasets", json=body)
    rows = f", {doc['row_count']} rows" if doc.get("row_count") is not None else ""
    emit(doc, human=f"Registered dataset {doc['ref']} {doc['digest']}{rows}")


@dataset_app.command("show")
def dataset_show(ref: Annotated[str, typer.Argument(help="NAME or NAME@VERSION")]) -> None:
    """A dataset."""
    doc = Api().get(f"/datasets/{ref}")
    if STATE.json:
        emit(doc)
        return
    console.print(f"[bold]{doc['ref']}[/bold] {doc.get('digest') or '(no digest)'}", highlight=False)
    for key in (
        "license",
        "lawful_basis",
        "personal_data",
        "special_category",
        "consent_ref",
        "retention_until",
        "source",
        "row_count",
        "derived_from",
    ):
        value = doc.get(key)
        console.print(f"  {key}: {', '.join(value) if isinstance(value, list) else value}", highlight=False)
    if doc.get("schema"):
        console.print("  columns: " + ", ".join(f"{c['name']}:{c['type']}" for c in doc["schema"]), highlight=False)


@dataset_app.command("list")
def dataset_list() -> None:
    """List datasets."""
    table(Api().get_all("/datasets"), ["ref", "digest", "license", "lawful_basis", "personal_data", "row_count"])


@lineage_app.command("link")
def lineage_link(
    dataset: Annotated[str, typer.Argument(help="Source dataset: NAME or NAME@VERSION.")],
    target: Annotated[str, typer.Argument(help="SYSTEM@VERSION, or dataset:NAME for a derived dataset.")],
    role: Annotated[str | None, typer.Option(help="training|validation|test|reference (model targets).")] = None,
) -> None:
    """Link a dataset to a model version (with a role) or to a dataset derived from it."""
    if target.startswith("dataset:"):
        body: dict[str, Any] = {"dataset": dataset, "derived": target.removeprefix("dataset:")}
    else:
        _split_ref(target)
        if role is None:
            raise _usage("role_required", "--role is required for a model target: training|validation|test|reference")
        body = {"dataset": dataset, "model": target, "role": role}
    doc = Api().post("/lineage", json=body)
    emit(doc, human=f"Linked {doc['source']} → {doc['target']} ({doc['role']})")


def _node_label(node: dict[str, Any]) -> str:
    digest = (node.get("digest") or "no digest")[:19]
    personal = ""
    if node.get("personal_data"):
        personal = f", personal data ({node.get('lawful_basis') or 'NO lawful basis'})"
    if node.get("special_category"):
        personal += ", special category"
    return f"{node['ref']}  {digest}  {node.get('license') or 'NO license'}{personal}"


def _add(tree: Tree, nodes: list[dict[str, Any]], prefix: str) -> None:
    for node in nodes:
        branch = tree.add(f"{prefix}{_node_label(node)}", highlight=False)
        _add(branch, node.get("upstream", []), "derived from: ")


@lineage_app.command("show")
def lineage_show(ref: Annotated[str, typer.Argument(help="SYSTEM@VERSION")]) -> None:
    """The datasets behind a model version as a tree, and its provenance verdict."""
    name, version = _split_ref(ref)
    doc = Api().get(f"/systems/{name}/versions/{version}/lineage")
    if STATE.json:
        emit(doc)
        return
    tree = Tree(f"[bold]{doc['model']}[/bold]  {doc['digest']}  ({doc.get('format') or 'unknown format'})")
    for node in doc["datasets"]:
        branch = tree.add(f"{node['role']}: {_node_label(node)}", highlight=False)
        _add(branch, node.get("upstream", []), "derived from: ")
    console.print(tree)
    prov = doc["provenance"]
    if prov["complete"]:
        console.print("provenance: complete")
    else:
        console.print(f"provenance: [red]incomplete[/red] ({len(prov['issues'])} issues)")
        for issue in prov["issues"]:
            console.print(f"  • {issue}", highlight=False)


@export_app.command("cyclonedx")
def export_cyclonedx(
    output: Annotated[Path | None, typer.Option(help="Write to FILE instead of stdout.")] = None,
) -> None:
    """The catalog as a CycloneDX 1.6 ML-BOM (JSON)."""
    doc = Api().get("/export/cyclonedx")
    text = json.dumps(doc, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
        return
    output.write_text(text, encoding="utf-8")
    emit(
        {"output": str(output), "components": len(doc.get("components", []))},
        human=f"Wrote {len(doc.get('components', []))} components to {output}",
    )


def _mlflow_versions(tracking_uri: str, models: list[str] | None, alias: str | None) -> list[Any]:
    from charter.catalog import mlflow_bridge

    found = mlflow_bridge.registry_versions(tracking_uri, models or [])
    return [v for v in found if alias is None or alias in v.aliases]


def _mlflow_system(version: Any, system: str | None) -> str:
    from charter.catalog import mlflow_bridge

    return system or mlflow_bridge.system_name_for(version.name)


def _catalog_version(api: Api, system: str, version: str) -> dict[str, Any] | None:
    try:
        doc: dict[str, Any] = api.get(f"/systems/{system}/versions/{version}")
        return doc
    except CliError as exc:
        if exc.code in (ErrorCode.MODEL_VERSION_NOT_FOUND, ErrorCode.SYSTEM_NOT_FOUND):
            return None
        raise


@mlflow_app.command("import")
def mlflow_import(
    tracking_uri: Annotated[str, typer.Option(help="MLflow tracking/registry URI.")],
    model: Annotated[list[str] | None, typer.Option(help="Registered model name (default: all).")] = None,
    system: Annotated[str | None, typer.Option(help="Charter system for a single --model.")] = None,
    alias: Annotated[str | None, typer.Option(help="Only versions carrying this alias.")] = None,
) -> None:
    """Register MLflow model versions as SYSTEM@VERSION (digest computed from the fetched artifacts)."""
    import tempfile

    from charter.catalog import mlflow_bridge

    if system and len(model or []) != 1:
        raise _usage("usage", "--system needs exactly one --model")
    api = Api()
    results: list[dict[str, Any]] = []
    known: dict[str, bool] = {}
    for v in _mlflow_versions(tracking_uri, model, alias):
        name = _mlflow_system(v, system)
        ref = f"{name}@{v.version}"
        row = {"model": v.name, "version": v.version, "ref": ref, "status": "", "digest": None}
        results.append(row)
        if name not in known:
            known[name] = _system_exists(api, name)
        if not known[name]:
            row["status"] = f"skipped: no Charter system '{name}' (charter system register {name} ...)"
            continue
        existing = _catalog_version(api, name, v.version)
        if existing is not None:
            row.update(status="exists", digest=existing["digest"])
            continue
        with tempfile.TemporaryDirectory(prefix="charter-mlflow-") as tmp:
            root = mlflow_bridge.fetch(tracking_uri, v, Path(tmp))
            info = _inspect(root, "artifact", f"sha256 {ref}")
            body = {
                "version": v.version,
                "digest": info.digest,
                "size_bytes": info.size,
                "files": [f.to_dict() for f in info.files],
                "uri": v.models_uri,
                "framework": mlflow_bridge.framework_of(root) or info.framework,
                "card": mlflow_bridge.card_for(v, root),
                "license": _model_license(v.tags.get("license")),
            }
        doc = api.post(f"/systems/{name}/versions", json=body)
        row.update(status="registered", digest=doc["digest"])
    table(results, ["model", "version", "ref", "status", "digest"], title="MLflow import")


def _system_exists(api: Api, name: str) -> bool:
    try:
        api.get(f"/systems/{name}")
        return True
    except CliError as exc:
        if exc.code == ErrorCode.SYSTEM_NOT_FOUND:
            return False
        raise


@mlflow_app.command("guard")
def mlflow_guard(
    tracking_uri: Annotated[str, typer.Option(help="MLflow tracking/registry URI.")],
    alias: Annotated[str | None, typer.Option(help="Versions carrying this alias (default: champion).")] = "champion",
    all_versions: Annotated[bool, typer.Option("--all", help="Check every version, not only the alias.")] = False,
    model: Annotated[list[str] | None, typer.Option(help="Registered model name (default: all).")] = None,
    system: Annotated[str | None, typer.Option(help="Charter system for a single --model.")] = None,
) -> None:
    """Exit 1 unless every guarded MLflow version is registered in Charter, unchanged (same digest) and licensed."""
    import tempfile

    from charter.catalog import mlflow_bridge

    if system and len(model or []) != 1:
        raise _usage("usage", "--system needs exactly one --model")
    api = Api()
    results: list[dict[str, Any]] = []
    for v in _mlflow_versions(tracking_uri, model, None if all_versions else alias):
        ref = f"{_mlflow_system(v, system)}@{v.version}"
        row = {"model": v.name, "version": v.version, "ref": ref, "verdict": "fail", "reason": ""}
        results.append(row)
        existing = _catalog_version(api, *ref.split("@", 1))
        if existing is None:
            row["reason"] = f"not registered in Charter (charter mlflow import --tracking-uri {tracking_uri})"
            continue
        with tempfile.TemporaryDirectory(prefix="charter-mlflow-") as tmp:
            info = _inspect(mlflow_bridge.fetch(tracking_uri, v, Path(tmp)), "artifact", f"sha256 {ref}")
        if info.digest != existing["digest"]:
            row["reason"] = f"artifact changed: MLflow has {info.digest}, Charter registered {existing['digest']}"
        elif not existing["locked"]:
            row["reason"] = "no license was ever activated for this version"
        else:
            row.update(verdict="pass", reason="registered, unchanged, licensed")
    table(results, ["model", "version", "ref", "verdict", "reason"], title="MLflow guard")
    if any(r["verdict"] != "pass" for r in results):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(system_app, name="system")
    app.add_typer(model_app, name="model")
    app.add_typer(dataset_app, name="dataset")
    app.add_typer(lineage_app, name="lineage")
    app.add_typer(export_app, name="export")
    app.add_typer(mlflow_app, name="mlflow")
