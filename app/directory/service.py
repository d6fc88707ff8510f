"""The network directory: institutions, the services each gives, the territory and the
measure catalogue, as the faces list and administrators change them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from flask_babel import gettext
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from app.audit.service import HasActor, audit
from app.core.db import DbSession
from app.core.errors import Forbidden, NotFound
from app.crypto.blind_index import normalise_name
from app.directory import territory
from app.directory.cache import CATALOGUE
from app.directory.models import Institution, MeasureType, Service, institution_services


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


# ---- the administrators' pages ---------------------------------------------------------
# The blueprint lets only administrators in (`app.auth.policy.may_manage_users`); the
# directory sits below `auth` and cannot ask that policy itself.


def all_institutions(session: DbSession) -> list[Institution]:
    """Every institution, inactive ones too, with the services it gives."""
    stmt = (
        select(Institution).options(selectinload(Institution.services)).order_by(Institution.code)
    )
    return list(session.execute(stmt).scalars())


def get_institution(session: DbSession, institution_id: int) -> Institution:
    institution = session.get(Institution, institution_id)
    if institution is None:
        raise NotFound(gettext("Institución desconocida."))
    return institution


Choices = list[tuple[str, str]]


def institution_choices(session: DbSession) -> list[tuple[str, str]]:
    rows = session.execute(select(Institution.code, Institution.name).order_by(Institution.code))
    return [(code, f"{code} · {name}") for code, name in rows]


def service_choices(session: DbSession) -> list[tuple[str, str]]:
    def build() -> Choices:
        rows = session.execute(select(Service.code, Service.name_es).order_by(Service.name_es))
        return [(code, name) for code, name in rows]

    return CATALOGUE.get(session, "services", build)


def receiver_choices(session: DbSession) -> list[tuple[str, str]]:
    """Institutions a case may be referred to, by id: the active ones of the network."""

    def build() -> Choices:
        stmt = (
            select(Institution.id, Institution.name)
            .where(Institution.active.is_(True), Institution.kind != "system")
            .order_by(Institution.name)
        )
        return [(str(institution_id), name) for institution_id, name in session.execute(stmt)]

    return CATALOGUE.get(session, "receivers", build)


def municipality_choices(session: DbSession) -> list[tuple[str, str]]:
    """The districts by name (the former municipalities); a shared name says its department."""

    def build() -> Choices:
        names = territory.district_names(session)
        return sorted(names.items(), key=lambda item: (normalise_name(item[1]), item[0]))

    return CATALOGUE.get(session, "districts", build)


def measure_choices(session: DbSession) -> list[tuple[str, str]]:
    def build() -> Choices:
        stmt = select(MeasureType.code, MeasureType.name_es).where(MeasureType.active.is_(True))
        return [(code, name) for code, name in session.execute(stmt)]

    return CATALOGUE.get(session, "measures", build)


class Administrator(HasActor, Protocol):
    @property
    def role(self) -> str: ...
    @property
    def active(self) -> bool: ...


@dataclass(frozen=True)
class InstitutionDetails:
    """What an administrator may change; name, code and kind are the catalogue's."""

    address: str | None
    phone: str | None
    hours: str | None
    active: bool
    service_codes: list[str]


def update_institution(
    session: DbSession,
    audit_key: bytes,
    caller: Administrator,
    institution_id: int,
    details: InstitutionDetails,
) -> Institution:
    """Change an institution's contact details, status and services; audited."""
    if not (caller.active and caller.role == "admin"):
        raise Forbidden("only administrators change the directory")
    institution = get_institution(session, institution_id)
    institution.address = details.address
    institution.phone = details.phone
    institution.hours = details.hours
    institution.active = details.active
    chosen = select(Service).where(Service.code.in_(details.service_codes))
    institution.services = list(session.execute(chosen.order_by(Service.name_es)).scalars())
    CATALOGUE.forget()
    audit(
        session,
        audit_key,
        caller,
        "institution_update",
        object_type="institution",
        object_id=institution.id,
    )
    return institution


def receiver_services(session: DbSession) -> dict[str, list[str]]:
    """The service codes each receiver (by id, as in `receiver_choices`) gives: the
    referral form offers for a service only the institutions that give it."""

    def build() -> dict[str, list[str]]:
        rows = session.execute(select(institution_services).order_by("service_code"))
        given: dict[str, list[str]] = {}
        for institution_id, code in rows:
            given.setdefault(str(institution_id), []).append(code)
        return given

    return CATALOGUE.get(session, "receiver_services", build)
