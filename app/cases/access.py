"""THE loader of her record: the only code that queries cases or the party table.

Every read and every write of a case starts here. `case_for` answers, for a caller and a
case, which view she gets (`full`, `own_parts`, `metadata`, `break_glass`) or raises
NotFound — never telling that the record exists. The lists (work lists, dashboards,
overdue follow-ups, expiring measures, inboxes) come from the same `_visible` clause.
What each view shows and allows is decided by the pure functions of `policy.py`; a guard
test (tests/unit/test_guards.py) fails on any case query or party join elsewhere.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Protocol

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.orm import contains_eager, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from app.cases import policy
from app.cases.models import Case, CaseExclusion, CaseParty, Survivor
from app.core.db import DbSession
from app.core.errors import Forbidden, NotFound
from app.core.time import utcnow
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for
from app.directory.territory import case_prefix_of


class Subject(Protocol):
    """A caller as the loader needs her: a `Caller`, or a `User` in scripts."""

    @property
    def id(self) -> int: ...
    @property
    def institution_id(self) -> int: ...
    @property
    def role(self) -> str: ...
    @property
    def active(self) -> bool: ...


@dataclass(frozen=True)
class CaseAccess:
    case: Case
    view: str
    # Of the `others` tables asked about by `case_for`, those with rows of this case.
    others_present: frozenset[str] = frozenset()

    def allows(self, need: str) -> bool:
        return policy.view_allows(self.view, need)


def works_on_cases(subject: Subject) -> bool:
    from app.auth.models import CASE_ROLES

    return subject.active and subject.role in CASE_ROLES


def _is_supervisor(subject: Subject) -> bool:
    return subject.active and subject.role == "supervisor"


# ---- the view of one case --------------------------------------------------------------


def _live_party(institution_id: int) -> Any:
    return and_(
        CaseParty.case_id == Case.id,
        CaseParty.institution_id == institution_id,
        CaseParty.ended_at.is_(None),
    )


def _party_access(institution_id: int) -> Any:
    """'full' when any live row of the institution is full ('full' < 'own_parts')."""
    return select(func.min(CaseParty.access)).where(_live_party(institution_id)).scalar_subquery()


def _excluded(institution_id: int) -> Any:
    return exists().where(
        CaseExclusion.case_id == Case.id, CaseExclusion.institution_id == institution_id
    )


def _visible(subject: Subject, *views: str) -> Any:
    """SQL: the case has a live party row of the subject's institution (with one of
    `views`, when given), and the institution is not excluded from it for `full`."""
    if not works_on_cases(subject):
        return Case.id.is_(None)  # matches nothing
    if not views:
        return exists().where(_live_party(subject.institution_id))
    party = exists().where(_live_party(subject.institution_id), CaseParty.access.in_(views))
    if policy.OWN_PARTS in views:
        return party
    return and_(party, ~_excluded(subject.institution_id))


def case_for(
    session: DbSession,
    subject: Subject,
    case_id: uuid.UUID | None,
    *,
    need: str = policy.ADD,
    whole_record: bool = False,
    department: str | None = None,
    others: Mapping[str, Any] | None = None,
) -> CaseAccess:
    """The case and the caller's view of it, or NotFound/Forbidden.

    `need` is what the caller is about to do (policy.READ, ADD or WHOLE); a view that
    does not allow it is Forbidden — she knows the record exists, she may not do that.
    `whole_record` loads every part (for presenting); otherwise only the case row.
    `others` (name → a model with `case_id`, from a package built on cases) is checked
    in the same EXISTS query as the parts, so its owner queries only what is there.
    """
    if works_on_cases(subject):
        found = _party_case(session, subject, case_id, _Load(whole_record, others))
    elif _is_supervisor(subject) and need == policy.READ:
        found = _department_case(session, subject, case_id, department, _Load(whole_record, others))
    else:
        raise Forbidden("this role does not work on case records")
    if not found.allows(need):
        raise Forbidden(f"the {found.view} view does not allow this")
    return found


@dataclass(frozen=True)
class _Load:
    whole_record: bool
    others: Mapping[str, Any] | None = None


def _party_case(
    session: DbSession, subject: Subject, case_id: uuid.UUID | None, load: _Load
) -> CaseAccess:
    if case_id is None:
        raise NotFound("case not found")
    access = _party_access(subject.institution_id)
    stmt = (
        select(Case, access, _excluded(subject.institution_id))
        .join(Case.survivor)
        .options(contains_eager(Case.survivor), joinedload(Case.data_key))
        .where(Case.id == case_id, access.is_not(None))
    )
    row, others = _load(session, stmt, case_id, load)
    view = policy.party_view(row[1], bool(row[2])) if row else None
    if row is None or view is None:
        raise NotFound("case not found")
    return CaseAccess(row[0], view, others)


def _department_case(
    session: DbSession,
    subject: Subject,
    case_id: uuid.UUID | None,
    department: str | None,
    load: _Load,
) -> CaseAccess:
    """A supervisor's case of her department: metadata, or all of it under break-glass."""
    if case_id is None:
        raise NotFound("case not found")
    grant = _grant_running(session, subject, case_id)
    stmt = select(Case).where(Case.id == case_id)
    # Her institution's department on the map decides; the configured one if it has none.
    department = case_prefix_of(session, subject.institution_id) or department
    if department:
        stmt = stmt.where(Case.number.startswith(f"{department}-"))
    others: frozenset[str] = frozenset()
    if grant and load.whole_record:
        stmt = stmt.join(Case.survivor).options(
            contains_eager(Case.survivor), joinedload(Case.data_key)
        )
        row, others = _load(session, stmt, case_id, load)
        case = row[0] if row else None
    else:
        case = session.execute(stmt.options(selectinload(Case.parties))).scalar_one_or_none()
    if case is None:
        raise NotFound("case not found")
    return CaseAccess(case, policy.supervisor_view(grant), others)


def _grant_running(session: DbSession, subject: Subject, case_id: uuid.UUID) -> bool:
    from app.audit.models import BreakGlass

    stmt = select(BreakGlass.id).where(
        BreakGlass.user_id == subject.id,
        BreakGlass.case_id == case_id,
        BreakGlass.expires_at > utcnow(),
    )
    return session.execute(stmt.limit(1)).first() is not None


# ---- loading the whole record ----------------------------------------------------------

ALWAYS_PRESENT = ("incidents", "parties", "consents")  # every intake writes one of each


def _optional_parts() -> dict[str, Any]:
    """The parts of a record that many cases do not have yet, by attribute name."""
    from app.cases.care_models import (
        Attachment,
        CareNote,
        CaseStatusChange,
        FollowUp,
        RiskAssessment,
        SafetyPlan,
    )
    from app.cases.legal_models import Complaint

    return {
        "notes": CareNote,
        "follow_ups": FollowUp,
        "risk_assessments": RiskAssessment,
        "safety_plan": SafetyPlan,
        "attachments": Attachment,
        "complaints": Complaint,
        "status_changes": CaseStatusChange,
    }


def _part_option(name: str) -> Any:
    return selectinload(getattr(Case, name))


def _load(
    session: DbSession, stmt: Any, case_id: uuid.UUID, load: _Load
) -> tuple[Any, frozenset[str]]:
    """Run `stmt` (one case, access in its WHERE); with `whole_record`, load its parts.

    One EXISTS query tells which optional parts (and `others`) the case has; only those
    are loaded (one query each) and the others are set empty, instead of querying for
    nothing.
    """
    if not load.whole_record:
        return session.execute(stmt).unique().one_or_none(), frozenset()
    parts = _optional_parts()
    others = dict(load.others or {})
    present = (
        session.execute(
            select(
                *[
                    exists().where(model.case_id == case_id).label(name)
                    for name, model in {**parts, **others}.items()
                ]
            )
        )
        .one()
        ._asdict()
    )
    names = [*ALWAYS_PRESENT, *(name for name in parts if present[name])]
    row = session.execute(stmt.options(*map(_part_option, names))).unique().one_or_none()
    if row is not None:
        for name in parts:
            if not present[name]:
                set_committed_value(row[0], name, None if name == "safety_plan" else [])
    return row, frozenset(name for name in others if present[name])


def cipher_of_loaded_case(ring: KeyRing, session: DbSession, case_id: uuid.UUID) -> FieldCipher:
    """The cipher of a case `case_for` loaded earlier in this request: the identity map
    answers, so no second query and no second access check."""
    case = session.get(Case, case_id, options=[joinedload(Case.data_key)])
    if case is None:
        raise NotFound("case not found")
    return cipher_for(ring, case.data_key)


# ---- matching a survivor at intake -----------------------------------------------------


def survivors_by_index(
    session: DbSession, column_name: str, value: str
) -> list[tuple[Survivor, Case]]:
    """Candidates for the single record by a blind index (`dui_bidx`, `name_dob_bidx`):
    intake confirms them by decrypting, and never shows them to the caller."""
    stmt = (
        select(Survivor, Case)
        .join(Case, Case.survivor_id == Survivor.id)
        .options(joinedload(Case.data_key))
        .where(getattr(Survivor, column_name) == value)
    )
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


# ---- parties ---------------------------------------------------------------------------


def add_party(
    session: DbSession,
    case: Case,
    institution_id: int,
    reason: str,
    access: str,
    added_by: int | None,
    referral_id: uuid.UUID | None = None,
) -> CaseParty | None:
    """Make the institution a party unless it already is one for the same reason;
    a second live row never lowers what the first gives."""
    same = session.execute(
        select(CaseParty).where(
            CaseParty.case_id == case.id,
            CaseParty.institution_id == institution_id,
            CaseParty.ended_at.is_(None),
            CaseParty.referral_id.is_(None)
            if referral_id is None
            else CaseParty.referral_id == referral_id,
        )
    ).scalar_one_or_none()
    if same is not None:
        if access == policy.FULL:
            same.access = policy.FULL
        return None
    party = CaseParty(
        case_id=case.id,
        institution_id=institution_id,
        reason=reason,
        referral_id=referral_id,
        access=access,
        added_by_user_id=added_by,
    )
    session.add(party)
    return party


def end_referral_party(session: DbSession, referral_id: uuid.UUID) -> None:
    """A declined or cancelled referral leaves the receiver nothing."""
    session.execute(
        update(CaseParty)
        .where(CaseParty.referral_id == referral_id, CaseParty.ended_at.is_(None))
        .values(ended_at=utcnow())
    )


def restrict_other_parties(session: DbSession, case: Case, keep_institution_id: int) -> int:
    """Her sharing was revoked: every other party keeps only its own parts, at once."""
    result = session.execute(
        update(CaseParty)
        .where(
            CaseParty.case_id == case.id,
            CaseParty.institution_id != keep_institution_id,
            CaseParty.ended_at.is_(None),
            CaseParty.access == policy.FULL,
        )
        .values(access=policy.OWN_PARTS)
    )
    return int(getattr(result, "rowcount", 0) or 0)


def restrict_institution(session: DbSession, case: Case, institution_id: int) -> None:
    session.execute(
        update(CaseParty)
        .where(
            CaseParty.case_id == case.id,
            CaseParty.institution_id == institution_id,
            CaseParty.ended_at.is_(None),
        )
        .values(access=policy.OWN_PARTS)
    )


def live_party_institutions(
    session: DbSession, case_id: uuid.UUID, kind: str | None = None
) -> set[int]:
    from app.directory.models import Institution

    stmt = select(CaseParty.institution_id).where(
        CaseParty.case_id == case_id, CaseParty.ended_at.is_(None)
    )
    if kind:
        stmt = stmt.join(Institution, Institution.id == CaseParty.institution_id).where(
            Institution.kind == kind
        )
    return set(session.execute(stmt).scalars())


def is_excluded(session: DbSession, case_id: uuid.UUID, institution_id: int) -> bool:
    stmt = select(CaseExclusion.id).where(
        CaseExclusion.case_id == case_id, CaseExclusion.institution_id == institution_id
    )
    return session.execute(stmt.limit(1)).first() is not None


def excluded_institutions(session: DbSession, case_id: uuid.UUID) -> list[int]:
    stmt = select(CaseExclusion.institution_id).where(CaseExclusion.case_id == case_id)
    return sorted(session.execute(stmt).scalars())


def has_live_party(session: DbSession, case_id: uuid.UUID, institution_id: int) -> bool:
    stmt = select(CaseParty.id).where(
        CaseParty.case_id == case_id,
        CaseParty.institution_id == institution_id,
        CaseParty.ended_at.is_(None),
    )
    return session.execute(stmt.limit(1)).first() is not None


# ---- joins awaiting a supervisor's review ----------------------------------------------


def pending_joins(session: DbSession, limit: int = 200) -> list[tuple[CaseParty, str]]:
    stmt = (
        select(CaseParty, Case.number)
        .join(Case, Case.id == CaseParty.case_id)
        .where(CaseParty.reason == "matched_intake", CaseParty.reviewed_at.is_(None))
        .order_by(CaseParty.since)
        .limit(limit)
    )
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


def join_to_review(session: DbSession, party_id: int) -> CaseParty:
    party = session.execute(
        select(CaseParty).where(CaseParty.id == party_id, CaseParty.reason == "matched_intake")
    ).scalar_one_or_none()
    if party is None:
        raise NotFound("join not found")
    return party


# ---- lists: one visibility clause for all of them --------------------------------------


def high_risk_cases(session: DbSession, subject: Subject, limit: int = 50) -> list[Any]:
    """Open high-risk cases whose whole record the institution sees."""
    stmt = (
        select(Case.id, Case.number)
        .where(_visible(subject, policy.FULL), Case.risk_level == "high", Case.status != "closed")
        .order_by(Case.updated_at.desc())
        .limit(limit)
    )
    return list(session.execute(stmt).all())


def overdue_follow_ups(session: DbSession, subject: Subject, today: date) -> list[tuple[Any, str]]:
    """The institution's follow-ups past their date and not done, on cases it is party to."""
    from app.cases.care_models import FollowUp

    stmt = (
        select(FollowUp, Case.number)
        .join(Case, Case.id == FollowUp.case_id)
        .where(
            _visible(subject),
            FollowUp.institution_id == subject.institution_id,
            FollowUp.done_on.is_(None),
            FollowUp.due_on < today,
        )
        .order_by(FollowUp.due_on)
        .limit(500)
    )
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


def expiring_measures(
    session: DbSession, subject: Subject, today: date, days: int
) -> list[tuple[Any, str]]:
    """Active measures ending within `days`, on cases whose whole record the institution
    sees, or that it filed itself."""
    from app.cases.legal_models import Complaint, ProtectionMeasure

    own = exists().where(
        Complaint.id == ProtectionMeasure.complaint_id,
        Complaint.institution_id == subject.institution_id,
    )
    stmt = (
        select(ProtectionMeasure, Case.number)
        .join(Case, Case.id == ProtectionMeasure.case_id)
        .where(
            (_visible(subject, policy.FULL)) | (_visible(subject) & own),
            ProtectionMeasure.status == "active",
            ProtectionMeasure.ends_on.between(today, today + timedelta(days=days)),
        )
        .order_by(ProtectionMeasure.ends_on)
    )
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


def case_numbers(session: DbSession, case_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Numbers for rows the caller already may see (her referrals): no other data."""
    if not case_ids:
        return {}
    stmt = select(Case.id, Case.number).where(Case.id.in_(case_ids))
    return {row[0]: row[1] for row in session.execute(stmt).all()}


def case_of_referral(session: DbSession, case_id: uuid.UUID, with_survivor: bool = False) -> Case:
    """The case behind a referral the referral loader already authorised."""
    stmt = select(Case).options(joinedload(Case.data_key)).where(Case.id == case_id)
    if with_survivor:
        stmt = stmt.options(joinedload(Case.survivor))
    return session.execute(stmt).scalar_one()


def lock_case(session: DbSession, case_id: uuid.UUID) -> None:
    """Lock the case row and reload it (her consent may have changed meanwhile) before
    its party rows are changed: every path that changes both takes the case first, so
    two of them cannot deadlock on PostgreSQL. NO KEY UPDATE: rows that only point at
    the case (notes, events) are not held up."""
    stmt = (
        select(Case)
        .options(joinedload(Case.data_key))
        .where(Case.id == case_id)
        .with_for_update(of=Case, key_share=True)
        .execution_options(populate_existing=True)
    )
    session.execute(stmt).scalar_one()


# ---- finding cases: search and the work list -------------------------------------------


def visible_by_survivor_index(
    session: DbSession, subject: Subject, column_name: str, value: str
) -> list[Case]:
    """Cases the subject may see whose survivor has this blind index, oldest first."""
    stmt = (
        select(Case)
        .join(Case.survivor)
        .options(contains_eager(Case.survivor), joinedload(Case.data_key))
        .where(_visible(subject), getattr(Survivor, column_name) == value)
        .order_by(Case.created_at)
    )
    return list(session.execute(stmt).unique().scalars())


def visible_by_number(session: DbSession, subject: Subject, number: str) -> list[Case]:
    stmt = select(Case).where(_visible(subject), Case.number == number)
    return list(session.execute(stmt).scalars())


def work_list(
    session: DbSession,
    subject: Subject,
    *,
    status: str | None,
    risk: str | None,
    offset: int,
    limit: int,
) -> list[Case]:
    """The subject's cases, newest activity first (id: a stable order across pages)."""
    stmt = select(Case).where(_visible(subject))
    if status:
        stmt = stmt.where(Case.status == status)
    if risk:
        stmt = stmt.where(Case.risk_level == risk)
    stmt = stmt.order_by(Case.updated_at.desc(), Case.id).offset(offset).limit(limit)
    return list(session.execute(stmt).scalars())


# ---- what break-glass and the audit reports need ---------------------------------------


def case_by_id(session: DbSession, case_id: uuid.UUID | None) -> Case:
    """A case by id for a service that has already decided the caller may act on it:
    a supervisor opening break-glass (the grant is checked on each read), the report of
    an identity conflict (to the supervisors, never to the caller)."""
    stmt = select(Case).options(joinedload(Case.data_key)).where(Case.id == case_id)
    case = session.execute(stmt).scalar_one_or_none() if case_id else None
    if case is None:
        raise NotFound("case not found")
    return case


def party_at_the_time(case_id: Any, institution_id: Any, at: Any) -> Any:
    """SQL: the institution was a live party of the case at that moment (audit reports)."""
    return exists().where(
        CaseParty.case_id == case_id,
        CaseParty.institution_id == institution_id,
        CaseParty.since <= at,
        CaseParty.ended_at.is_(None) | (CaseParty.ended_at > at),
    )
