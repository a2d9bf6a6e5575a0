"""Lookups several pages share: licenses by id, so pages that know a license only by id can name it."""

from __future__ import annotations

from charter.auth.model import Permission
from charter.core.errors import Forbidden
from charter.licenses import service as licenses
from charter.licenses.schemas import LicenseRead
from charter.web.handler import Ctx


def licenses_by_id(ctx: Ctx) -> dict[str, LicenseRead]:
    """Every license the actor may read, by id (empty when the actor may read none)."""
    if not ctx.can(Permission.LICENSE_READ):
        return {}
    try:
        with ctx.uow() as uow:
            return {lic.id: lic for lic in licenses.list_licenses(uow, ctx.actor)}
    except Forbidden:
        return {}
