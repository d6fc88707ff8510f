"""The network directory: institutions and the services each gives."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.core.db import DbSession
from app.directory.models import Institution


def list_institutions(session: DbSession) -> list[dict[str, Any]]:
    stmt = (
        select(Institution)
        .options(selectinload(Institution.services))
        .where(Institution.active.is_(True))
        .order_by(Institution.code)
    )
    return [
        {
            "id": inst.id,
            "code": inst.code,
            "name": inst.name,
            "kind": inst.kind,
            "municipality": inst.municipality,
            "address": inst.address,
            "phone": inst.phone,
            "hours": inst.hours,
            "services": [service.code for service in inst.services],
        }
        for inst in session.execute(stmt).scalars()
    ]
