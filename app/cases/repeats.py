""" "The same event reported again": a case worker with her whole record links an incident
to an earlier one of the same case that it tells again (at another desk, on another
day). Both stay on her record; statistics and exports count the event once, under the
earlier incident (`counted_once`). The link points at the first report: a repeat is
never the original of another, so a count never has to follow a chain.
"""

from __future__ import annotations

import uuid
from typing import Any

from flask_babel import gettext
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import aliased

from app.audit.service import audit_change
from app.auth.caller import Caller
from app.cases import access, policy
from app.cases.corrections import check_version
from app.cases.models import Case, Incident
from app.core.db import DbSession
from app.core.errors import Conflict, InvalidInput, NotFound
from app.core.i18n import N_
from app.core.time import utcnow
from app.crypto.keyring import KeyRing

NOT_EARLIER = N_("Elija un hecho anterior de este mismo expediente.")
IS_A_REPEAT = N_("Ese hecho ya es una nueva denuncia de otro: elija el primero.")
HAS_REPEATS = N_("Otros hechos son nuevas denuncias de este: no puede ser una de otro.")
VOIDED = N_("El hecho está anulado.")


def counted_once() -> Any:
    """The SQL condition of an incident that statistics count: not a repeat of an
    incident in force (a repeat whose original was voided counts in its place)."""
    original = aliased(Incident)
    original_in_force = exists().where(
        original.id == Incident.repeat_of_id, original.voided_at.is_(None)
    )
    return or_(Incident.repeat_of_id.is_(None), ~original_in_force)


def _incident_in(session: DbSession, case: Case, incident_id: uuid.UUID | None) -> Incident:
    incident = session.get(Incident, incident_id) if incident_id else None
    if incident is None or incident.case_id != case.id:
        raise NotFound("incident not found")
    if incident.voided_at is not None:
        raise Conflict(gettext(VOIDED))
    return incident


def _refuse(message: str) -> InvalidInput:
    return InvalidInput("bad repeat link", {"repeat_of": [gettext(message)]})


def _check_original(session: DbSession, incident: Incident, original: Incident | None) -> None:
    if (
        original is None
        or original.case_id != incident.case_id
        or original.id == incident.id
        or original.voided_at is not None
        or (original.created_at, str(original.id)) >= (incident.created_at, str(incident.id))
    ):
        raise _refuse(NOT_EARLIER)
    if original.repeat_of_id is not None:
        raise _refuse(IS_A_REPEAT)
    if session.execute(select(exists().where(Incident.repeat_of_id == incident.id))).scalar():
        raise _refuse(HAS_REPEATS)


def link_repeat(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    incident_id: uuid.UUID | None,
    data: dict[str, Any],
) -> Incident:
    """`POST /cases/{id}/incidents/{incident_id}/repeat-of`: `repeat_of` (an earlier
    incident's id, or null to undo) and the `version` read; a stale version is 409."""
    case = access.case_for(session, caller, case_id, need=policy.WHOLE).case
    incident = _incident_in(session, case, incident_id)
    check_version(incident.version, data["version"])
    original_id = data.get("repeat_of")
    if original_id is not None:
        _check_original(session, incident, session.get(Incident, original_id))
    incident.repeat_of_id = original_id
    case.updated_at = utcnow()
    session.flush()  # a change made since it was read matches no row here: 409
    detail = "repeat_of:set" if original_id else "repeat_of:cleared"
    audit_change(session, ring.audit_key, caller, case.id, "incident", incident.id, detail)
    return incident
