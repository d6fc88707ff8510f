"""Changing her safe-contact protocol and her access needs.

Each is replaced whole (`PUT`), by a party that sees her whole record, against the
survivor's version the caller read (stale → 409). Like a correction of her identity it
leaves a `Correction` row (old and new documents sealed) and a `case_update` event that
names the part, never its content.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask_babel import gettext

from app.audit.service import audit_change
from app.auth.caller import Caller
from app.cases import access, contact_data, policy
from app.cases.corrections import NOTHING_CHANGED, Corrected, check_version, record_correction
from app.core.db import DbSession
from app.core.errors import InvalidInput
from app.core.time import utcnow
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for

DEFAULT_REASON = "actualización"  # a PUT may come without a reason: the history still has one


def set_safe_contact(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    data: dict[str, Any],
) -> Corrected:
    """`PUT /cases/{id}/safe-contact`: her protocol, as she tells it now."""
    wanted = contact_data.cleaned(data, contact_data.PROTOCOL_FIELDS)
    return _replace(
        session,
        ring,
        caller,
        case_id,
        data,
        contact_data.PROTOCOL,
        wanted,
        contact_data.protocol_of,
    )


def set_access_needs(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    data: dict[str, Any],
) -> Corrected:
    """`PUT /cases/{id}/access-needs`: her language, interpreter, literacy, disability."""
    wanted = contact_data.cleaned(data, contact_data.NEEDS_FIELDS)
    wanted["disability"] = list(dict.fromkeys(wanted.get("disability") or []))
    return _replace(
        session, ring, caller, case_id, data, contact_data.NEEDS, wanted, contact_data.needs_of
    )


def _replace(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    data: dict[str, Any],
    part: str,
    wanted: dict[str, Any],
    current_of: Callable[..., dict[str, Any]],
) -> Corrected:
    case = access.case_for(session, caller, case_id, need=policy.WHOLE).case
    survivor = case.survivor
    check_version(survivor.version, data["version"])
    cipher = cipher_for(ring, case.data_key)
    current = current_of(cipher, survivor)
    if current == wanted:
        raise InvalidInput("nothing changed", {"_schema": [gettext(NOTHING_CHANGED)]})
    contact_data.seal_document(cipher, survivor, part, wanted)
    reason = (data.get("reason") or "").strip() or DEFAULT_REASON
    changes = {part: [current, wanted]}
    target = ("survivor", str(survivor.id))
    row = record_correction(session, cipher, caller, case.id, target, changes, reason)
    case.updated_at = utcnow()
    session.flush()  # a change made since it was read matches no row here: 409
    audit_change(
        session, ring.audit_key, caller, case.id, "survivor", survivor.id, f"correction:{part}"
    )
    return Corrected(survivor.id, survivor.version, (part,), row.id)
