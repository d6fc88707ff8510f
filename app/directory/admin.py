"""The catalogues administrators keep: institutions, services, measure types and the
districts' other names. Each change is audited and forgets the cached choice lists.

Codes are made once and never change: the API, the statistics and old records name
institutions, services and measures by them. Names, hours and the active flag may.

The choice lists are cached per process for a minute (`cache.py`). `forget` empties this
process's copy; another gunicorn worker may offer the old lists until its minute ends.
That is safe: the services check every choice against the database, so a new service is
accepted at once everywhere and a deactivated one is refused at once everywhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TypeVar

from flask_babel import gettext
from sqlalchemy import func, select

from app.audit.service import audit
from app.core.db import DbSession
from app.core.errors import Forbidden, InvalidInput, NotFound
from app.directory.cache import CATALOGUE
from app.directory.models import (
    INSTITUTION_KINDS,
    Department,
    District,
    Institution,
    MeasureType,
    Municipality2024,
    Service,
    institution_services,
)
from app.directory.service import Administrator, get_institution
from app.directory.territory import ALIAS_SEPARATOR

INSTITUTION_CODE = re.compile(r"[A-Z0-9]+(-[A-Z0-9]+)*")
CATALOGUE_CODE = re.compile(r"[a-z][a-z0-9_]*")
NAME_MAX = 160
SERVICE_NAME_MAX = 120
MEASURE_NAME_MAX = 200
ALIASES_MAX = 200

Row = TypeVar("Row")


def _only_administrators(caller: Administrator) -> None:
    if not (caller.active and caller.role == "admin"):
        raise Forbidden("only administrators change the directory")


def _refuse(field: str, message: str) -> None:
    raise InvalidInput(message, {field: [message]})


def _needed(field: str, value: str | None, longest: int) -> str:
    text = (value or "").strip()
    if not text:
        _refuse(field, gettext("Este dato es obligatorio."))
    if len(text) > longest:
        _refuse(field, gettext("Como máximo %(n)s caracteres.", n=longest))
    return text


def _optional(field: str, value: str | None, longest: int) -> str | None:
    text = (value or "").strip()
    if len(text) > longest:
        _refuse(field, gettext("Como máximo %(n)s caracteres.", n=longest))
    return text or None


def _changed(
    session: DbSession,
    audit_key: bytes,
    caller: Administrator,
    action: str,
    kind: str,
    key: object,
    detail: str | None = None,
) -> None:
    """Every change ends here: the choice lists forget, the audit remembers."""
    session.flush()
    CATALOGUE.forget()
    audit(session, audit_key, caller, action, object_type=kind, object_id=key, detail=detail)


# ---- institutions --------------------------------------------------------------------


@dataclass(frozen=True)
class NewInstitution:
    code: str
    name: str
    kind: str
    municipality: str
    address: str | None
    phone: str | None
    hours: str | None
    service_codes: list[str]


@dataclass(frozen=True)
class InstitutionChange:
    """What may change once an institution exists: everything but its code and kind."""

    name: str
    address: str | None
    phone: str | None
    hours: str | None
    active: bool
    service_codes: list[str]


def _institution_code(session: DbSession, value: str) -> str:
    code = (value or "").strip()
    if not INSTITUTION_CODE.fullmatch(code) or len(code) > 20:
        _refuse(
            "code",
            gettext("El código lleva mayúsculas, cifras y guiones (como US-SON), hasta 20."),
        )
    if session.execute(select(Institution.id).where(Institution.code == code)).first():
        _refuse("code", gettext("Ya hay una institución con el código %(code)s.", code=code))
    return code


def _services(session: DbSession, codes: list[str]) -> list[Service]:
    chosen = list(session.execute(select(Service).where(Service.code.in_(codes))).scalars())
    if len(chosen) != len(set(codes)):
        _refuse("services", gettext("Servicio desconocido."))
    return chosen


def _district(session: DbSession, code: str) -> str:
    if not code or session.get(District, code) is None:
        _refuse("municipality", gettext("Elija un distrito de la lista."))
    return code


def create_institution(
    session: DbSession, audit_key: bytes, caller: Administrator, new: NewInstitution
) -> Institution:
    """A new institution of the network, active at once; audited `institution_create`."""
    _only_administrators(caller)
    code = _institution_code(session, new.code)
    if new.kind not in INSTITUTION_KINDS:
        _refuse("kind", gettext("Elija un tipo de la lista."))
    institution = Institution(
        code=code,
        name=_needed("name", new.name, NAME_MAX),
        kind=new.kind,
        municipality=_district(session, new.municipality),
        address=_optional("address", new.address, 200),
        phone=_optional("phone", new.phone, 40),
        hours=_optional("hours", new.hours, 120),
        active=True,
    )
    institution.services = _services(session, new.service_codes)
    session.add(institution)
    session.flush()
    _changed(session, audit_key, caller, "institution_create", "institution", institution.id)
    return institution


def change_institution(
    session: DbSession,
    audit_key: bytes,
    caller: Administrator,
    institution_id: int,
    change: InstitutionChange,
) -> Institution:
    """Name, contact details, status and services; audited `institution_update`. An
    inactive institution is offered for no new referral (`receiver_choices`) and
    refused by `refer_case`; its users and its old referrals stay as they were."""
    _only_administrators(caller)
    institution = get_institution(session, institution_id)
    institution.name = _needed("name", change.name, NAME_MAX)
    institution.address = _optional("address", change.address, 200)
    institution.phone = _optional("phone", change.phone, 40)
    institution.hours = _optional("hours", change.hours, 120)
    institution.active = change.active
    institution.services = _services(session, change.service_codes)
    detail = "active" if change.active else "inactive"
    _changed(
        session, audit_key, caller, "institution_update", "institution", institution.id, detail
    )
    return institution


# ---- services and measure types: the same kind of catalogue ----------------------------


@dataclass(frozen=True)
class Entry:
    """A service or a measure type as the administrator's form gives it."""

    code: str
    name_es: str
    name_en: str
    active: bool = True


def _catalogue_code(session: DbSession, model: Any, value: str, longest: int) -> str:
    code = (value or "").strip()
    if not CATALOGUE_CODE.fullmatch(code) or len(code) > longest:
        _refuse(
            "code",
            gettext(
                "El código lleva minúsculas, cifras y guiones bajos (como apoyo_legal), "
                "hasta %(n)s.",
                n=longest,
            ),
        )
    if session.get(model, code) is not None:
        _refuse("code", gettext("Ese código ya existe: elija otro."))
    return code


def _create_entry(
    session: DbSession, model: Any, entry: Entry, longest_code: int, longest_name: int
) -> Any:
    row = model(
        code=_catalogue_code(session, model, entry.code, longest_code),
        name_es=_needed("name_es", entry.name_es, longest_name),
        name_en=_needed("name_en", entry.name_en, longest_name),
        active=True,
    )
    session.add(row)
    return row


def _change_entry(session: DbSession, model: Any, code: str, entry: Entry, longest: int) -> Any:
    row = session.get(model, code)
    if row is None:
        raise NotFound(gettext("No existe en el catálogo."))
    row.name_es = _needed("name_es", entry.name_es, longest)
    row.name_en = _needed("name_en", entry.name_en, longest)
    row.active = entry.active
    return row


def create_service(
    session: DbSession, audit_key: bytes, caller: Administrator, entry: Entry
) -> Service:
    """A new service, offered at once to the institutions given it; `service_create`."""
    _only_administrators(caller)
    service: Service = _create_entry(session, Service, entry, 40, SERVICE_NAME_MAX)
    _changed(session, audit_key, caller, "service_create", "service", service.code)
    return service


def change_service(
    session: DbSession, audit_key: bytes, caller: Administrator, code: str, entry: Entry
) -> Service:
    """Rename or (de)activate; a deactivated service is offered and accepted for no new
    referral, and old referrals keep its code and read its name; `service_update`."""
    _only_administrators(caller)
    service: Service = _change_entry(session, Service, code, entry, SERVICE_NAME_MAX)
    detail = "active" if entry.active else "inactive"
    _changed(session, audit_key, caller, "service_update", "service", code, detail)
    return service


def create_measure_type(
    session: DbSession, audit_key: bytes, caller: Administrator, entry: Entry
) -> MeasureType:
    _only_administrators(caller)
    measure: MeasureType = _create_entry(session, MeasureType, entry, 30, MEASURE_NAME_MAX)
    _changed(session, audit_key, caller, "measure_type_create", "measure_type", measure.code)
    return measure


def change_measure_type(
    session: DbSession, audit_key: bytes, caller: Administrator, code: str, entry: Entry
) -> MeasureType:
    _only_administrators(caller)
    measure: MeasureType = _change_entry(session, MeasureType, code, entry, MEASURE_NAME_MAX)
    detail = "active" if entry.active else "inactive"
    _changed(session, audit_key, caller, "measure_type_update", "measure_type", code, detail)
    return measure


def _get(session: DbSession, model: type[Row], code: str) -> Row:
    row = session.get(model, code)
    if row is None:
        raise NotFound(gettext("No existe en el catálogo."))
    return row


def get_service(session: DbSession, code: str) -> Service:
    return _get(session, Service, code)


def get_measure_type(session: DbSession, code: str) -> MeasureType:
    return _get(session, MeasureType, code)


@dataclass(frozen=True)
class ServiceRow:
    service: Service
    institutions: int


def services_with_counts(session: DbSession) -> list[ServiceRow]:
    """Every service, inactive ones too, with how many institutions give it."""
    given = (
        select(institution_services.c.service_code, func.count().label("n"))
        .group_by(institution_services.c.service_code)
        .subquery()
    )
    stmt = (
        select(Service, func.coalesce(given.c.n, 0))
        .outerjoin(given, given.c.service_code == Service.code)
        .order_by(Service.code)
    )
    return [ServiceRow(service, count) for service, count in session.execute(stmt)]


def all_measure_types(session: DbSession) -> list[MeasureType]:
    return list(session.execute(select(MeasureType).order_by(MeasureType.code)).scalars())


def all_service_choices(session: DbSession) -> list[tuple[str, str]]:
    """Every service, inactive ones too: an institution's form keeps what it gives."""
    rows = session.execute(select(Service.code, Service.name_es, Service.active))
    return [
        (code, name if active else f"{name} ({gettext('inactivo')})")
        for code, name, active in sorted(rows, key=lambda row: row[1])
    ]


# ---- the territory -------------------------------------------------------------------


@dataclass(frozen=True)
class MunicipalityRow:
    code: str
    name: str
    districts: list[District]


@dataclass(frozen=True)
class DepartmentRow:
    code: str
    name: str
    municipalities: list[MunicipalityRow]

    @property
    def district_count(self) -> int:
        return sum(len(m.districts) for m in self.municipalities)


def territory_tree(session: DbSession) -> list[DepartmentRow]:
    """Departments → 2024 municipalities → districts, by name."""
    districts: dict[str | None, list[District]] = {}
    for district in session.execute(select(District).order_by(District.name)).scalars():
        districts.setdefault(district.municipality_2024, []).append(district)
    municipalities: dict[str, list[MunicipalityRow]] = {}
    stmt = select(Municipality2024).order_by(Municipality2024.name)
    for found in session.execute(stmt).scalars():
        row = MunicipalityRow(found.code, found.name, districts.get(found.code, []))
        municipalities.setdefault(found.department_code, []).append(row)
    departments = session.execute(select(Department).order_by(Department.name)).scalars()
    return [DepartmentRow(d.code, d.name, municipalities.get(d.code, [])) for d in departments]


def get_district(session: DbSession, code: str) -> District:
    district = session.get(District, code)
    if district is None:
        raise NotFound(gettext("Distrito desconocido."))
    return district


def change_district_aliases(
    session: DbSession, audit_key: bytes, caller: Administrator, code: str, aliases: list[str]
) -> District:
    """Other names a district is known by (found by the intake's place search); its code
    and name are the map's. Audited `district_update`. `catalogue load` keeps them, and
    brings back any alias of the shipped data file that was taken away."""
    _only_administrators(caller)
    district = get_district(session, code)
    names = [" ".join(a.split()) for a in aliases if a.strip()]
    if any(ALIAS_SEPARATOR in name for name in names):
        _refuse("aliases", gettext("Un nombre no puede llevar «|»."))
    joined = ALIAS_SEPARATOR.join(dict.fromkeys(names))
    if len(joined) > ALIASES_MAX:
        _refuse("aliases", gettext("Como máximo %(n)s caracteres.", n=ALIASES_MAX))
    district.aliases = joined or None
    _changed(session, audit_key, caller, "district_update", "district", code)
    return district
