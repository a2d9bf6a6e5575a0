"""The two bases of every domain's `schemas.py`.

- `Strict`: what the API, CLI and dashboard send in. Unknown fields are refused (a typo is a 422 naming the field,
  never silently ignored).
- `ReadModel`: what goes out, built from an ORM row with `Model.model_validate(row)` (attributes are read by name),
  so a read schema is its field list, not a hand-written copy of each column.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReadModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)
