"""The aggressor as a record of his own, and the repeat-aggressor signal.

Each aggressor is recorded on one incident the caller reads (`policy.sees_incident_facts`):
his identity sealed with the case's data key, his DUI and his normalised name with birth
date as blind indexes of purposes of their own. Where he works in an institution of the
network, that institution is excluded from her record as a conflict of interest, the
same way she records one herself. The signal counts the OTHER live records (not merged
away, not purged) with an aggressor of the same index; it never tells which, whose,
where or when.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask_babel import gettext
from sqlalchemy import select, update

from app.audit.service import audit_change
from app.auth.caller import Caller
from app.auth.throttle_store import charge_write
from app.cases import access, policy
from app.cases import service as cases
from app.cases.aggressor_models import Aggressor
from app.cases.models import Case, Incident
from app.cases.validators import normalise_dui
from app.cases.vocab import age_group, age_on
from app.core.db import DbSession
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.time import utcnow
from app.crypto.blind_index import blind_index, name_dob_key
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for
from app.directory.models import Institution

SEALED = ("given_names", "family_names", "dui", "birth_date", "alias", "notes")
IDENTITY = ("given_names", "family_names", "dui", "birth_date")
PLAIN = (
    "sex",
    "age_group",
    "relationship",
    "lives_with_her",
    "has_firearm",
    "firearm_licence",
    "previous_complaints",
    "works_at_institution_id",
)


# ---- recording and correcting ----------------------------------------------------------


def add_aggressor(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    incident_id: uuid.UUID | None,
    data: dict[str, Any],
) -> dict[str, Any]:
    """`POST /cases/{id}/incidents/{iid}/aggressors`: a party that adds to the record,
    on an incident it reads; audited."""
    charge_write(caller.id, "incident")  # his record is part of the facts
    found = access.case_for(session, caller, case_id)
    incident = _readable_incident(session, found, caller, incident_id)
    _check_workplace(session, caller, data.get("works_at_institution_id"))
    row = Aggressor(
        id=uuid.uuid4(),
        case_id=found.case.id,
        incident_id=incident.id,
        institution_id=caller.institution_id,
        recorded_by_user_id=caller.id,
        previous_complaints="unknown",
    )
    cipher = access.cipher_of_loaded_case(ring, session, found.case.id)
    _apply(ring, cipher, row, incident, data)
    session.add(row)
    session.flush()
    audit_change(session, ring.audit_key, caller, found.case.id, "aggressor", row.id, "aggressor")
    _exclude_workplace(session, ring, caller, found.case, row)
    found.case.updated_at = utcnow()
    return shown(session, ring, row)


def update_aggressor(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    aggressor_id: uuid.UUID | None,
    data: dict[str, Any],
) -> dict[str, Any]:
    """`PATCH /cases/{id}/aggressors/{aid}`: the fields sent change, with the version
    read (a stale one is 409); his indexes follow his identity."""
    charge_write(caller.id, "incident")  # his record is part of the facts
    found = access.case_for(session, caller, case_id)
    row = session.get(Aggressor, aggressor_id) if aggressor_id else None
    if row is None or row.case_id != found.case.id:
        raise NotFound("aggressor not found")
    incident = _readable_incident(session, found, caller, row.incident_id)
    if data["version"] != row.version:
        raise Conflict(gettext("Otra persona cambió estos datos: vuelva a cargar la página."))
    changes = {key: value for key, value in data.items() if key != "version"}
    _check_workplace(session, caller, changes.get("works_at_institution_id"))
    cipher = access.cipher_of_loaded_case(ring, session, found.case.id)
    _apply(ring, cipher, row, incident, changes)
    session.flush()
    detail = "aggressor_update:" + ",".join(sorted(changes))
    audit_change(session, ring.audit_key, caller, found.case.id, "aggressor", row.id, detail)
    _exclude_workplace(session, ring, caller, found.case, row)
    found.case.updated_at = utcnow()
    return shown(session, ring, row)


def shown(session: DbSession, ring: KeyRing, row: Aggressor) -> dict[str, Any]:
    """The row as its writer reads it (what both faces answer)."""
    cipher = access.cipher_of_loaded_case(ring, session, row.case_id)
    return aggressor_record(cipher, row, _institution_codes(session, [row]))


def _readable_incident(
    session: DbSession, found: access.CaseAccess, caller: Caller, incident_id: uuid.UUID | None
) -> Incident:
    """An incident of this case the caller reads and that was not voided; 404 otherwise."""
    incident = session.get(Incident, incident_id) if incident_id else None
    if (
        incident is None
        or incident.case_id != found.case.id
        or incident.voided_at is not None
        or not policy.sees_incident_facts(
            found.view, caller.role, caller.institution_id, incident.entry_institution_id
        )
    ):
        raise NotFound("incident not found")
    return incident


def _check_workplace(session: DbSession, caller: Caller, institution_id: int | None) -> None:
    if institution_id is None:
        return
    if session.get(Institution, institution_id) is None:
        unknown = gettext("Institución desconocida.")
        raise InvalidInput("unknown institution", {"works_at_institution_id": [unknown]})
    if institution_id == caller.institution_id:
        # Her record would be closed to the institution recording it: another party records it.
        raise InvalidInput(
            "own institution",
            {
                "works_at_institution_id": [
                    gettext(
                        "Si el agresor trabaja en su propia institución, pida a otra institución "
                        "que lo registre: la suya quedará excluida del expediente."
                    )
                ]
            },
        )


def _exclude_workplace(
    session: DbSession, ring: KeyRing, caller: Caller, case: Case, row: Aggressor
) -> None:
    if row.works_at_institution_id is not None:
        cases.exclude_institutions(session, ring, caller, case, [row.works_at_institution_id])


def _apply(
    ring: KeyRing, cipher: FieldCipher, row: Aggressor, incident: Incident, data: dict[str, Any]
) -> None:
    for name in SEALED:
        if name in data:
            value = _stored_text(name, data[name])
            setattr(row, f"{name}_enc", cipher.seal("aggressors", row.id, name, value))
    for name in PLAIN:
        if name in data and (data[name] is not None or name not in _REQUIRED):
            setattr(row, name, data[name])
    if data.get("birth_date") and "age_group" not in data:
        row.age_group = age_group(age_on(data["birth_date"], incident.occurred_on))
    if any(name in data for name in IDENTITY):
        _reindex(ring, row, identity_of(cipher, row))


_REQUIRED = frozenset({"relationship", "previous_complaints"})


def _stored_text(name: str, value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, date):
        return value.isoformat()
    if name == "dui":
        return normalise_dui(value)
    return str(value).strip() or None


def identity_of(cipher: FieldCipher, row: Aggressor) -> dict[str, str | None]:
    return {
        name: cipher.open_text("aggressors", row.id, name, getattr(row, f"{name}_enc"))
        for name in IDENTITY
    }


def indexes_of(ring: KeyRing, identity: dict[str, str | None]) -> dict[str, Any]:
    """His two blind indexes under the active index key: the DUI when known; the full
    name with the birth date when both are known. Purposes of his own (blind_index.py)."""
    key = ring.index_key
    full_name = f"{identity['given_names'] or ''} {identity['family_names'] or ''}".strip()
    dui, born = identity["dui"], identity["birth_date"]
    return {
        "dui_bidx": blind_index(key, "aggressor_dui", dui) if dui else None,
        "name_dob_bidx": (
            blind_index(key, "aggressor_name_dob", name_dob_key(full_name, "", born))
            if full_name and born
            else None
        ),
        "index_key_id": ring.index_keys.active_id,
    }


def _reindex(ring: KeyRing, row: Aggressor, identity: dict[str, str | None]) -> None:
    values = indexes_of(ring, identity)
    if (values["dui_bidx"], values["name_dob_bidx"]) != (row.dui_bidx, row.name_dob_bidx):
        row.indexed_at = utcnow()  # a new match dates from now
    for name, value in values.items():
        setattr(row, name, value)


# ---- reading ---------------------------------------------------------------------------


def aggressor_record(cipher: FieldCipher, row: Aggressor, codes: dict[int, str]) -> dict[str, Any]:
    sealed = {
        name: cipher.open_text("aggressors", row.id, name, getattr(row, f"{name}_enc"))
        for name in SEALED
    }
    works_at = row.works_at_institution_id
    return {
        "id": str(row.id),
        "incident_id": str(row.incident_id),
        **sealed,
        **{name: getattr(row, name) for name in PLAIN},
        "works_at_institution": codes.get(works_at) if works_at is not None else None,
        "institution": codes.get(row.institution_id, ""),
        "version": row.version,
    }


def aggressors_of(session: DbSession, case_id: uuid.UUID) -> list[Aggressor]:
    stmt = (
        select(Aggressor)
        .where(Aggressor.case_id == case_id)
        .order_by(Aggressor.created_at, Aggressor.id)
    )
    return list(session.execute(stmt).scalars())


def _institution_codes(session: DbSession, rows: list[Aggressor]) -> dict[int, str]:
    ids = {row.institution_id for row in rows} | {
        row.works_at_institution_id for row in rows if row.works_at_institution_id is not None
    }
    if not ids:
        return {}
    stmt = select(Institution.id, Institution.code).where(Institution.id.in_(ids))
    return {row[0]: row[1] for row in session.execute(stmt).all()}


def other_cases_count(session: DbSession, case_id: uuid.UUID) -> int:
    return len({other for other, _at in access.repeat_aggressor_matches(session, case_id)})


def with_aggressors(
    session: DbSession,
    ring: KeyRing,
    case: Case,
    view: str,
    record: dict[str, Any],
    present: bool = True,
) -> int:
    """Put in the record the aggressors of the incidents it shows, and the repeat signal
    where the view gets it; returns the signal's count (for the read's audit row).
    `present`: the loader found aggressors on the case (none: no query, no match)."""
    rows = aggressors_of(session, case.id) if present else []
    if view != policy.METADATA:
        shown = {incident["id"] for incident in record.get("incidents") or []}
        rows = [row for row in rows if str(row.incident_id) in shown]
        cipher = cipher_for(ring, case.data_key)
        codes = _institution_codes(session, rows)
        record["aggressors"] = [aggressor_record(cipher, row, codes) for row in rows]
    if not policy.sees_repeat_signal(view):
        return 0
    count = other_cases_count(session, case.id) if present else 0
    record["repeat_aggressor"] = {"other_cases": count}
    return count


# ---- the task list: reassess the risk once the signal appears --------------------------


@dataclass(frozen=True)
class RepeatTask:
    case_id: uuid.UUID
    case_number: str
    mine: bool


def reassessments_after_signal(session: DbSession, caller: Caller, limit: int) -> list[RepeatTask]:
    """Open cases whose aggressor appears in another live record and whose risk was not
    assessed since the newest match (codes only: no date of the other record)."""
    tasks = []
    for row in access.repeat_aggressor_cases(session, caller, limit):
        matched = max(row[2], row[3])
        if _not_assessed_since(row[4], matched):
            tasks.append(RepeatTask(row[0], row[1], bool(row[5])))
    return tasks


def _not_assessed_since(last_assessed: datetime | None, signal_at: datetime) -> bool:
    return last_assessed is None or last_assessed < signal_at


def repeat_signal(session: DbSession, case: Case) -> dict[str, int]:
    """The signal for the risk form of a case `access.case_for` loaded: a count only."""
    return {"other_cases": other_cases_count(session, case.id)}


def forget_indexes(session: DbSession, case_id: uuid.UUID) -> None:
    """A purged record keeps no index of him either: nothing left can be matched."""
    session.execute(
        update(Aggressor)
        .where(Aggressor.case_id == case_id)
        .values(dui_bidx=None, name_dob_bidx=None)
    )
