"""Query parameters of every paged list route: `cursor` (the previous page's `next`) and `limit` (page size)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from charter.core.pages import CURSOR_MAX_LENGTH, DEFAULT_LIMIT, MAX_LIMIT

Cursor = Annotated[
    str | None,
    Query(
        max_length=CURSOR_MAX_LENGTH,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="The previous page's `next`, unchanged (opaque); omit for the first page.",
    ),
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description=f"Page size (at most {MAX_LIMIT}).")]
DEFAULT = DEFAULT_LIMIT
