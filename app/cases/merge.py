"""Two records of one woman made one, and undone within 30 days if that was wrong.

A user whose institution has the whole of both records asks, with a reason (sealed);
a supervisor who did not ask approves or rejects. On approval every row of the absorbed
record moves to the one that stays and each ciphertext is opened with the absorbed
record's data key and sealed again with the surviving one (same associated data: table,
row id, field), so a moved row never needs the absorbed key again. The absorbed record
keeps its number (which now finds the other), is marked `merged` and drops out of lists
and counts. Its parties join the record that stays only as her consent there allows.
`CaseMerge.moved` lists what moved, so a revert moves exactly that back.

Packages built on cases move their own rows through `movers` (referrals do): cases
never import them (ARCHITECTURE.md).
"""

from __future__ import annotations

import base64
import json
import secrets
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask_babel import gettext
from sqlalchemy import select

from app.audit.service import audit
from app.auth.caller import Caller
from app.cases import access, policy
from app.cases.aggressor_models import Aggressor
from app.cases.attachments import _write_atomically as write_atomically
from app.cases.attachments import attachment_path
from app.cases.care_models import (
    Attachment,
    CareNote,
    CaseStatusChange,
    FollowUp,
    RiskAssessment,
    SafetyPlan,
)
from app.cases.dependant_models import Dependant
from app.cases.justice_models import ComplaintMove, Hearing
from app.cases.legal_models import Complaint, ProtectionMeasure
from app.cases.models import Case, CaseExclusion, Consent, Incident
from app.cases.record_models import CaseMerge, Correction
from app.cases.vocab import MERGED_STATUS
from app.core.db import DbSession
from app.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.core.time import utcnow
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for
from app.notifications.service import notify_institution, notify_supervisors

REVERT_WINDOW = timedelta(days=30)
MERGED = MERGED_STATUS
# The parts of a record that move, by table name (also the table of their sealed AAD).
PARTS: dict[str, Any] = {
    "incidents": Incident,
    "care_notes": CareNote,
    "follow_ups": FollowUp,
    "risk_assessments": RiskAssessment,
    "complaints": Complaint,
    "protection_measures": ProtectionMeasure,
    "attachments": Attachment,
    "consents": Consent,
    "case_status_changes": CaseStatusChange,
    "corrections": Correction,
    "aggressors": Aggressor,
    # The justice pathway follows its complaints (a hearing's note is sealed with the key).
    "complaint_moves": ComplaintMove,
    "hearings": Hearing,
    "dependants": Dependant,
}


@dataclass
class Relocation:
    """Rows going from one record to the other, and the two ciphers. `only` (on a
    revert) names the rows to take back; otherwise every row of `source` goes."""

    source: Case
    target: Case
    source_cipher: FieldCipher
    target_cipher: FieldCipher
    only: Mapping[str, Any] | None = None
    moved: dict[str, Any] = field(default_factory=dict)

    def reseal(self, table: str, row_id: object, name: str, blob: bytes | None) -> bytes | None:
        opened = self.source_cipher.open_bytes(table, row_id, name, blob)
        return self.target_cipher.seal(table, row_id, name, opened)


# A package built on cases moves its own rows: it returns {table: [row ids]} it moved.
Mover = Callable[[DbSession, Relocation], dict[str, list[str]]]


def sealed_columns(model: Any) -> list[str]:
    """Every `*_enc` column; its sealed field is the name without `_enc`."""
    return [column.key for column in model.__table__.columns if column.key.endswith("_enc")]


def _parse_ids(model: Any, ids: list[str]) -> list[Any]:
    kind = model.__table__.c.id.type.python_type
    return [uuid.UUID(value) if kind is uuid.UUID else int(value) for value in ids]


def move_part(
    session: DbSession, relocation: Relocation, table: str, model: Any, link: str = "case_id"
) -> list[str]:
    """Move the rows of one table, re-sealing each ciphertext; returns their ids."""
    stmt = select(model).where(getattr(model, link) == relocation.source.id)
    if relocation.only is not None:
        wanted = _parse_ids(model, relocation.only.get(table) or [])
        if not wanted:
            return []
        stmt = stmt.where(model.id.in_(wanted))
    rows = list(session.execute(stmt).scalars())
    columns = sealed_columns(model)
    for row in rows:
        for column in columns:
            sealed = getattr(row, column)
            if sealed is not None:
                setattr(row, column, relocation.reseal(table, row.id, column[:-4], sealed))
        setattr(row, link, relocation.target.id)
    return [str(row.id) for row in rows]


# ---- asking ---------------------------------------------------------------------------


def request_merge(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    surviving_id: uuid.UUID | None,
    absorbed_id: uuid.UUID | None,
    reason: str,
) -> dict[str, Any]:
    """A party with the whole of both records asks; a supervisor decides (202)."""
    if surviving_id is not None and surviving_id == absorbed_id:
        raise InvalidInput(
            "same case", {"absorb": [gettext("Elija otro expediente, no este mismo.")]}
        )
    surviving = access.case_for(
        session, caller, surviving_id, need=policy.WHOLE, closed_ok=True
    ).case
    absorbed = access.case_for(session, caller, absorbed_id, need=policy.WHOLE, closed_ok=True).case
    if _pending_for(session, [surviving.id, absorbed.id]):
        raise Conflict(gettext("Ya hay una unión pendiente para uno de estos expedientes."))
    merge = CaseMerge(
        id=uuid.uuid4(),
        surviving_case_id=surviving.id,
        absorbed_case_id=absorbed.id,
        status="pending",
        requested_by_user_id=caller.id,
        requested_by_institution_id=caller.institution_id,
    )
    merge.reason_enc = (
        cipher_for(ring, surviving.data_key).seal("case_merges", merge.id, "reason", reason.strip())
        or b""
    )
    session.add(merge)
    session.flush()
    _audit_both(session, ring, caller, merge, "requested")
    notify_supervisors(session, "case_merge", case_id=surviving.id, reference=surviving.number)
    return described(session, merge)


def _pending_for(session: DbSession, case_ids: list[uuid.UUID]) -> bool:
    stmt = select(CaseMerge.id).where(
        CaseMerge.status == "pending",
        CaseMerge.surviving_case_id.in_(case_ids) | CaseMerge.absorbed_case_id.in_(case_ids),
    )
    return session.execute(stmt.limit(1)).first() is not None


# ---- deciding -------------------------------------------------------------------------


def _require_supervisor(caller: Caller) -> None:
    if not (caller.active and caller.role == "supervisor"):
        raise Forbidden("only supervisors decide on merges")


def _merge(session: DbSession, merge_id: uuid.UUID | None) -> CaseMerge:
    """Locked until the commit: two supervisors deciding at once see each other's word
    (the second gets 409), and a merge never moves the rows twice."""
    merge = session.get(CaseMerge, merge_id, with_for_update=True) if merge_id else None
    if merge is None:
        raise NotFound("merge not found")
    return merge


def merge_list(session: DbSession, caller: Caller) -> list[dict[str, Any]]:
    """The supervisors' queue: merges to decide, and approved ones still reversible.
    Numbers and dates only: no name, no reason."""
    _require_supervisor(caller)
    now = utcnow()
    items = []
    for merge, surviving_number, absorbed_number in access.merge_queue(
        session, ("pending", "approved")
    ):
        until = merge.decided_at + REVERT_WINDOW if merge.decided_at else None
        if merge.status == "approved" and until is not None and until < now:
            continue
        items.append(_listed(merge, surviving_number, absorbed_number, until))
    return items


def described(session: DbSession, merge: CaseMerge) -> dict[str, Any]:
    numbers = access.case_numbers(session, {merge.surviving_case_id, merge.absorbed_case_id})
    until = merge.decided_at + REVERT_WINDOW if merge.decided_at else None
    return _listed(merge, numbers[merge.surviving_case_id], numbers[merge.absorbed_case_id], until)


def _listed(merge: CaseMerge, surviving: str, absorbed: str, until: Any) -> dict[str, Any]:
    def iso(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": str(merge.id),
        "status": merge.status,
        "surviving_case_id": str(merge.surviving_case_id),
        "surviving_number": surviving,
        "absorbed_case_id": str(merge.absorbed_case_id),
        "absorbed_number": absorbed,
        "requested_at": iso(merge.requested_at),
        "requested_by_user_id": merge.requested_by_user_id,
        "decided_at": iso(merge.decided_at),
        "reverted_at": iso(merge.reverted_at),
        "revertible_until": iso(until) if merge.status == "approved" else None,
    }


def review_merge(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    merge_id: uuid.UUID | None,
    approve: bool,
    attachments_dir: Path,
    movers: Sequence[Mover] = (),
) -> dict[str, Any]:
    """A supervisor other than the one who asked approves (the rows move) or rejects."""
    _require_supervisor(caller)
    merge = _merge(session, merge_id)
    if merge.requested_by_user_id == caller.id:
        raise Forbidden("who asked for a merge does not approve it")
    if merge.status != "pending":
        raise Conflict(gettext("Esta unión ya fue decidida."))
    merge.decided_by_user_id, merge.decided_at = caller.id, utcnow()
    if not approve:
        merge.status = "rejected"
        _audit_both(session, ring, caller, merge, "rejected")
        return described(session, merge)
    surviving = access.case_by_id(session, merge.surviving_case_id)
    absorbed = access.case_by_id(session, merge.absorbed_case_id)
    if surviving.merged_into_id or absorbed.merged_into_id:
        raise Conflict(gettext("Uno de los expedientes ya se unió a otro."))
    relocation = Relocation(
        absorbed,
        surviving,
        cipher_for(ring, absorbed.data_key),
        cipher_for(ring, surviving.data_key),
    )
    _move_record(session, relocation, attachments_dir, movers)
    relocation.moved.update(_join_record(session, caller, absorbed, surviving, relocation))
    merge.moved = json.dumps(relocation.moved, sort_keys=True)
    merge.status = "approved"
    session.flush()
    _audit_both(session, ring, caller, merge, "approved")
    _tell_parties(session, [surviving, absorbed], "case_merge", surviving.number)
    return described(session, merge)


def revert_merge(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    merge_id: uuid.UUID | None,
    attachments_dir: Path,
    movers: Sequence[Mover] = (),
) -> dict[str, Any]:
    """Within 30 days: the rows that moved go back, sealed again with the absorbed key."""
    _require_supervisor(caller)
    merge = _merge(session, merge_id)
    if merge.status != "approved" or merge.decided_at is None:
        raise Conflict(gettext("Solo una unión aprobada se puede deshacer."))
    if not policy.may_revert_merge(merge.decided_at, utcnow(), REVERT_WINDOW):
        raise Conflict(gettext("Pasaron más de 30 días: esta unión ya no se puede deshacer."))
    surviving = access.case_by_id(session, merge.surviving_case_id)
    absorbed = access.case_by_id(session, merge.absorbed_case_id)
    if surviving.merged_into_id is not None:
        raise Conflict(
            gettext("El expediente que quedó se unió después a otro: deshaga esa unión antes.")
        )
    moved = json.loads(merge.moved or "{}")
    relocation = Relocation(
        surviving,
        absorbed,
        cipher_for(ring, surviving.data_key),
        cipher_for(ring, absorbed.data_key),
        only=moved,
    )
    _move_record(session, relocation, attachments_dir, movers)
    _undo_join(session, moved, absorbed, surviving, relocation)
    merge.status, merge.reverted_at, merge.reverted_by_user_id = "reverted", utcnow(), caller.id
    session.flush()
    _audit_both(session, ring, caller, merge, "reverted")
    _tell_parties(session, [surviving, absorbed], "case_merge_reverted", absorbed.number)
    return described(session, merge)


# ---- moving the rows --------------------------------------------------------------------


def _move_record(
    session: DbSession, relocation: Relocation, attachments_dir: Path, movers: Sequence[Mover]
) -> None:
    for table, model in PARTS.items():
        relocation.moved[table] = move_part(session, relocation, table, model)
    move_files(session, relocation, attachments_dir)
    _move_safety_plan(session, relocation)
    for mover in movers:
        relocation.moved.update(mover(session, relocation))


def move_files(session: DbSession, relocation: Relocation, directory: Path) -> None:
    """Each moved attachment's file is sealed again into a new file: the old one stays
    until the transaction is over, so a failed merge loses nothing (docs/search.md)."""
    ids = _parse_ids(Attachment, relocation.moved.get("attachments") or [])
    if not ids:
        return
    left = relocation.moved.setdefault("files_left", [])
    for attachment in session.execute(select(Attachment).where(Attachment.id.in_(ids))).scalars():
        old = attachment_path(directory, attachment.storage_name)
        sealed = relocation.reseal("attachments", attachment.id, "content", old.read_bytes())
        attachment.storage_name = secrets.token_hex(16)
        write_atomically(attachment_path(directory, attachment.storage_name), sealed or b"")
        left.append(old.name)


def _move_safety_plan(session: DbSession, relocation: Relocation) -> None:
    """One plan per record: the absorbed plan moves if the other has none; if both
    have one, the plan that stays takes both texts (her safety comes first) and keeps
    its former text, sealed, for a revert."""
    source, target = relocation.source, relocation.target
    plans = {
        plan.case_id: plan
        for plan in session.execute(
            select(SafetyPlan).where(SafetyPlan.case_id.in_([source.id, target.id]))
        ).scalars()
    }
    if relocation.only is not None:
        _restore_safety_plan(plans, relocation)
        return
    mine, theirs = plans.get(source.id), plans.get(target.id)
    if mine is None:
        return
    if theirs is None:
        relocation.moved["safety_plans"] = move_part(
            session, relocation, "safety_plans", SafetyPlan
        )
        return
    before = theirs.plan_enc
    added = relocation.source_cipher.open_text("safety_plans", mine.id, "plan", mine.plan_enc)
    kept = relocation.target_cipher.open_text("safety_plans", theirs.id, "plan", before)
    combined = f"{kept}\n\n— {source.number} —\n{added}"
    theirs.plan_enc = (
        relocation.target_cipher.seal("safety_plans", theirs.id, "plan", combined) or b""
    )
    relocation.moved["safety_plan_before"] = base64.b64encode(before).decode("ascii")


def _restore_safety_plan(plans: dict[uuid.UUID, SafetyPlan], relocation: Relocation) -> None:
    only = relocation.only or {}
    if only.get("safety_plans"):
        plan = plans[relocation.source.id]
        plan.plan_enc = relocation.reseal("safety_plans", plan.id, "plan", plan.plan_enc) or b""
        plan.case_id = relocation.target.id
    elif only.get("safety_plan_before"):
        # The plan of the record that stayed gets back its own text, as it was.
        plans[relocation.source.id].plan_enc = base64.b64decode(only["safety_plan_before"])


# ---- the record's standing: status, risk, consent, parties ------------------------------


def _join_record(
    session: DbSession, caller: Caller, absorbed: Case, surviving: Case, relocation: Relocation
) -> dict[str, Any]:
    """The absorbed record's parties join as consent allows; what changes on the two
    case rows is kept in `moved["before"]` for a revert."""
    before = {
        "absorbed_status": absorbed.status,
        "risk_level": surviving.risk_level,
        "mandatory_report": surviving.mandatory_report,
    }
    absorbed.status, absorbed.merged_into_id = MERGED, surviving.id
    surviving.risk_level = policy.higher_risk(surviving.risk_level, absorbed.risk_level)
    surviving.mandatory_report = surviving.mandatory_report or absorbed.mandatory_report
    surviving.updated_at = utcnow()
    return {
        "before": before,
        "consents_added": [_restate_consent(session, caller, surviving)],
        "exclusions_added": _copy_exclusions(session, caller, absorbed, surviving),
        "parties_added": _join_parties(session, caller, absorbed, surviving),
    }


def _restate_consent(session: DbSession, caller: Caller, surviving: Case) -> int:
    """Her consent on the record that stays governs; moved consent rows are history, so
    it is stated again as the newest row."""
    row = Consent(
        case_id=surviving.id,
        share_with_network=surviving.consent_network,
        statistics=surviving.consent_statistics,
        police=surviving.consent_police,
        given_by="merge",
        recorded_by_user_id=caller.id,
        recorded_by_institution_id=caller.institution_id,
    )
    session.add(row)
    session.flush()
    return row.id


def _copy_exclusions(
    session: DbSession, caller: Caller, absorbed: Case, surviving: Case
) -> list[int]:
    """An institution she said must never see her record does not see the merged one.
    Kept on a revert: what she asked for about an institution stays asked."""
    known = set(access.excluded_institutions(session, surviving.id))
    added = []
    for institution_id in access.excluded_institutions(session, absorbed.id):
        if institution_id in known:
            continue
        session.add(
            CaseExclusion(
                case_id=surviving.id, institution_id=institution_id, recorded_by_user_id=caller.id
            )
        )
        access.restrict_institution(session, surviving, institution_id)
        added.append(institution_id)
    return added


def _join_parties(session: DbSession, caller: Caller, absorbed: Case, surviving: Case) -> list[int]:
    present = access.live_party_institutions(session, surviving.id)
    excluded = set(access.excluded_institutions(session, surviving.id))
    added = []
    for party in access.live_parties(session, absorbed.id):
        if party.institution_id in present:
            continue  # a party of both keeps what it has on the record that stays
        granted = policy.merged_party_access(
            surviving.consent_network, party.access, party.institution_id in excluded
        )
        row = access.add_party(
            session,
            surviving,
            party.institution_id,
            "merged",
            granted,
            caller.id,
            referral_id=party.referral_id,
        )
        if row is not None:
            session.flush()
            added.append(row.id)
            _keep_responsible(session, caller, absorbed, surviving, party.institution_id)
        present.add(party.institution_id)
    return added


def _keep_responsible(
    session: DbSession, caller: Caller, absorbed: Case, surviving: Case, institution_id: int
) -> None:
    """The worker who served her there goes on serving her on the record that stays."""
    before = access.assignment_for_update(session, absorbed.id, institution_id)
    after = access.assignment_for_update(session, surviving.id, institution_id)
    if before is not None and before.user_id and after is not None and after.user_id is None:
        after.user_id, after.assigned_by_user_id = before.user_id, caller.id


def _undo_join(
    session: DbSession,
    moved: dict[str, Any],
    absorbed: Case,
    surviving: Case,
    relocation: Relocation,
) -> None:
    before = moved.get("before") or {}
    absorbed.status = before.get("absorbed_status") or "open"
    absorbed.merged_into_id = None
    absorbed.updated_at = surviving.updated_at = utcnow()
    surviving.risk_level = before.get("risk_level")
    surviving.mandatory_report = bool(before.get("mandatory_report"))
    access.end_parties(session, [int(i) for i in moved.get("parties_added") or []])
    for consent_id in moved.get("consents_added") or []:
        row = session.get(Consent, int(consent_id))
        if row is not None:
            session.delete(row)


# ---- telling ----------------------------------------------------------------------------


def _audit_both(
    session: DbSession, ring: KeyRing, caller: Caller, merge: CaseMerge, what: str
) -> None:
    for case_id, side in (
        (merge.surviving_case_id, "surviving"),
        (merge.absorbed_case_id, "absorbed"),
    ):
        audit(
            session,
            ring.audit_key,
            caller,
            "case_merge",
            object_type="case_merge",
            object_id=merge.id,
            case_id=case_id,
            detail=f"merge:{what};{side}",
        )


def _tell_parties(session: DbSession, cases: list[Case], kind: str, reference: str) -> None:
    told: set[int] = set()
    for case in cases:
        for institution_id in access.live_party_institutions(session, case.id) - told:
            notify_institution(session, institution_id, kind, case_id=case.id, reference=reference)
            told.add(institution_id)
