"""Evaluation use cases: store client-computed evidence against a model digest, assess it with the active policies,
and the interface licenses rely on (`latest_assessment`, docs/dev/INTERFACES.md § Evaluation).

The client computes metrics and the artifact scan locally (the data never leaves the user's machine) and sends the
evidence with the sha256 of its inputs. The server adds what the catalog knows (system, model, datasets, provenance)
and the documentation completeness of the stored model card, evaluates every active policy and stores the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from charter import __version__
from charter.auth.authorize import authorize
from charter.auth.model import Actor, Permission
from charter.catalog import service as catalog
from charter.catalog.schemas import ModelVersionRead
from charter.core.canonical import canonical_json
from charter.core.clock import utcnow
from charter.core.errors import ErrorCode, InvalidInput
from charter.core.events import AuditEvent
from charter.core.hashing import sha256_hex
from charter.core.ids import new_id
from charter.evaluation import repository
from charter.evaluation.compute import ComputeOptions, json_safe
from charter.evaluation.documentation import assess_documentation
from charter.evaluation.report import evidence_values, render_assessment, rule_paths
from charter.evaluation.schemas import (
    AssessmentCreate,
    AssessmentDetail,
    AssessmentRead,
    EvaluationCreate,
    EvaluationInputs,
    EvaluationRead,
    EvaluationResult,
    InputFile,
    RuleResultRead,
    UploadMeta,
)
from charter.evaluation.tables import AssessmentRow, EvaluationRow
from charter.policies import service as policies
from charter.policies.document import PolicyDocument
from charter.policies.engine import Assessment, RuleResult, evaluate
from charter.policies.evidence import fill_defaults, type_problems
from charter.storage.uow import UnitOfWork

SECTIONS = ("performance", "fairness", "fairness_summary", "scan", "genai")
FROM_SERVER = {
    "system": "the catalog",
    "model": "the catalog",
    "datasets": "the catalog (lineage)",
    "provenance": "the catalog (lineage)",
    "documentation": "the stored model card",
    "thresholds": "the policy parameters",
    "evaluation": "the server (who computed the figures)",
}
SERVER, CLIENT = "server", "client"
MAX_PROBLEMS = 10


# ---- the interface for licenses -------------------------------------------------------------------------------


def latest_assessment(uow: UnitOfWork, digest: str) -> AssessmentRead | None:
    """The newest assessment of a model digest (`sha256:<hex>` or `<hex>`), or None; never authorizes."""
    row = repository.latest_assessment_row(uow.session, digest)
    return _read(row) if row is not None else None


def find_assessment(uow: UnitOfWork, assessment_id: str) -> AssessmentRead | None:
    """The assessment `assessment_id`, or None; never authorizes (license tokens name the one they rest on)."""
    row = uow.session.get(AssessmentRow, assessment_id)
    return _read(row) if row is not None else None


# ---- use cases -------------------------------------------------------------------------------------------------


def submit_evaluation(uow: UnitOfWork, actor: Actor, ref: str, data: EvaluationCreate) -> EvaluationResult:
    """Store evidence computed on the client (self-reported) about `SYSTEM@VERSION`, assess it against the active
    policies, store the assessment."""
    version = catalog.get_model_version(uow, ref)
    authorize(actor, Permission.EVALUATION_RUN, catalog.system_resource(uow, version.system))
    evidence = _checked_evidence(data.evidence)
    _check_inputs(data, evidence, version)
    _check_genai_inputs(data, evidence)
    options = data.options.model_dump(mode="json", exclude_none=True)
    return _store(uow, actor, version, evidence, _inputs(data), options, CLIENT)


def check_upload(uow: UnitOfWork, actor: Actor, ref: str) -> ModelVersionRead:
    """Before an upload is read: the model version exists and `actor` may evaluate it."""
    version = catalog.get_model_version(uow, ref)
    authorize(actor, Permission.EVALUATION_RUN, catalog.system_resource(uow, version.system))
    return version


def submit_computed(
    uow: UnitOfWork,
    actor: Actor,
    ref: str,
    sections: Mapping[str, Any],
    predictions: InputFile,
    options: ComputeOptions,
    extra: UploadMeta,
) -> EvaluationResult:
    """Store evidence the server computed from uploaded predictions (`sections`, by `charter.evaluation.compute`),
    with the client's artifact scan if one came along, and assess it."""
    version = check_upload(uow, actor, ref)
    for key in extra.evidence:
        if key != "scan":
            raise InvalidInput(
                f"meta.evidence.{key[:60]}: an upload sends only the artifact scan; the server computes the rest",
                code=ErrorCode.EVIDENCE_INVALID,
                field=f"meta.evidence.{key[:60]}",
            )
    inputs = EvaluationInputs(predictions=predictions, artifact=extra.inputs.artifact)
    data = EvaluationCreate(evidence={**extra.evidence, **sections}, inputs=inputs)
    evidence = _checked_evidence(data.evidence)
    _check_inputs(data, evidence, version)
    return _store(uow, actor, version, evidence, _inputs(data), options.stored(), SERVER)


def _store(
    uow: UnitOfWork,
    actor: Actor,
    version: ModelVersionRead,
    evidence: dict[str, Any],
    inputs: dict[str, Any],
    options: dict[str, Any],
    computed_by: str,
) -> EvaluationResult:
    row = EvaluationRow(
        id=new_id("evl"),
        system=version.system,
        model_ref=version.ref,
        model_version_id=version.id,
        digest=version.digest,
        evidence=evidence,
        evidence_digest=sha256_hex(canonical_json(evidence)),
        inputs=inputs,
        options=options,
        computed_by=computed_by,
        code_version=__version__,
        created_by=actor.ref,
        created_at=utcnow(),
    )
    uow.session.add(row)
    uow.session.flush()
    details = {
        "id": row.id,
        "digest": row.digest,
        "evidence_digest": row.evidence_digest,
        "inputs": {k: v["sha256"] for k, v in row.inputs.items() if isinstance(v, dict)},
        "computed_by": computed_by,
        "code_version": __version__,
    }
    uow.record(AuditEvent(actor.ref, "evaluation.create", f"model:{version.ref}", details=details))
    detail = _assess(uow, actor, version, row)
    uow.commit()
    return EvaluationResult(evaluation=_evaluation_read(row), assessment=detail)


def reassess(uow: UnitOfWork, actor: Actor, ref: str, data: AssessmentCreate | None = None) -> AssessmentDetail:
    """Assess `SYSTEM@VERSION` again: its latest (or given) evaluation, the catalog now, the active policies now."""
    version = catalog.get_model_version(uow, ref)
    authorize(actor, Permission.EVALUATION_RUN, catalog.system_resource(uow, version.system))
    evaluation: EvaluationRow | None
    if data is not None and data.evaluation_id:
        evaluation = repository.evaluation_row(uow.session, data.evaluation_id)
        if evaluation.digest != version.digest:
            raise InvalidInput(
                f"evaluation_id: {evaluation.id} is about {evaluation.model_ref} ({evaluation.digest}), "
                f"not {version.ref}",
                field="evaluation_id",
            )
    else:
        evaluation = repository.latest_evaluation_row(uow.session, version.digest)
    detail = _assess(uow, actor, version, evaluation)
    uow.commit()
    return detail


def record_assessment(
    uow: UnitOfWork,
    actor: Actor,
    ref: str,
    assessment: Assessment,
    evidence: Mapping[str, Any],
    *,
    policy_set: Sequence[PolicyDocument] = (),
) -> AssessmentDetail:
    """Store an assessment computed elsewhere (e.g. by `charter.policies.evaluate`) for `SYSTEM@VERSION`."""
    version = catalog.get_model_version(uow, ref)
    authorize(actor, Permission.EVALUATION_RUN, catalog.system_resource(uow, version.system))
    detail = _save(uow, actor, version, assessment, dict(evidence), None, policy_set)
    uow.commit()
    return detail


def get_assessment(uow: UnitOfWork, actor: Actor, assessment_id: str) -> AssessmentDetail:
    """One assessment with every rule's verdict, the evidence it was made on and its input digests."""
    row = repository.assessment_row(uow.session, assessment_id)
    authorize(actor, Permission.EVALUATION_READ, catalog.system_resource(uow, row.system))
    return _detail(uow, row)


def assessment_report(uow: UnitOfWork, actor: Actor, assessment_id: str, fmt: str = "html") -> str:
    """An assessment rendered as html, json, junit, sarif or markdown."""
    return render_assessment(get_assessment(uow, actor, assessment_id), fmt)


def list_assessments(uow: UnitOfWork, actor: Actor, ref: str) -> list[AssessmentRead]:
    """Assessments of `SYSTEM@VERSION`, newest first."""
    version = catalog.get_model_version(uow, ref)
    authorize(actor, Permission.EVALUATION_READ, catalog.system_resource(uow, version.system))
    return [_read(r) for r in repository.assessments_of(uow.session, version.id)]


def list_evaluations(uow: UnitOfWork, actor: Actor, ref: str) -> list[EvaluationRead]:
    """Evaluations of `SYSTEM@VERSION`, newest first."""
    version = catalog.get_model_version(uow, ref)
    authorize(actor, Permission.EVALUATION_READ, catalog.system_resource(uow, version.system))
    return [_evaluation_read(r) for r in repository.evaluations_of(uow.session, version.id)]


# ---- assessing -------------------------------------------------------------------------------------------------


def evidence_document(uow: UnitOfWork, version: ModelVersionRead, evaluation: EvaluationRow | None) -> dict[str, Any]:
    """The raw evidence document: catalog context, documentation of the stored card, the evaluation's sections and
    who computed them (with the sha256 of each input)."""
    raw = catalog.evidence_context(uow, version.ref)
    card = raw.get("model", {}).get("card") or {}
    raw["documentation"] = assess_documentation(card).to_dict()
    if evaluation is not None:
        raw.update({k: v for k, v in evaluation.evidence.items() if k in SECTIONS})
        raw["evaluation"] = {
            "computed_by": evaluation.computed_by,
            "self_reported": evaluation.computed_by != SERVER,
            "code_version": evaluation.code_version,
            "inputs": {k: _digests(v) for k, v in sorted(evaluation.inputs.items()) if v},
        }
    return raw


def _digests(value: Any) -> Any:
    """An input's sha256, or each one's for a list of inputs (GenAI reports)."""
    return [item["sha256"] for item in value] if isinstance(value, list) else value["sha256"]


def _assess(
    uow: UnitOfWork, actor: Actor, version: ModelVersionRead, evaluation: EvaluationRow | None
) -> AssessmentDetail:
    raw = evidence_document(uow, version, evaluation)
    active = policies.active_policies(uow)
    assessment = evaluate(active, raw)  # the raw document: the engine fills defaults and checks declared evidence
    return _save(uow, actor, version, assessment, raw, evaluation, active)


def _save(
    uow: UnitOfWork,
    actor: Actor,
    version: ModelVersionRead,
    assessment: Assessment,
    raw: dict[str, Any],
    evaluation: EvaluationRow | None,
    policy_set: Sequence[PolicyDocument],
) -> AssessmentDetail:
    filled = fill_defaults(raw)
    docs = {p.digest: p for p in policy_set}
    missing = [d for _, d in assessment.policies if d not in docs]
    if missing:
        docs.update(policies.policy_documents(uow, missing))
    row = AssessmentRow(
        id=new_id("asm"),
        evaluation_id=evaluation.id if evaluation is not None else None,
        system=version.system,
        model_ref=version.ref,
        model_version_id=version.id,
        digest=version.digest,
        verdict=assessment.verdict.value,
        blockers=[r.rule_id for r in assessment.blockers],
        counts=assessment.counts(),
        results=[_result(r, docs.get(r.policy_digest), filled) for r in assessment.results],
        policies=[{"name": n, "digest": d} for n, d in assessment.policies],
        policy_set_digest=assessment.policy_set_digest,
        evidence=_json_safe(raw),
        evidence_digest=assessment.evidence_digest,
        computed_by=evaluation.computed_by if evaluation is not None else None,
        code_version=__version__,
        created_by=actor.ref,
        created_at=utcnow(),
    )
    uow.session.add(row)
    uow.session.flush()
    details = {
        "model": version.ref,
        "digest": version.digest,
        "verdict": row.verdict,
        "blockers": row.blockers,
        "policy_set_digest": row.policy_set_digest,
        "evidence_digest": row.evidence_digest,
        "evaluation": row.evaluation_id,
        "computed_by": row.computed_by,
    }
    uow.record(AuditEvent(actor.ref, "assessment.create", f"assessment:{row.id}", details=details))
    return _detail(uow, row, evaluation)


def _result(result: RuleResult, doc: PolicyDocument | None, filled: Mapping[str, Any]) -> dict[str, Any]:
    out = result.to_dict()
    rule = doc.rule(result.rule_id) if doc is not None else None
    out["evidence"] = evidence_values(filled, rule_paths(rule)) if rule is not None else {}
    loc = result.location
    out["location"] = {"file": loc.file, "line": loc.line, "column": loc.column} if loc is not None else None
    safe: dict[str, Any] = _json_safe(out)
    return safe


# ---- checking submitted evidence -------------------------------------------------------------------------------


def _checked_evidence(evidence: Mapping[str, Any]) -> dict[str, Any]:
    for key in evidence:
        if key in FROM_SERVER:
            raise InvalidInput(
                f"evidence.{key}: comes from {FROM_SERVER[key]}, not from the evaluation; remove it",
                code=ErrorCode.EVIDENCE_INVALID,
                field=f"evidence.{key}",
            )
        if key not in SECTIONS:
            raise InvalidInput(
                f"evidence.{key[:60]}: unknown section; an evaluation sends {', '.join(SECTIONS)}",
                code=ErrorCode.EVIDENCE_INVALID,
                field=f"evidence.{key[:60]}",
            )
    clean: dict[str, Any] = _json_safe(dict(evidence))
    problems = type_problems(clean)
    if problems:
        shown = "; ".join(_located(path, message) for path, message in problems[:MAX_PROBLEMS])
        raise InvalidInput(
            shown,
            code=ErrorCode.EVIDENCE_INVALID,
            field=f"evidence.{problems[0][0]}",
            details={"problems": [{"field": f"evidence.{p}", "message": m} for p, m in problems]},
        )
    performed = isinstance(clean.get("scan"), Mapping) and clean["scan"].get("performed") is True
    genai = isinstance(clean.get("genai"), Mapping) and clean["genai"].get("evaluated") is True
    if clean.get("performance") is None and not performed and not genai:
        raise InvalidInput(
            "evidence: neither performance, an artifact scan nor GenAI results; evaluate predictions (--predictions), "
            "scan the artifact (--artifact) or give a tool's report (--garak, --inspect, --promptfoo, --lm-eval)",
            code=ErrorCode.EVIDENCE_EMPTY,
            field="evidence",
        )
    return clean


def _located(path: str, message: str) -> str:
    return f"evidence.{message}" if message.startswith(path) else f"evidence.{path}: {message}"


def _check_inputs(data: EvaluationCreate, evidence: Mapping[str, Any], version: ModelVersionRead) -> None:
    inputs = data.inputs
    if evidence.get("performance") is not None and inputs.predictions is None:
        raise InvalidInput(
            "inputs.predictions: performance evidence needs the name and sha256 of the predictions file",
            code=ErrorCode.INPUT_DIGEST_REQUIRED,
            field="inputs.predictions",
        )
    scan = evidence.get("scan")
    if isinstance(scan, Mapping) and scan.get("performed") is True:
        if inputs.artifact is None:
            raise InvalidInput(
                "inputs.artifact: a scan needs the sha256 of the scanned artifact",
                code=ErrorCode.INPUT_DIGEST_REQUIRED,
                field="inputs.artifact",
            )
        scanned = repository.normalize_digest(inputs.artifact.sha256)
        if scanned != version.digest:
            raise InvalidInput(
                f"inputs.artifact.sha256: the scanned artifact {inputs.artifact.name} is {scanned}, but {version.ref} "
                f"is {version.digest}; scan the registered artifact (the file or directory given to charter model "
                "register)",
                code=ErrorCode.ARTIFACT_DIGEST_MISMATCH,
                field="inputs.artifact.sha256",
            )


def _check_genai_inputs(data: EvaluationCreate, evidence: Mapping[str, Any]) -> None:
    """GenAI evidence names its sources; each must be one of the input files sent, by sha256."""
    genai = evidence.get("genai")
    if not isinstance(genai, Mapping) or genai.get("evaluated") is not True:
        return
    sent = {repository.normalize_digest(f.sha256) for f in data.inputs.genai}
    if not sent:
        raise InvalidInput(
            "inputs.genai: GenAI evidence needs the tool, name and sha256 of each report it was read from",
            code=ErrorCode.INPUT_DIGEST_REQUIRED,
            field="inputs.genai",
        )
    for i, source in enumerate(genai.get("sources") or []):
        digest = source.get("sha256") if isinstance(source, Mapping) else None
        if not isinstance(digest, str) or repository.normalize_digest(digest) not in sent:
            raise InvalidInput(
                f"evidence.genai.sources[{i}].sha256: {digest} is not one of inputs.genai",
                code=ErrorCode.EVIDENCE_INVALID,
                field=f"evidence.genai.sources[{i}].sha256",
            )


def _inputs(data: EvaluationCreate) -> dict[str, Any]:
    """Input files with digests in the catalog's `sha256:<hex>` form."""
    out: dict[str, Any] = data.inputs.model_dump(mode="json")
    for value in out.values():
        for item in value if isinstance(value, list) else [value]:
            if item:
                item["sha256"] = repository.normalize_digest(item["sha256"])
    return out


def _json_safe(value: Any) -> Any:
    return json_safe(value)


# ---- reads -----------------------------------------------------------------------------------------------------


def _read(row: AssessmentRow) -> AssessmentRead:
    return AssessmentRead(
        id=row.id,
        digest=row.digest,
        verdict="pass" if row.verdict == "pass" else "fail",
        blockers=list(row.blockers),
        created_at=row.created_at,
        policy_digests=[p["digest"] for p in row.policies],
        system=row.system,
        model=row.model_ref,
        policy_set_digest=row.policy_set_digest,
        evidence_digest=row.evidence_digest,
        evaluation_id=row.evaluation_id,
        counts=dict(row.counts),
        created_by=row.created_by,
        computed_by=row.computed_by,
        self_reported=row.computed_by == CLIENT,
        code_version=row.code_version,
    )


def _detail(uow: UnitOfWork, row: AssessmentRow, evaluation: EvaluationRow | None = None) -> AssessmentDetail:
    if evaluation is None and row.evaluation_id is not None:
        evaluation = uow.session.get(EvaluationRow, row.evaluation_id)
    return AssessmentDetail(
        **_read(row).model_dump(),
        policies=list(row.policies),
        results=[RuleResultRead.model_validate(r) for r in row.results],
        evidence=dict(row.evidence),
        inputs=dict(evaluation.inputs) if evaluation is not None else {},
        options=dict(evaluation.options) if evaluation is not None else {},
    )


def _evaluation_read(row: EvaluationRow) -> EvaluationRead:
    return EvaluationRead(
        id=row.id,
        system=row.system,
        model=row.model_ref,
        digest=row.digest,
        evidence_digest=row.evidence_digest,
        inputs=dict(row.inputs),
        options=dict(row.options),
        computed_by=row.computed_by,
        self_reported=row.computed_by != SERVER,
        code_version=row.code_version,
        created_by=row.created_by,
        created_at=row.created_at,
    )
