"""The one place domain errors become RFC 9457 problem+json responses."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from charter.core.errors import STATUS, CharterError, ErrorCode

log = logging.getLogger("charter.api")

PROBLEM = "application/problem+json"


def problem(status: int, code: str, detail: str, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://charter.dev/problems/{code}",
        "title": code.replace("_", " "),
        "status": status,
        "code": code,
        "detail": detail,
    }
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {"WWW-Authenticate": 'Bearer realm="charter"'} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _loc(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; `code` is the stable reason.",
    "type": "object",
    "required": ["type", "title", "status", "code", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "field": {"type": "string"},
        "details": {"type": "object"},
        "errors": {"type": "array", "items": {"type": "object"}},
    },
}


def _document_problems(doc: dict[str, Any]) -> None:
    """Errors are problem+json: say so where FastAPI documents its own 422 shape, which Charter never sends."""
    doc.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    ref = {"$ref": "#/components/schemas/Problem"}
    for item in doc.get("paths", {}).values():
        for op in item.values():
            responses = op.get("responses", {}) if isinstance(op, dict) else {}
            if "422" in responses:
                responses["422"] = {"description": "Invalid input", "content": {PROBLEM: {"schema": ref}}}


def install(app: FastAPI) -> None:
    base = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document_problems(base())  # base() caches the document on the app; edit it once, in place
        return app.openapi_schema or base()

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(CharterError)
    async def _charter(_: Request, exc: CharterError) -> JSONResponse:
        return problem(STATUS[exc.kind], exc.code, exc.message, field=exc.field, details=exc.details or None)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _loc(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        detail = f"{first['field']}: {first['message']}"
        if len(errors) > 1:
            detail += f" (and {len(errors) - 1} more)"
        return problem(422, ErrorCode.VALIDATION_FAILED, detail, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {
            404: ErrorCode.NOT_FOUND,
            405: ErrorCode.METHOD_NOT_ALLOWED,
            413: ErrorCode.PAYLOAD_TOO_LARGE,
            400: ErrorCode.BAD_REQUEST,
        }
        return problem(exc.status_code, codes.get(exc.status_code, ErrorCode.HTTP_ERROR), str(exc.detail))

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # The database refused a value the request carried (PostgreSQL: a NUL character in text, a number out of
        # its column's range): the client's input, so a 422, never a 500.
        if "NUL" in str(exc.orig):
            return problem(
                422, ErrorCode.NUL_CHARACTER, "text may not contain NUL characters (\\u0000, %00): remove them"
            )
        log.warning("value refused by the database: %s", str(exc.orig).splitlines()[0] if str(exc.orig) else exc)
        return problem(422, ErrorCode.INVALID_VALUE, "a value in the request is out of range for the database")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error: %s: %s", type(exc).__name__, exc)
        return problem(500, ErrorCode.INTERNAL_ERROR, "internal error; the server log has the details")
