"""Corrections of her record: identity and contact, incidents and complaints.

A correction names the fields sent that really change, checks the version the caller
read (stale → 409), seals the new values like the old ones, keeps the blind indexes in
step with them, and leaves two rows: a `Correction` (who, when, why, which fields, the
old and new values — sealed under the case's key) and a `case_update` audit event that
names the fields, never their values. Nothing is deleted; an incident entered in error
is voided (`incident_corrections.py`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from app.audit.service import audit_change
from app.auth.caller import Caller
from app.cases import access, name_tokens, policy, survivor_codes
from app.cases.models import Case, Incident, Survivor
from app.cases.record_models import Correction
from app.cases.service import IdentityConflict, open_survivor, resolve_municipality
from app.cases.validators import normalise_dui
from app.cases.vocab import age_group, age_on, context_of
from app.core.db import DbSession
from app.core.errors import Conflict, InvalidInput
from app.core.i18n import N_
from app.core.time import local_today, utcnow
from app.crypto.blind_index import blind_index, blind_indexes, name_dob_key
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for

SURVIVOR_FIELDS = (
    "given_names",
    "family_names",
    "dui",
    "birth_date",
    "sex",
    "municipality",
    "phone",
    "address",
    "safe_contact",
)
PLAIN_SURVIVOR_FIELDS = ("sex", "municipality")  # plain columns: statistics need them
NAME_FIELDS = ("given_names", "family_names")
NOTHING_CHANGED = N_("No cambió ningún dato: corrija al menos uno.")
STALE = N_("Alguien cambió este registro mientras usted lo editaba. Recargue la página.")


@dataclass(frozen=True)
class Corrected:
    id: uuid.UUID
    version: int
    fields: tuple[str, ...]
    correction_id: uuid.UUID | None


class DuiOnAnotherRecord(IdentityConflict):
    """The corrected DUI is another survivor's, with her birth date: the same woman has
    two records. Never written here; the records are merged, with a supervisor."""

    def __init__(self, case_id: uuid.UUID) -> None:
        super().__init__(case_id)
        self.message = gettext(
            "Ese DUI ya está registrado en otro expediente. Si es la misma persona, pida "
            "unir los expedientes; si no, revise el número."
        )
        self.args = (self.message,)


def check_version(current: int, given: int) -> None:
    """The version the caller read must still be the row's (the version column checks
    again at the UPDATE, for a change made in between)."""
    if given != current:
        raise Conflict(gettext(STALE))


def record_correction(
    session: DbSession,
    cipher: FieldCipher,
    caller: Caller,
    case_id: uuid.UUID,
    target: tuple[str, str],
    changes: dict[str, list[Any]],
    reason: str,
) -> Correction:
    """The history row of one correction: field names in the clear, everything else
    sealed with the row's id in its associated data."""
    row = Correction(
        id=uuid.uuid4(),
        case_id=case_id,
        object_type=target[0],
        object_id=target[1],
        fields=",".join(changes),
        user_id=caller.id,
        institution_id=caller.institution_id,
        at=utcnow(),
    )
    payload = json.dumps(changes, sort_keys=True, ensure_ascii=False)
    row.changes_enc = cipher.seal("corrections", row.id, "changes", payload) or b""
    row.reason_enc = cipher.seal("corrections", row.id, "reason", reason.strip()) or b""
    session.add(row)
    return row


def changed(current: dict[str, Any], wanted: dict[str, Any]) -> dict[str, list[Any]]:
    """{field: [old, new]} for the fields sent whose value really changes."""
    return {
        field: [current[field], value]
        for field, value in wanted.items()
        if field in current and value != current[field]
    }


# ---- her identity and contact ----------------------------------------------------------


def correct_survivor(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    data: dict[str, Any],
) -> Corrected:
    """`PATCH /cases/{id}/survivor`: a party that sees her whole record corrects her
    identity or contact; the blind indexes and name tokens follow the new values, so
    she is found by the new spelling and no longer by the old."""
    case = access.case_for(session, caller, case_id, need=policy.WHOLE).case
    survivor = case.survivor
    check_version(survivor.version, data["version"])
    cipher = cipher_for(ring, case.data_key)
    current = survivor_values(cipher, survivor)
    changes = changed(current, _wanted_survivor(session, data))
    if not changes:
        raise InvalidInput("nothing changed", {"_schema": [gettext(NOTHING_CHANGED)]})
    after = {**current, **{field: pair[1] for field, pair in changes.items()}}
    if "dui" in changes and after["dui"]:
        _refuse_dui_on_file(session, ring, survivor, after["dui"], after["birth_date"])
    if "birth_date" in changes:
        _follow_birth_date(session, case, date.fromisoformat(after["birth_date"]))
    _write_survivor(cipher, survivor, changes)
    _reindex_survivor(session, ring, survivor, after, changes)
    row = record_correction(
        session, cipher, caller, case.id, ("survivor", str(survivor.id)), changes, data["reason"]
    )
    case.updated_at = utcnow()
    session.flush()  # a change made since it was read matches no row here: 409
    audit_change(
        session,
        ring.audit_key,
        caller,
        case.id,
        "survivor",
        survivor.id,
        f"correction:{','.join(changes)}",
    )
    return Corrected(survivor.id, survivor.version, tuple(changes), row.id)


def survivor_values(cipher: FieldCipher, survivor: Survivor) -> dict[str, Any]:
    values: dict[str, Any] = {
        field: open_survivor(cipher, survivor, field)
        for field in SURVIVOR_FIELDS
        if field not in PLAIN_SURVIVOR_FIELDS
    }
    values.update(sex=survivor.sex, municipality=survivor.municipality)
    return values


def _wanted_survivor(session: DbSession, data: dict[str, Any]) -> dict[str, Any]:
    """The fields sent, written the way intake writes them."""
    wanted: dict[str, Any] = {}
    for field in SURVIVOR_FIELDS:
        if field not in data:
            continue
        value = data[field]
        if field in NAME_FIELDS:
            value = " ".join(value.split())
        elif field == "dui":
            value = normalise_dui(value) if value else None
        elif field == "birth_date":
            value = value.isoformat()
        elif field == "municipality":
            value = resolve_municipality(session, value, "municipality")
        elif isinstance(value, str):
            value = value.strip() or None
        wanted[field] = value
    return wanted


def _refuse_dui_on_file(
    session: DbSession, ring: KeyRing, survivor: Survivor, dui: str, birth_date: str | None
) -> None:
    """A DUI is one woman's: on another record with another birth date it is an
    identity conflict (supervisors are told, as at intake); with the same birth date,
    the same woman's second record (to be merged, not overwritten)."""
    probes = blind_indexes(ring.index_keys.keys, "dui", dui)
    for other, other_case in access.survivors_by_index(session, "dui_bidx", probes):
        if other.id == survivor.id:
            continue
        other_cipher = cipher_for(ring, other_case.data_key)
        if open_survivor(other_cipher, other, "dui") != dui:
            continue  # the truncated index collided: not her DUI
        if open_survivor(other_cipher, other, "birth_date") != birth_date:
            raise IdentityConflict(other_case.id)
        raise DuiOnAnotherRecord(other_case.id)


def _follow_birth_date(session: DbSession, case: Case, birth: date) -> None:
    """A corrected birth date moves her age: the mandatory report of a minor and the
    age group and context of each incident (what statistics count) follow it."""
    incidents = list(session.execute(select(Incident).where(Incident.case_id == case.id)).scalars())
    if any(incident.occurred_on < birth for incident in incidents):
        message = gettext("Un hecho del expediente es anterior a esa fecha de nacimiento.")
        raise InvalidInput("birth after incident", {"birth_date": [message]})
    case.mandatory_report = age_on(birth, local_today()) < 18
    for incident in incidents:
        age = age_on(birth, incident.occurred_on)
        incident.age_group = age_group(age)
        incident.context = context_of(
            incident.perpetrator_relationship, incident.violence_types, age
        )


def _write_survivor(cipher: FieldCipher, survivor: Survivor, changes: dict[str, list[Any]]) -> None:
    for field, (_, value) in changes.items():
        if field in PLAIN_SURVIVOR_FIELDS:
            setattr(survivor, field, value)
        else:
            sealed = cipher.seal("survivors", survivor.id, field, value)
            setattr(survivor, f"{field}_enc", sealed)
    if "birth_date" in changes:
        survivor.birth_year = date.fromisoformat(changes["birth_date"][1]).year


def _reindex_survivor(
    session: DbSession,
    ring: KeyRing,
    survivor: Survivor,
    after: dict[str, Any],
    changes: dict[str, list[Any]],
) -> None:
    """Every blind index of hers follows the corrected values: the old DUI, name and
    phone find nothing any more, the new ones find her."""
    if "dui" in changes:
        survivor.dui_bidx = (
            blind_index(ring.index_key, "dui", after["dui"]) if after["dui"] else None
        )
    if changes.keys() & {"given_names", "family_names", "birth_date"}:
        full_name = f"{after['given_names']} {after['family_names']}"
        key = name_dob_key(full_name, "", after["birth_date"] or "")
        survivor.name_dob_bidx = blind_index(ring.index_key, "name_dob", key)
    if changes.keys() & set(survivor_codes.IDENTITY):
        survivor_codes.set_code(ring, survivor, after)
    if "phone" in changes:
        survivor.phone_bidx = name_tokens.phone_index(ring, after["phone"])
    if changes.keys() & set(NAME_FIELDS):
        name_tokens.index_survivor_name(
            session, ring, survivor, after["given_names"] or "", after["family_names"] or ""
        )
