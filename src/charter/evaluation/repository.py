"""Evaluation and assessment queries. Never commits."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from charter.core.errors import ErrorCode, NotFound
from charter.evaluation.tables import AssessmentRow, EvaluationRow

MAX_LIST = 200


def normalize_digest(digest: str) -> str:
    """`<hex>` or `sha256:<hex>` → `sha256:<hex>` (the catalog's form)."""
    return digest if digest.startswith("sha256:") else f"sha256:{digest}"


def latest_assessment_row(session: Session, digest: str) -> AssessmentRow | None:
    """The newest assessment of a model digest."""
    stmt = (
        select(AssessmentRow)
        .where(AssessmentRow.digest == normalize_digest(digest))
        .order_by(AssessmentRow.created_at.desc(), AssessmentRow.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def latest_evaluation_row(session: Session, digest: str) -> EvaluationRow | None:
    """The newest evaluation of a model digest."""
    stmt = (
        select(EvaluationRow)
        .where(EvaluationRow.digest == normalize_digest(digest))
        .order_by(EvaluationRow.created_at.desc(), EvaluationRow.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def assessment_row(session: Session, assessment_id: str) -> AssessmentRow:
    """The assessment `assessment_id`; NotFound otherwise."""
    row = session.get(AssessmentRow, assessment_id)
    if row is None:
        raise NotFound(
            f"no assessment '{assessment_id[:60]}'; list them with: charter assessment list SYSTEM@VERSION",
            code=ErrorCode.ASSESSMENT_NOT_FOUND,
        )
    return row


def evaluation_row(session: Session, evaluation_id: str) -> EvaluationRow:
    """The evaluation `evaluation_id`; NotFound otherwise."""
    row = session.get(EvaluationRow, evaluation_id)
    if row is None:
        raise NotFound(f"no evaluation '{evaluation_id[:60]}'", code=ErrorCode.EVALUATION_NOT_FOUND)
    return row


def assessments_of(session: Session, model_version_id: str, limit: int = MAX_LIST) -> list[AssessmentRow]:
    """Assessments of a model version, newest first."""
    stmt = (
        select(AssessmentRow)
        .where(AssessmentRow.model_version_id == model_version_id)
        .order_by(AssessmentRow.created_at.desc(), AssessmentRow.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def evaluations_of(session: Session, model_version_id: str, limit: int = MAX_LIST) -> list[EvaluationRow]:
    """Evaluations of a model version, newest first."""
    stmt = (
        select(EvaluationRow)
        .where(EvaluationRow.model_version_id == model_version_id)
        .order_by(EvaluationRow.created_at.desc(), EvaluationRow.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))
