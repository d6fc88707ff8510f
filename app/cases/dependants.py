"""Her children and dependants: recorded, corrected with their version, shown as each
view of her record allows (`policy.dependants_view`), and linked to the custody or
maintenance measures that concern them.

Names and birth year are sealed with the case's key; the age group is kept plain for
statistics. A birth year gives an age only to within a year: a child is taken to be a
minor while she may still be under 18 (this year minus birth year at most 18), so that
the mandatory report of a child is never missed by a birthday not yet known.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any

from flask_babel import gettext
from sqlalchemy import select, update

from app.audit.service import audit_change
from app.auth.caller import Caller
from app.auth.throttle_store import charge_write
from app.cases import access, policy
from app.cases.dependant_models import Dependant, dependant_incidents
from app.cases.legal_models import ProtectionMeasure
from app.cases.models import Case, Incident
from app.cases.vocab import age_group
from app.core.db import DbSession
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.time import local_today, utcnow
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for

SEALED = ("given_names", "family_names", "birth_year")
# The measure types that concern a child (DOMAIN.md: custody, visits and maintenance).
CHILD_MEASURES = frozenset({"custody_support"})
ADULT_AGE = 18


def _birth_year(data: dict[str, Any]) -> int | None:
    if data.get("birth_year") is not None:
        return int(data["birth_year"])
    if data.get("age") is not None:
        return local_today().year - int(data["age"])
    return None


def might_be_minor(birth_year: int | None) -> bool:
    return birth_year is not None and local_today().year - birth_year <= ADULT_AGE


def _age_group_of(birth_year: int | None) -> str | None:
    return age_group(local_today().year - birth_year) if birth_year is not None else None


def _seal(cipher: FieldCipher, row: Dependant, values: dict[str, Any]) -> None:
    for name in SEALED:
        if name in values:
            value = values[name]
            text = str(value) if value not in (None, "") else None
            setattr(row, f"{name}_enc", cipher.seal("dependants", row.id, name, text))


def _incidents_of_case(session: DbSession, case: Case, wanted: list[uuid.UUID]) -> list[uuid.UUID]:
    if not wanted:
        return []
    stmt = select(Incident.id).where(Incident.case_id == case.id, Incident.id.in_(wanted))
    found = set(session.execute(stmt).scalars())
    if found != set(wanted):
        raise InvalidInput(
            "unknown incident", {"incident_ids": [gettext("Hecho desconocido en este caso.")]}
        )
    return list(found)


def _link_incidents(session: DbSession, row: Dependant, incident_ids: list[uuid.UUID]) -> None:
    session.execute(
        dependant_incidents.delete().where(dependant_incidents.c.dependant_id == row.id)
    )
    for incident_id in incident_ids:
        session.execute(
            dependant_incidents.insert().values(dependant_id=row.id, incident_id=incident_id)
        )
    session.expire(row, ["incidents"])


def _plain(row: Dependant, data: dict[str, Any]) -> None:
    for name in ("lives_with_her", "witnessed_violence", "suffered_violence"):
        if name in data:
            setattr(row, name, data[name])
    if "relationship" in data:
        row.relationship_to_her = data["relationship"]


def add_dependant(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    data: dict[str, Any],
) -> Dependant:
    """A child or dependant of hers, recorded by the caller's institution."""
    charge_write(caller.id, "incident")
    case = access.case_for(session, caller, case_id).case
    incident_ids = _incidents_of_case(session, case, data.get("incident_ids") or [])
    birth_year = _birth_year(data)
    row = Dependant(
        id=uuid.uuid4(),
        case_id=case.id,
        institution_id=caller.institution_id,
        recorded_by_user_id=caller.id,
        age_group=_age_group_of(birth_year),
        witnessed_violence="unknown",
        suffered_violence="unknown",
    )
    _plain(row, data)
    _seal(cipher_for(ring, case.data_key), row, {**data, "birth_year": birth_year})
    session.add(row)
    session.flush()
    _link_incidents(session, row, incident_ids)
    case.updated_at = utcnow()
    session.flush()
    audit_change(session, ring.audit_key, caller, case.id, "dependant", row.id, "dependant:add")
    return row


def _dependant_of(session: DbSession, case: Case, dependant_id: uuid.UUID | None) -> Dependant:
    row = session.get(Dependant, dependant_id) if dependant_id else None
    if row is None or row.case_id != case.id:
        raise NotFound("dependant not found")
    return row


def update_dependant(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    dependant_id: uuid.UUID | None,
    data: dict[str, Any],
) -> Dependant:
    """The fields sent change (with the version read); a stale version is 409. A party
    with the whole record, or the institution that recorded the dependant, corrects it."""
    found = access.case_for(session, caller, case_id)
    row = _dependant_of(session, found.case, dependant_id)
    if not policy.may_correct_part(found.view, caller.institution_id, row.institution_id):
        raise Forbidden("only the recording institution corrects this dependant")
    if data["version"] != row.version:
        raise Conflict(gettext("Otra persona cambió estos datos. Recargue y vuelva a intentarlo."))
    charge_write(caller.id, "incident")
    if "incident_ids" in data:
        _link_incidents(session, row, _incidents_of_case(session, found.case, data["incident_ids"]))
    if "measure_ids" in data:
        _link_measures(session, found.case, row, data["measure_ids"])
    if "birth_year" in data or "age" in data:
        birth_year = _birth_year(data)
        row.age_group = _age_group_of(birth_year)
        data = {**data, "birth_year": birth_year}
    _plain(row, data)
    _seal(cipher_for(ring, found.case.data_key), row, data)
    row.updated_at = utcnow()
    found.case.updated_at = utcnow()
    session.flush()
    fields = ",".join(sorted(set(data) - {"version"}))
    audit_change(session, ring.audit_key, caller, found.case.id, "dependant", row.id, fields)
    return row


def _link_measures(
    session: DbSession, case: Case, row: Dependant, measure_ids: list[uuid.UUID]
) -> None:
    """The custody or maintenance measures of her case that concern this child."""
    wanted = set(measure_ids)
    stmt = select(ProtectionMeasure).where(ProtectionMeasure.case_id == case.id)
    measures = {m.id: m for m in session.execute(stmt).scalars()}
    if not wanted <= set(measures) or any(
        measures[m].measure not in CHILD_MEASURES for m in wanted
    ):
        raise InvalidInput(
            "not a child measure",
            {
                "measure_ids": [
                    gettext("Solo una medida de cuidado, visitas o cuota alimenticia de este caso.")
                ]
            },
        )
    session.execute(
        update(ProtectionMeasure)
        .where(ProtectionMeasure.dependant_id == row.id, ProtectionMeasure.id.not_in(wanted))
        .values(dependant_id=None)
        .execution_options(synchronize_session="fetch")
    )
    for measure_id in wanted:
        measures[measure_id].dependant_id = row.id
    session.flush()
    session.expire(row, ["measures"])


# ---- reading ------------------------------------------------------------------------------


def dependant_record(cipher: FieldCipher, row: Dependant) -> dict[str, Any]:
    opened = {
        name: cipher.open_text("dependants", row.id, name, getattr(row, f"{name}_enc"))
        for name in SEALED
    }
    birth_year = int(opened["birth_year"]) if opened["birth_year"] else None
    return {
        "id": str(row.id),
        "given_names": opened["given_names"],
        "family_names": opened["family_names"],
        "birth_year": birth_year,
        "age": local_today().year - birth_year if birth_year is not None else None,
        "age_group": row.age_group,
        "relationship": row.relationship_to_her,
        "lives_with_her": row.lives_with_her,
        "witnessed_violence": row.witnessed_violence,
        "suffered_violence": row.suffered_violence,
        "needs_protection": policy.dependant_needs_protection(
            might_be_minor(birth_year), row.witnessed_violence, row.suffered_violence
        ),
        "incident_ids": [str(incident.id) for incident in row.incidents],
        "measure_ids": [str(measure.id) for measure in row.measures],
        "institution_id": row.institution_id,
        "version": row.version,
    }


def _rows_of(session: DbSession, case_id: uuid.UUID) -> list[Dependant]:
    stmt = select(Dependant).where(Dependant.case_id == case_id).order_by(Dependant.created_at)
    return list(session.execute(stmt).scalars())


def summary_of(rows: list[Dependant]) -> dict[str, Any]:
    """What a shelter needs to receive her: how many come with her, and their ages."""
    with_her = [row for row in rows if row.lives_with_her]
    groups = Counter(row.age_group or "unknown" for row in with_her)
    return {"with_her": len(with_her), "age_groups": dict(sorted(groups.items()))}


def dependants_part(
    session: DbSession,
    ring: KeyRing,
    found: access.CaseAccess,
    caller: Caller,
    *,
    any_recorded: bool,
) -> dict[str, Any]:
    """`dependants` (the rows this view reads, decrypted) and `dependants_summary`.
    `any_recorded`: the loader's EXISTS answer, so a case without any costs no query."""
    shown = policy.dependants_view(found.view, caller.role)
    if found.view == policy.METADATA:
        return {"dependants": [], "dependants_summary": None}
    rows = _rows_of(session, found.case.id) if any_recorded else []
    readable = [
        row
        for row in rows
        if shown == policy.DEPENDANTS_ALL or row.institution_id == caller.institution_id
    ]
    cipher = cipher_for(ring, found.case.data_key)
    return {
        "dependants": [dependant_record(cipher, row) for row in readable],
        "dependants_summary": summary_of(rows) if shown is not None else None,
    }


def dependant_for_referral(
    session: DbSession, ring: KeyRing, case: Case, dependant_id: uuid.UUID | None
) -> tuple[Dependant, bool]:
    """The dependant a referral names (of this case, or 422) and whether she is a child
    who witnessed or suffered violence (a mandatory report)."""
    row = session.get(Dependant, dependant_id) if dependant_id else None
    if row is None or row.case_id != case.id:
        raise InvalidInput(
            "unknown dependant",
            {"dependant_id": [gettext("Hijo o hija desconocido en este caso.")]},
        )
    cipher = cipher_for(ring, case.data_key)
    year = cipher.open_text("dependants", row.id, "birth_year", row.birth_year_enc)
    minor = might_be_minor(int(year) if year else None)
    exposed = policy.dependant_needs_protection(
        minor, row.witnessed_violence, row.suffered_violence
    )
    return row, exposed
