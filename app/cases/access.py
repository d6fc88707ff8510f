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
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol, cast

from flask_babel import gettext
from sqlalchemy import Table, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.orm import contains_eager, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from app.cases import policy, snapshot
from app.cases.models import Case, CaseExclusion, CaseParty, Survivor
from app.core.db import DbSession
from app.core.errors import CaseClosed, CasePurged, Conflict, Forbidden, NotFound
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
    # The caller's institution's responsible worker (party views only; None: nobody).
    responsible: Responsible | None = None

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
    # A record absorbed by a merge drops out of every list: its number finds the survivor.
    # A purged one too: nothing of it can be shown but its number (`case_for` still finds it).
    live = and_(Case.merged_into_id.is_(None), Case.purged_at.is_(None))
    if not views:
        return and_(live, exists().where(_live_party(subject.institution_id)))
    party = exists().where(_live_party(subject.institution_id), CaseParty.access.in_(views))
    if policy.OWN_PARTS in views:
        return and_(live, party)
    return and_(live, party, ~_excluded(subject.institution_id))


def case_for(
    session: DbSession,
    subject: Subject,
    case_id: uuid.UUID | None,
    *,
    need: str = policy.ADD,
    whole_record: bool = False,
    department: str | None = None,
    others: Mapping[str, Any] | None = None,
    closed_ok: bool = False,
    purged_ok: bool = False,
) -> CaseAccess:
    """The case and the caller's view of it, or NotFound/Forbidden.

    `need` is what the caller is about to do (policy.READ, ADD or WHOLE); a view that
    does not allow it is Forbidden — she knows the record exists, she may not do that.
    A write (ADD, WHOLE) to a closed case is CaseClosed (409) unless `closed_ok`: the
    few writes that belong to a closed case (reopening it, a new incident, which reopens
    it, consent, a download) say so; every other write is refused here, once.
    A purged case (its key destroyed) is CasePurged (409) unless `purged_ok`: only the
    reads that show what is left of it (its number, dates, status) say so.
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
    if found.case.purged_at is not None and not purged_ok:
        raise CasePurged()
    if found.case.merged_into_id is not None and not policy.merged_allows(need):
        raise CaseMerged()
    if need != policy.READ and not closed_ok and not policy.allows_writes(found.case.status):
        raise CaseClosed()
    return found


class CaseMerged(Conflict):
    """A record absorbed by a merge is read-only: her story goes on in the other one."""

    code = "case_merged"

    def __init__(self) -> None:
        super().__init__(
            gettext("Este expediente se unió a otro: registre en el expediente que quedó.")
        )


@dataclass(frozen=True)
class _Load:
    whole_record: bool
    others: Mapping[str, Any] | None = None


def _party_case(
    session: DbSession, subject: Subject, case_id: uuid.UUID | None, load: _Load
) -> CaseAccess:
    if case_id is None:
        raise NotFound("case not found")
    if load.whole_record:
        return _party_record(session, subject, case_id, load)
    access = _party_access(subject.institution_id)
    stmt = _with_responsible(
        select(Case, access, _excluded(subject.institution_id))
        .join(Case.survivor)
        .options(contains_eager(Case.survivor), joinedload(Case.data_key))
        .where(Case.id == case_id, access.is_not(None)),
        subject.institution_id,
    )
    row, others = _load(session, stmt, case_id, load)
    view = policy.party_view(row[1], bool(row[2])) if row else None
    if row is None or view is None:
        raise NotFound("case not found")
    return CaseAccess(row[0], view, others, Responsible.of(*row[3:]))


# ---- the whole record for a party: one Core statement on PostgreSQL ----------------------

_CASES = cast(Table, Case.__table__)
PARTIES = snapshot.Part(
    "parties", cast(Table, CaseParty.__table__), "since", "institution", "institution_id"
)
_ALWAYS = (*snapshot.ALWAYS, PARTIES)
_OTHER = "other__"


_RECORD_SELECTS: dict[tuple[bool, tuple[tuple[str, Any], ...]], Any] = {}


def _record_select(postgresql: bool, others: Mapping[str, Any] | None) -> Any:
    """The case, her survivor and data key, the caller's party access, and — on
    PostgreSQL — every part as JSON (on SQLite, which optional parts it has). Built once
    per shape, with the case and the institution as bound parameters: building the
    expression is most of what a statement costs in Python."""
    shape = (postgresql, tuple((others or {}).items()))
    stmt = _RECORD_SELECTS.get(shape)
    if stmt is None:
        stmt = _RECORD_SELECTS[shape] = _build_record_select(postgresql, others or {})
    return stmt


def _build_record_select(postgresql: bool, others: Mapping[str, Any]) -> Any:
    institution = cast(int, bindparam("institution_id"))
    access = _party_access(institution)
    if postgresql:  # whole rows as JSON: three columns instead of fifty
        rows = [snapshot.json_row(table).label(name) for name, table in _JSON_ROWS.items()]
    else:
        rows = [
            _CASES,
            *snapshot.prefixed(snapshot.SURVIVOR, snapshot.SURVIVOR_PREFIX),
            *snapshot.prefixed(snapshot.DATA_KEY, snapshot.DATA_KEY_PREFIX),
        ]
    stmt = (
        select(
            *rows,
            access.label("party_access"),
            _excluded(institution).label("party_excluded"),
        )
        .select_from(
            _CASES.join(snapshot.SURVIVOR, snapshot.SURVIVOR.c.id == _CASES.c.survivor_id).join(
                snapshot.DATA_KEY, snapshot.DATA_KEY.c.id == _CASES.c.data_key_id
            )
        )
        .where(_CASES.c.id == bindparam("case_id"), access.is_not(None))
    )
    stmt = _with_responsible(stmt, institution)
    if postgresql:
        parts = [
            snapshot.json_part(p, _CASES.c.id).label(p.name) for p in (*_ALWAYS, *snapshot.OPTIONAL)
        ]
    else:
        parts = [
            exists().where(p.table.c.case_id == _CASES.c.id).label(p.name)
            for p in snapshot.OPTIONAL
        ]
    flags = [
        exists().where(model.case_id == _CASES.c.id).label(_OTHER + name)
        for name, model in others.items()
    ]
    return stmt.add_columns(*parts, *flags)


_JSON_ROWS = {
    "case_row": _CASES,
    "survivor_row": snapshot.SURVIVOR,
    "data_key_row": snapshot.DATA_KEY,
}


def _case_of(values: Mapping[str, Any], postgresql: bool) -> dict[str, Any]:
    """The case row, her survivor and the data key, from whichever form the row has."""
    if postgresql:
        survivor = snapshot.decoded(snapshot.SURVIVOR, values["survivor_row"])
        data_key = snapshot.decoded(snapshot.DATA_KEY, values["data_key_row"])
        return {
            **snapshot.decoded(_CASES, values["case_row"]),
            "survivor": snapshot.Loaded(**survivor),
            "data_key": snapshot.Loaded(**data_key),
        }
    return {
        **{column.key: values[column.key] for column in _CASES.columns},
        "survivor": snapshot.Loaded(**snapshot.split_prefixed(values, snapshot.SURVIVOR_PREFIX)),
        "data_key": snapshot.Loaded(**snapshot.split_prefixed(values, snapshot.DATA_KEY_PREFIX)),
    }


def _sqlite_parts(session: DbSession, case_id: uuid.UUID, values: Mapping[str, Any]) -> dict:
    """SQLite: one SELECT per part the case has (and its complaints' measures and links)."""
    present = [p for p in snapshot.OPTIONAL if values[p.name]]
    by_case = {"case_id": case_id}
    parts = {
        p.name: snapshot.from_rows(p, session.execute(snapshot.part_select(p), by_case))
        for p in (*_ALWAYS, *present)
    }
    for part in snapshot.OPTIONAL:
        parts.setdefault(part.name, None if part.single else [])
    if parts["complaints"]:
        snapshot.attach_complaint_parts(
            parts["complaints"],
            session.execute(snapshot.MEASURES_SELECT, by_case),
            session.execute(snapshot.COMPLAINT_INCIDENTS_SELECT, by_case),
        )
    return parts


def _party_record(
    session: DbSession, subject: Subject, case_id: uuid.UUID, load: _Load
) -> CaseAccess:
    """A party's whole record, read without the ORM (the case read's hot path): plain
    objects with the models' attributes, for presenting only; nothing is written to it."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    params = {"case_id": case_id, "institution_id": subject.institution_id}
    row = session.execute(_record_select(postgresql, load.others), params).one_or_none()
    view = policy.party_view(row.party_access, bool(row.party_excluded)) if row else None
    if row is None or view is None:
        raise NotFound("case not found")
    values = cast(Mapping[str, Any], row._mapping)
    if postgresql:
        parts = {p.name: snapshot.from_json(p, values[p.name]) for p in _ALWAYS}
        parts |= {p.name: snapshot.from_json(p, values[p.name]) for p in snapshot.OPTIONAL}
    else:
        parts = _sqlite_parts(session, case_id, values)
    case = snapshot.Loaded(**_case_of(values, postgresql), **parts)
    others = frozenset(name for name in load.others or {} if values[_OTHER + name])
    responsible = Responsible.of(values["user_id"], values["display_name"], values["holder_active"])
    # A read-only stand-in with the model's attributes: `present` shapes it like a Case.
    return CaseAccess(cast(Case, case), view, others, responsible)


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


def corrections_of(session: DbSession, case_id: uuid.UUID) -> list[tuple[Any, str, str]]:
    """The corrections of a case `case_for` opened, oldest first: (row, the name of who
    made it, her institution's code)."""
    from app.auth.models import User
    from app.cases.record_models import Correction
    from app.directory.models import Institution

    stmt = (
        select(
            Correction,
            func.coalesce(func.nullif(User.display_name, ""), User.username),
            Institution.code,
        )
        .join(User, User.id == Correction.user_id)
        .join(Institution, Institution.id == Correction.institution_id)
        .where(Correction.case_id == case_id)
        .order_by(Correction.at, Correction.id)
    )
    return [(row[0], row[1] or "", row[2]) for row in session.execute(stmt).all()]


# ---- matching a survivor at intake -----------------------------------------------------


def _index_matches(column: Any, value: str | Sequence[str]) -> Any:
    """One blind index value, or the same value under each index key in use."""
    return column == value if isinstance(value, str) else column.in_(list(value))


def survivors_by_index(
    session: DbSession, column_name: str, value: str | Sequence[str]
) -> list[tuple[Survivor, Case]]:
    """Candidates for the single record by a blind index (`dui_bidx`, `name_dob_bidx`):
    intake confirms them by decrypting, and never shows them to the caller."""
    stmt = (
        select(Survivor, Case)
        .join(Case, Case.survivor_id == Survivor.id)
        .options(joinedload(Case.data_key))
        .where(_index_matches(getattr(Survivor, column_name), value))
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
    a second live row never lowers what the first gives. The worker who brings the
    case in (opens, joins, accepts) is its responsible there if nobody is yet."""
    _assign_first(session, case.id, institution_id, added_by)
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
    from app.cases.legal_models import ProtectionMeasure

    stmt = (
        select(ProtectionMeasure, Case.number)
        .join(Case, Case.id == ProtectionMeasure.case_id)
        .where(*_expiring(subject, today, days))
        .order_by(ProtectionMeasure.ends_on)
    )
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


def _expiring(subject: Subject, today: date, days: int) -> list[Any]:
    from app.cases.legal_models import Complaint, ProtectionMeasure

    own = exists().where(
        Complaint.id == ProtectionMeasure.complaint_id,
        Complaint.institution_id == subject.institution_id,
    )
    return [
        (_visible(subject, policy.FULL)) | (_visible(subject) & own),
        ProtectionMeasure.status == "active",
        ProtectionMeasure.ends_on.between(today, today + timedelta(days=days)),
    ]


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
# ---- the caseload: responsible workers, the work list, the tasks -----------------------
# Each party institution has one responsible worker per case (`case_assignments`). The
# work list and the tasks are the institution's visible cases (`_visible`), narrowed in
# SQL; what only the whole record shows (risk, her municipality) is matched only where
# the institution sees the whole record, so a filter never tells an own_parts party more.


@dataclass(frozen=True)
class Responsible:
    """A case's responsible worker in one institution."""

    id: int
    name: str
    active: bool  # `policy.is_active_worker`, answered in SQL by `active_worker`

    @classmethod
    def of(cls, user_id: int | None, name: str | None, active: Any) -> Responsible | None:
        return None if user_id is None else cls(user_id, name or "", bool(active))


def active_worker(user: Any, institution_id: int) -> Any:
    """SQL twin of `policy.is_active_worker` over the users table (or an alias of it)."""
    from app.auth.models import CASE_ROLES

    return and_(
        user.active.is_(True),
        user.role.in_(sorted(CASE_ROLES)),
        user.approved_at.is_not(None),
        user.institution_id == institution_id,
    )


def _assignment_on(institution_id: int) -> Any:
    from app.cases.record_models import CaseAssignment

    return and_(CaseAssignment.case_id == Case.id, CaseAssignment.institution_id == institution_id)


def _with_responsible(stmt: Any, institution_id: int) -> Any:
    """`stmt` over cases, with the institution's responsible: id, name, active."""
    from sqlalchemy.orm import aliased

    from app.auth.models import User
    from app.cases.record_models import CaseAssignment

    holder = aliased(User, name="holder")
    return (
        stmt.outerjoin(CaseAssignment, _assignment_on(institution_id))
        .outerjoin(holder, holder.id == CaseAssignment.user_id)
        .add_columns(
            CaseAssignment.user_id,
            holder.display_name,
            active_worker(holder, institution_id).label("holder_active"),
        )
    )


def _mine(subject: Subject) -> Any:
    """SQL: the subject is the case's responsible worker in her institution."""
    from app.cases.record_models import CaseAssignment

    return exists().where(
        _assignment_on(subject.institution_id), CaseAssignment.user_id == subject.id
    )


def _assign_first(
    session: DbSession, case_id: uuid.UUID, institution_id: int, user_id: int | None
) -> None:
    """A new party's responsible: the worker who brought the case in, when she belongs to
    that institution and nobody holds the case there yet."""
    from app.auth.models import User
    from app.cases.record_models import CaseAssignment

    row = assignment_for_update(session, case_id, institution_id)
    if row is not None and row.user_id is not None:
        return
    user = session.get(User, user_id) if user_id is not None else None
    worker = user.id if user is not None and user.institution_id == institution_id else None
    if row is None:
        row = CaseAssignment(case_id=case_id, institution_id=institution_id)
        session.add(row)
    elif worker is None:
        return
    row.user_id, row.assigned_by_user_id, row.assigned_at = worker, user_id, utcnow()


def assignment_for_update(
    session: DbSession, case_id: uuid.UUID, institution_id: int
) -> Any | None:
    """The institution's assignment row of a case, locked until the commit: two workers
    taking the same case one after the other see each other's choice."""
    from app.cases.record_models import CaseAssignment

    stmt = (
        select(CaseAssignment)
        .where(CaseAssignment.case_id == case_id, CaseAssignment.institution_id == institution_id)
        .with_for_update()
    )
    return session.execute(stmt).scalar_one_or_none()


def held_assignments(session: DbSession, subject: Subject, user_id: int) -> list[tuple[Any, str]]:
    """The assignments (with case numbers) a worker holds in the subject's institution,
    on cases the institution still sees, locked for a move."""
    from app.cases.record_models import CaseAssignment

    stmt = (
        select(CaseAssignment, Case.number)
        .join(Case, Case.id == CaseAssignment.case_id)
        .where(
            CaseAssignment.institution_id == subject.institution_id,
            CaseAssignment.user_id == user_id,
            _visible(subject),
        )
        .order_by(Case.number)
        .with_for_update(of=CaseAssignment)
    )
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


def open_caseloads(session: DbSession, subject: Subject) -> dict[int | None, int]:
    """Open (not closed) visible cases per responsible worker of the subject's institution;
    None counts the cases without one."""
    from app.cases.record_models import CaseAssignment

    party = _live_parties(subject.institution_id)
    stmt = (
        _her_cases(select(CaseAssignment.user_id, func.count()), subject, party)
        .outerjoin(CaseAssignment, _assignment_on(subject.institution_id))
        .where(Case.status != "closed")
        .group_by(CaseAssignment.user_id)
    )
    return {row[0]: int(row[1]) for row in session.execute(stmt).all()}


@dataclass(frozen=True)
class WorkFilter:
    """What the work list is narrowed to; None/False: not narrowed."""

    assigned: str = "all"  # policy.ASSIGNED_FILTERS
    status: str | None = None
    risk: str | None = None
    overdue: bool = False
    next_contact_days: int | None = None  # a pending follow-up due within N days
    inactive_days: int | None = None  # no activity on the case in N days
    municipality: str | None = None  # her municipality (a district code)
    sort: str = "activity"  # activity, risk, next_contact, number


@dataclass(frozen=True)
class WorkRow:
    id: uuid.UUID
    number: str
    status: str
    risk_level: str | None  # None where the institution sees only its own parts
    updated_at: Any
    next_contact: date | None
    full: bool
    responsible: Responsible | None


RISK_ORDER = {"high": 0, "medium": 1, "standard": 2}


def _live_parties(institution_id: int) -> Any:
    """The institution's live party rows, one per case, with the widest access ('full' <
    'own_parts'): the same rows `_visible` and `_party_access` ask about, as a table to
    drive a list from (its (institution, case) index), so that a planner that cannot
    turn EXISTS into a join (SQLite) reads her cases only, never all of them."""
    return (
        select(CaseParty.case_id, func.min(CaseParty.access).label("access"))
        .where(CaseParty.institution_id == institution_id, CaseParty.ended_at.is_(None))
        .group_by(CaseParty.case_id)
        .subquery("party")
    )


def _her_cases(stmt: Any, subject: Subject, party: Any) -> Any:
    """`stmt` over the subject's visible cases, read from her live party rows (`party`,
    from `_live_parties`): `_visible` as a join. tests/test_work_list.py checks that the
    two give the same cases."""
    return (
        stmt.select_from(party)
        .join(Case, Case.id == party.c.case_id)
        .where(Case.merged_into_id.is_(None), _visible_to_role(subject))
    )


class _WorkQuery:
    """The work list's SQL: her visible cases (`_live_parties` and the merge clause of
    `_visible`), narrowed by the filters; each join only when a filter or sort needs it."""

    def __init__(
        self, subject: Subject, wanted: WorkFilter, today: date, now: Any, *, lateral: bool
    ) -> None:
        from sqlalchemy import case as when
        from sqlalchemy.orm import aliased

        from app.auth.models import User
        from app.cases.care_models import FollowUp
        from app.cases.record_models import CaseAssignment

        institution_id = subject.institution_id
        self.subject, self.wanted, self.today, self.now = subject, wanted, today, now
        self.party = _live_parties(institution_id)
        self.lateral = lateral
        self.case = _listed_cases(self.party, lateral)
        case = self.case.c
        self.exclusion = aliased(CaseExclusion, name="exclusion")
        # Her institution's next pending follow-up per case.
        self.next_due = (
            select(FollowUp.case_id, func.min(FollowUp.due_on).label("due_on"))
            .where(FollowUp.institution_id == institution_id, FollowUp.done_on.is_(None))
            .group_by(FollowUp.case_id)
            .subquery("next_due")
        )
        self.holder = aliased(User, name="holder")
        self.assignment = CaseAssignment
        # `policy.party_view` in SQL: the whole record unless excluded.
        self.full = and_(self.party.c.access == policy.FULL, self.exclusion.id.is_(None))
        self.risk = when((self.full, case.risk_level), else_=None)
        self.mine = CaseAssignment.user_id == subject.id
        self.unassigned = or_(
            CaseAssignment.user_id.is_(None), ~active_worker(self.holder, institution_id)
        )
        self.overdue = self.next_due.c.due_on < today

    def joined(self, stmt: Any) -> Any:
        from sqlalchemy import true

        wanted, institution_id, case = self.wanted, self.subject.institution_id, self.case.c
        stmt = stmt.select_from(self.party)
        if self.lateral:
            stmt = stmt.join(self.case, true())
        else:
            stmt = stmt.join(self.case, case.id == self.party.c.case_id).where(
                case.merged_into_id.is_(None)
            )
        stmt = stmt.where(_visible_to_role(self.subject))
        if wanted.risk or wanted.municipality or wanted.sort == "risk":
            stmt = stmt.outerjoin(
                self.exclusion,
                and_(
                    self.exclusion.case_id == case.id,
                    self.exclusion.institution_id == institution_id,
                ),
            )
        # Her responsible and next contact by the party row's case id (the same as the
        # case's): PostgreSQL then reads her institution's assignment and follow-up rows
        # in one range of their indexes each and hashes them, instead of looking one up
        # per case through the LATERAL (20 ms less at 10,000 cases). SQLite's plan is
        # the same either way.
        assignment, case_id = self.assignment, self.party.c.case_id
        stmt = (
            stmt.outerjoin(
                assignment,
                and_(assignment.case_id == case_id, assignment.institution_id == institution_id),
            )
            .outerjoin(self.holder, self.holder.id == assignment.user_id)
            .outerjoin(self.next_due, self.next_due.c.case_id == case_id)
        )
        if wanted.municipality and not self.lateral:
            stmt = stmt.join(Survivor, Survivor.id == case.survivor_id)
        return stmt

    def narrowing(self) -> list[Any]:
        """Every filter but `assigned` and `overdue` (the counts' tabs)."""
        wanted, case = self.wanted, self.case.c
        clauses = []
        if wanted.status:
            clauses.append(case.status == wanted.status)
        if wanted.risk:
            clauses.append(self.risk == wanted.risk)
        if wanted.next_contact_days is not None:
            horizon = self.today + timedelta(days=wanted.next_contact_days)
            clauses.append(self.next_due.c.due_on <= horizon)
        if wanted.inactive_days is not None:
            clauses.append(case.updated_at < self.now - timedelta(days=wanted.inactive_days))
        if wanted.municipality:
            clauses.append(and_(self.full, self._municipality() == wanted.municipality))
        return clauses

    def _municipality(self) -> Any:
        """Her municipality: on PostgreSQL a lookup per case (`ix_survivors_work_list`),
        never a join its planner could answer by reading every survivor; SQLite, which
        looks each up anyway, does it faster as a join."""
        if self.lateral:
            return (
                select(Survivor.municipality)
                .where(Survivor.id == self.case.c.survivor_id)
                .scalar_subquery()
            )
        return Survivor.municipality

    def assigned(self) -> Any | None:
        return {"me": self.mine, "unassigned": self.unassigned}.get(self.wanted.assigned)

    def counts(self) -> list[Any]:
        """What each tab would list, as aggregates (WORK_COUNTS): all, mine and
        unassigned with the `overdue` filter, overdue with the `assigned` tab."""
        overdue_on = self.overdue if self.wanted.overdue else None

        def counted(*clauses: Any) -> Any:
            present = [clause for clause in clauses if clause is not None]
            return func.count().filter(and_(*present)) if present else func.count()

        return [
            counted(overdue_on),
            counted(overdue_on, self.mine),
            counted(overdue_on, self.unassigned),
            counted(self.assigned(), self.overdue),
        ]

    def order(self) -> list[Any]:
        from sqlalchemy import case as when

        by, case = self.wanted.sort, self.case.c
        activity = [case.updated_at.desc(), case.id]
        if by == "risk":
            rank = when(*((self.risk == level, n) for level, n in RISK_ORDER.items()), else_=3)
            return [rank, *activity]
        if by == "next_contact":
            return [self.next_due.c.due_on.asc().nulls_last(), *activity]
        if by == "number":
            return [case.number, case.id]
        return activity


def _listed_cases(party: Any, lateral: bool) -> Any:
    """The cases of `party`'s rows, with the columns a list reads. On PostgreSQL a
    LATERAL lookup of each (its LIMIT keeps the planner from turning it into a join):
    at about one case in a hundred the planner may otherwise hash every case of the
    network instead of looking hers up in `ix_cases_work_list`. SQLite looks each up
    anyway: the plain table."""
    if not lateral:
        return Case.__table__
    return (
        select(
            Case.id,
            Case.number,
            Case.status,
            Case.risk_level,
            Case.updated_at,
            Case.survivor_id,
            Case.merged_into_id,
        )
        .where(Case.id == party.c.case_id, Case.merged_into_id.is_(None))
        .limit(1)
        .lateral("listed_case")
    )


def _lateral(session: DbSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _plan_for_these_values(session: DbSession) -> None:
    """On PostgreSQL, plan the work list's statements for this request's values, for the
    rest of its transaction. psycopg prepares a statement run five times; five runs later
    PostgreSQL may keep one generic plan, costed for an average institution and date. For
    the work list that plan can be quadratic: with `next_contact` it re-read every
    pending follow-up of hers once per case (225 ms at 2,000 cases, growing with the
    square; bench/work_list.py), where the plan for the values hashes them once.
    Planning anew costs under a millisecond."""
    from sqlalchemy import text

    if _lateral(session):
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def _visible_to_role(subject: Subject) -> Any:
    """`_visible`'s first rule: only an active case role sees any case."""
    from sqlalchemy import false, true

    return true() if works_on_cases(subject) else false()


WORK_COUNTS = ("all", "mine", "unassigned", "overdue")


def work_list(
    session: DbSession,
    subject: Subject,
    wanted: WorkFilter,
    *,
    today: date,
    now: Any,
    offset: int,
    limit: int,
) -> tuple[list[WorkRow], dict[str, int]]:
    """One page of the subject's work list and the counts of its tabs: codes and dates,
    nothing decrypted.

    One pass over her visible cases gives both: the counts as window aggregates over
    the rows the other filters leave, and the page as the first of those rows once the
    ones its own tab (`assigned`, `overdue`) leaves out are sorted last. A second
    statement reads what the page shows of its few rows.
    """
    from sqlalchemy import case as when
    from sqlalchemy import true

    _plan_for_these_values(session)
    query = _WorkQuery(subject, wanted, today, now, lateral=_lateral(session))
    tab = [
        c for c in (query.assigned(), query.overdue if wanted.overdue else None) if c is not None
    ]
    listed = and_(*tab) if tab else true()
    stmt = query.joined(
        select(query.case.c.id, listed, *(count.over() for count in query.counts()))
    ).where(*query.narrowing())
    order = [when((listed, 0), else_=1), *query.order()] if tab else query.order()
    rows = session.execute(stmt.order_by(*order).offset(offset).limit(limit)).all()
    if rows:
        counts = dict(zip(WORK_COUNTS, (int(n) for n in rows[0][2:]), strict=True))
    else:  # past the last page: the counts need a pass of their own
        counts = work_list_counts(session, subject, wanted, today=today, now=now)
    ids = [row[0] for row in rows if row[1]]
    return _work_rows(session, subject, ids, today), counts


def _work_rows(
    session: DbSession, subject: Subject, ids: list[uuid.UUID], today: date
) -> list[WorkRow]:
    from app.cases.care_models import FollowUp

    if not ids:
        return []
    institution_id = subject.institution_id
    next_due = (
        select(func.min(FollowUp.due_on))
        .where(
            FollowUp.case_id == Case.id,
            FollowUp.institution_id == institution_id,
            FollowUp.done_on.is_(None),
        )
        .scalar_subquery()
    )
    stmt = _with_responsible(
        select(
            Case.id,
            Case.number,
            Case.status,
            Case.risk_level,
            Case.updated_at,
            next_due,
            _party_access(institution_id),
            _excluded(institution_id),
        ).where(Case.id.in_(ids), _visible(subject)),
        institution_id,
    )
    rows = {row[0]: row for row in session.execute(stmt).all()}
    found = []
    for case_id in ids:  # in the page's order
        row = rows.get(case_id)
        view = policy.party_view(row[6], bool(row[7])) if row else None
        if row is None or view is None:
            continue
        full = view == policy.FULL
        found.append(
            WorkRow(
                id=row[0],
                number=row[1],
                status=row[2],
                risk_level=row[3] if full else None,
                updated_at=row[4],
                next_contact=row[5],
                full=full,
                responsible=Responsible.of(row[8], row[9], row[10]),
            )
        )
    return found


def work_list_counts(
    session: DbSession, subject: Subject, wanted: WorkFilter, *, today: date, now: Any
) -> dict[str, int]:
    """How many cases each tab would list: all, mine, unassigned (with the other filters),
    and overdue (with the `assigned` tab), in one query."""
    _plan_for_these_values(session)
    query = _WorkQuery(subject, wanted, today, now, lateral=_lateral(session))
    stmt = query.joined(select(*query.counts()))
    row = session.execute(stmt.where(*query.narrowing())).one()
    return dict(zip(WORK_COUNTS, map(int, row), strict=True))


def whole_cases_with_survivor(
    session: DbSession, subject: Subject, case_ids: list[uuid.UUID]
) -> list[Case]:
    """The cases among `case_ids` whose whole record the subject sees, with survivor and
    data key: the only rows of a list whose names may be decrypted."""
    if not case_ids:
        return []
    stmt = (
        select(Case)
        .join(Case.survivor)
        .options(contains_eager(Case.survivor), joinedload(Case.data_key))
        .where(Case.id.in_(set(case_ids)), _visible(subject, policy.FULL))
    )
    return list(session.execute(stmt).unique().scalars())


# ---- the tasks of a caseworker's day ---------------------------------------------------


def due_follow_ups(
    session: DbSession, subject: Subject, today: date, limit: int
) -> list[tuple[Any, str, bool]]:
    """The institution's follow-ups due today or overdue and not done: (row, number, mine)."""
    from app.cases.care_models import FollowUp

    stmt = (
        select(FollowUp, Case.number, _mine(subject))
        .join(Case, Case.id == FollowUp.case_id)
        .where(
            _visible(subject),
            FollowUp.institution_id == subject.institution_id,
            FollowUp.done_on.is_(None),
            FollowUp.due_on <= today,
        )
        .order_by(FollowUp.due_on, FollowUp.id)
        .limit(limit)
    )
    return [(row[0], row[1], bool(row[2])) for row in session.execute(stmt).all()]


def expiring_measures_mine(
    session: DbSession, subject: Subject, today: date, days: int, limit: int
) -> list[tuple[Any, str, bool]]:
    """`expiring_measures`, with whether the case is the subject's own: (row, number, mine)."""
    from app.cases.legal_models import ProtectionMeasure

    stmt = (
        select(ProtectionMeasure, Case.number, _mine(subject))
        .join(Case, Case.id == ProtectionMeasure.case_id)
        .where(*_expiring(subject, today, days))
        .order_by(ProtectionMeasure.ends_on, ProtectionMeasure.id)
        .limit(limit)
    )
    return [(row[0], row[1], bool(row[2])) for row in session.execute(stmt).all()]


@dataclass(frozen=True)
class HighRiskRow:
    id: uuid.UUID
    number: str
    has_plan: bool
    has_active_measure: bool
    last_assessed_at: Any
    mine: bool


def open_high_risk(session: DbSession, subject: Subject, limit: int) -> list[HighRiskRow]:
    """Open high-risk cases whose whole record the institution sees, with what protects
    her (a safety plan, an active measure) and when her risk was last assessed."""
    from app.cases.care_models import RiskAssessment, SafetyPlan
    from app.cases.legal_models import ProtectionMeasure

    last = (
        select(func.max(RiskAssessment.created_at))
        .where(RiskAssessment.case_id == Case.id)
        .scalar_subquery()
    )
    party = _live_parties(subject.institution_id)
    columns = select(
        Case.id,
        Case.number,
        exists().where(SafetyPlan.case_id == Case.id),
        exists().where(ProtectionMeasure.case_id == Case.id, ProtectionMeasure.status == "active"),
        last,
        _mine(subject),
    )
    stmt = (
        _her_cases(columns, subject, party)
        .where(
            party.c.access == policy.FULL,
            ~_excluded(subject.institution_id),
            Case.risk_level == "high",
            Case.status != "closed",
        )
        .order_by(Case.updated_at.desc(), Case.id)
        .limit(limit)
    )
    return [
        HighRiskRow(row[0], row[1], bool(row[2]), bool(row[3]), row[4], bool(row[5]))
        for row in session.execute(stmt).all()
    ]


def recent_rapes(
    session: DbSession, subject: Subject, since: Any, limit: int
) -> list[tuple[uuid.UUID, str, Any, bool]]:
    """Incidents of rape recorded since `since`, not voided, on cases whose whole record
    the institution sees or that it recorded itself: (case id, number, recorded, mine)."""
    from app.cases.models import Incident

    stmt = (
        select(Incident.case_id, Case.number, Incident.created_at, _mine(subject))
        .join(Case, Case.id == Incident.case_id)
        .where(
            _visible(subject, policy.FULL)
            | (_visible(subject) & (Incident.entry_institution_id == subject.institution_id)),
            Incident.gbvims_type == "rape",
            Incident.created_at >= since,
            Incident.voided_at.is_(None),
        )
        .order_by(Incident.created_at.desc())
        .limit(limit)
    )
    return [(row[0], row[1], row[2], bool(row[3])) for row in session.execute(stmt).all()]


# ---- finding cases: search ------------------------------------------------------------


def visible_by_survivor_index(
    session: DbSession, subject: Subject, column_name: str, value: str | Sequence[str]
) -> list[Case]:
    """Cases the subject may see whose survivor has this blind index, oldest first."""
    stmt = (
        select(Case)
        .join(Case.survivor)
        .options(contains_eager(Case.survivor), joinedload(Case.data_key))
        .where(_visible(subject), _index_matches(getattr(Survivor, column_name), value))
        .order_by(Case.created_at)
    )
    return list(session.execute(stmt).unique().scalars())


def visible_by_number(session: DbSession, subject: Subject, number: str) -> list[Case]:
    """The case of that number, or the one that absorbed it in a merge, if visible."""
    found = session.execute(select(Case.id).where(Case.number == number)).scalar_one_or_none()
    if found is None:
        return []
    stmt = select(Case).where(_visible(subject), Case.id == surviving_case_id(session, found))
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


def case_id_by_number(session: DbSession, number: str) -> uuid.UUID | None:
    """The id behind a case number, for the supervisors' audit filter (no case data)."""
    return session.execute(select(Case.id).where(Case.number == number)).scalar_one_or_none()


def party_at_the_time(case_id: Any, institution_id: Any, at: Any) -> Any:
    """SQL: the institution was a live party of the case at that moment (audit reports)."""
    return exists().where(
        CaseParty.case_id == case_id,
        CaseParty.institution_id == institution_id,
        CaseParty.since <= at,
        CaseParty.ended_at.is_(None) | (CaseParty.ended_at > at),
    )


# ---- finding her by a partial name; merges of two records of one woman ----------------


def visible_name_candidates(
    session: DbSession,
    subject: Subject,
    tokens: list[str],
    *,
    limit: int,
    birth_year: int | None = None,
) -> list[tuple[uuid.UUID, int]]:
    """(case id, tokens shared) of the visible cases whose survivor shares a name token,
    most tokens first. A rare name is found from the token index (its cost follows the
    rows that match); a common one ("López" is one survivor in twenty) from the
    institution's own cases, so the cost is the smaller of the two, never the whole table.
    Both plans give the same rows: only the order of the joins differs."""
    from app.cases.record_models import SurvivorNameToken

    if not tokens or not works_on_cases(subject):
        return []
    wanted = sorted(set(tokens))
    shared = func.count().label("shared")
    if _tokens_outnumber_visible(session, subject, wanted):
        own = (
            select(CaseParty.case_id)
            .where(CaseParty.institution_id == subject.institution_id, CaseParty.ended_at.is_(None))
            .distinct()
            .subquery()
        )
        stmt = (
            select(Case.id, shared)
            .select_from(own)
            .join(Case, Case.id == own.c.case_id)
            .join(SurvivorNameToken, SurvivorNameToken.survivor_id == Case.survivor_id)
            # `token || ''`: each survivor's few tokens are read from her own key range
            # (one seek), not sought once per token typed.
            .where(SurvivorNameToken.token.concat("").in_(wanted), Case.merged_into_id.is_(None))
        )
    else:
        stmt = (
            select(Case.id, shared)
            .select_from(SurvivorNameToken)
            .join(Case, Case.survivor_id == SurvivorNameToken.survivor_id)
            .where(SurvivorNameToken.token.in_(wanted), _visible(subject))
        )
    if birth_year is not None:
        stmt = stmt.join(Survivor, Survivor.id == Case.survivor_id).where(
            Survivor.birth_year == birth_year
        )
    stmt = stmt.group_by(Case.id).order_by(shared.desc(), Case.id).limit(limit)
    return [(row[0], int(row[1])) for row in session.execute(stmt).all()]


def _tokens_outnumber_visible(session: DbSession, subject: Subject, tokens: list[str]) -> bool:
    """Whether more token rows match than the institution has live party rows; each
    question reads at most that many index entries."""
    from app.cases.record_models import SurvivorNameToken

    # Counted from the index alone (ended rows too): it only chooses the plan.
    visible = session.execute(
        select(func.count()).where(CaseParty.institution_id == subject.institution_id)
    ).scalar_one()
    beyond = session.execute(
        select(SurvivorNameToken.survivor_id)
        .where(SurvivorNameToken.token.in_(tokens))
        .limit(1)
        .offset(int(visible))
    ).first()
    return beyond is not None


def visible_cases_viewed(
    session: DbSession, subject: Subject, case_ids: list[uuid.UUID]
) -> list[tuple[Case, str]]:
    """The visible cases among `case_ids`, with survivor and data key, and the subject's
    view of each (`full` or `own_parts`), oldest first."""
    if not case_ids:
        return []
    access = _party_access(subject.institution_id)
    stmt = (
        select(Case, access, _excluded(subject.institution_id))
        .join(Case.survivor)
        .options(contains_eager(Case.survivor), joinedload(Case.data_key))
        .where(Case.id.in_(set(case_ids)), _visible(subject))
        .order_by(Case.created_at, Case.id)
    )
    found = []
    for case, party_access, excluded in session.execute(stmt).unique().all():
        view = policy.party_view(party_access, bool(excluded))
        if view is not None:
            found.append((case, view))
    return found


def visible_identities(
    session: DbSession, subject: Subject, case_ids: list[uuid.UUID]
) -> list[Any]:
    """Rows (not objects: a search reads up to 200) of the visible cases among
    `case_ids`: what a result shows of the case, her sealed name, phone and DUI, the
    wrapped data key, and the subject's party access and exclusion."""
    from app.crypto.models import DataKey

    if not case_ids:
        return []
    stmt = (
        select(
            Case.id,
            Case.number,
            Case.status,
            Case.created_at,
            Survivor.id.label("survivor_id"),
            Survivor.birth_year,
            Survivor.given_names_enc,
            Survivor.family_names_enc,
            Survivor.phone_enc,
            Survivor.dui_enc,
            DataKey.id.label("data_key_id"),
            DataKey.wrapped,
            _party_access(subject.institution_id).label("party_access"),
            _excluded(subject.institution_id).label("excluded"),
        )
        .join(Survivor, Survivor.id == Case.survivor_id)
        .join(DataKey, DataKey.id == Case.data_key_id)
        .where(Case.id.in_(set(case_ids)), _visible(subject))
    )
    return list(session.execute(stmt).all())


def surviving_case_id(session: DbSession, case_id: uuid.UUID) -> uuid.UUID:
    """The record a case was merged into (following merges of merges), or itself."""
    seen = {case_id}
    while True:
        into = session.execute(
            select(Case.merged_into_id).where(Case.id == case_id)
        ).scalar_one_or_none()
        if into is None or into in seen:
            return case_id
        seen.add(into)
        case_id = into


def case_by_status_code(session: DbSession, code_key: str | Sequence[str]) -> Case | None:
    """The case her slip's code names, for the public lookup (the PIN is checked next)."""
    return session.execute(
        select(Case).where(_index_matches(Case.status_code_bidx, code_key)).limit(1)
    ).scalar_one_or_none()


def surviving_case(session: DbSession, case: Case) -> Case:
    """The record a case was merged into (her slip of the absorbed one), or the case."""
    if case.merged_into_id is None:
        return case
    return session.get(Case, surviving_case_id(session, case.id)) or case


def case_with_survivor(session: DbSession, case_id: uuid.UUID) -> Case:
    """A case with survivor and data key, for a service that already decided the caller
    may act on it (intake following a merge to the record that stayed; a merge)."""
    stmt = (
        select(Case)
        .join(Case.survivor)
        .options(contains_eager(Case.survivor), joinedload(Case.data_key))
        .where(Case.id == case_id)
    )
    case = session.execute(stmt).unique().scalar_one_or_none()
    if case is None:
        raise NotFound("case not found")
    return case


def live_parties(session: DbSession, case_id: uuid.UUID) -> list[CaseParty]:
    stmt = (
        select(CaseParty)
        .where(CaseParty.case_id == case_id, CaseParty.ended_at.is_(None))
        .order_by(CaseParty.id)
    )
    return list(session.execute(stmt).scalars())


def end_parties(session: DbSession, party_ids: list[int]) -> None:
    """Parties a merge added, ended when it is reverted (kept, for the record's history)."""
    if party_ids:
        session.execute(
            update(CaseParty)
            .where(CaseParty.id.in_(party_ids), CaseParty.ended_at.is_(None))
            .values(ended_at=utcnow())
        )


def merge_queue(session: DbSession, statuses: tuple[str, ...], limit: int = 200) -> list[Any]:
    """Merges in these statuses with the numbers of both cases, oldest request first."""
    from sqlalchemy.orm import aliased

    from app.cases.record_models import CaseMerge

    surviving, absorbed = aliased(Case), aliased(Case)
    stmt = (
        select(CaseMerge, surviving.number, absorbed.number)
        .join(surviving, surviving.id == CaseMerge.surviving_case_id)
        .join(absorbed, absorbed.id == CaseMerge.absorbed_case_id)
        .where(CaseMerge.status.in_(statuses))
        .order_by(CaseMerge.requested_at)
        .limit(limit)
    )
    return list(session.execute(stmt).all())


def view_of(session: DbSession, subject: Subject, case_id: uuid.UUID) -> str | None:
    """The subject's party view of a case it has just loaded through `case_for`."""
    stmt = select(_party_access(subject.institution_id), _excluded(subject.institution_id)).where(
        Case.id == case_id
    )
    row = session.execute(stmt).one_or_none()
    return policy.party_view(row[0], bool(row[1])) if row else None


def survivors_to_reindex(
    session: DbSession, after: uuid.UUID | None, limit: int
) -> list[tuple[Survivor, Case]]:
    """A batch of survivors with their case's data key, in id order (for rebuilding the
    name tokens and phone indexes of existing records: a command, not a request)."""
    stmt = (
        select(Survivor, Case)
        .join(Case, Case.survivor_id == Survivor.id)
        .options(joinedload(Case.data_key))
        .where(Case.purged_at.is_(None))  # nothing of hers is indexed once purged
        .order_by(Survivor.id)
        .limit(limit)
    )
    if after is not None:
        stmt = stmt.where(Survivor.id > after)
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


def _indexed_with_another_key(key_id: str) -> Any:
    # A purged record has no indexes left to recompute, and nothing to decrypt them from.
    return and_(
        or_(Survivor.index_key_id.is_(None), Survivor.index_key_id != key_id),
        Case.purged_at.is_(None),
    )


def _survivors_batch(session: DbSession, condition: Any, limit: int) -> list[tuple[Survivor, Case]]:
    """A batch of survivors (with case and data key) a key rotation still has to
    redo, locked; a row another transaction holds is left for the next batch."""
    stmt = (
        select(Survivor, Case)
        .join(Case, Case.survivor_id == Survivor.id)
        .options(joinedload(Case.data_key))
        .where(condition)
        .order_by(Survivor.id)
        .limit(limit)
        .with_for_update(of=Survivor, skip_locked=True)
    )
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


def _count_survivors_where(session: DbSession, condition: Any) -> int:
    stmt = (
        select(func.count())
        .select_from(Survivor)
        .join(Case, Case.survivor_id == Survivor.id)
        .where(condition)
    )
    return int(session.execute(stmt).scalar_one())


def survivors_indexed_with_another_key(
    session: DbSession, key_id: str, limit: int
) -> list[tuple[Survivor, Case]]:
    """A batch of survivors whose indexes another index key made (`keys rotate-index`)."""
    return _survivors_batch(session, _indexed_with_another_key(key_id), limit)


def count_survivors_indexed_with_another_key(session: DbSession, key_id: str) -> int:
    return _count_survivors_where(session, _indexed_with_another_key(key_id))


def cases_to_rekey(
    session: DbSession, made_before: Any, limit: int, number: str | None = None
) -> list[Case]:
    """Cases (not purged) whose data key was made before `made_before`, with survivor and
    key, locked, oldest key first: the next batch of `keys rekey-cases`."""
    from app.crypto.models import DataKey

    stmt = (
        select(Case)
        .join(DataKey, DataKey.id == Case.data_key_id)
        .options(joinedload(Case.survivor), joinedload(Case.data_key))
        .where(Case.purged_at.is_(None), DataKey.created_at < made_before)
        .order_by(DataKey.created_at, Case.id)
        .limit(limit)
        .with_for_update(of=Case, skip_locked=True)
    )
    if number is not None:
        stmt = stmt.where(Case.number == number)
    return list(session.execute(stmt).unique().scalars())


def count_cases_to_rekey(session: DbSession, made_before: Any, number: str | None = None) -> int:
    from app.crypto.models import DataKey

    stmt = (
        select(func.count())
        .select_from(Case)
        .join(DataKey, DataKey.id == Case.data_key_id)
        .where(Case.purged_at.is_(None), DataKey.created_at < made_before)
    )
    if number is not None:
        stmt = stmt.where(Case.number == number)
    return int(session.execute(stmt).scalar_one())


def cases_sharing_data_key(session: DbSession, data_key_id: uuid.UUID) -> int:
    stmt = select(func.count()).select_from(Case).where(Case.data_key_id == data_key_id)
    return int(session.execute(stmt).scalar_one())


def count_survivors(session: DbSession) -> int:
    return int(session.execute(select(func.count()).select_from(Survivor)).scalar_one())


# ---- retention (app/retention) ---------------------------------------------------------


def purge_candidate_ids(
    session: DbSession, closed_before: Any, erasures: Collection[uuid.UUID]
) -> list[uuid.UUID]:
    """Closed, not held, not purged, not merged cases that closed before `closed_before`
    or whose erasure was approved; grouped by the key that wraps them (one cohort is
    re-keyed once per batch, docs/retention.md)."""
    from app.crypto.models import DataKey

    due = Case.closed_at <= closed_before
    if erasures:
        due = or_(due, Case.id.in_(list(erasures)))
    stmt = (
        select(Case.id)
        .join(DataKey, DataKey.id == Case.data_key_id)
        .where(
            Case.status == policy.CLOSED,
            Case.purged_at.is_(None),
            Case.legal_hold_at.is_(None),
            Case.merged_into_id.is_(None),
            due,
        )
        .order_by(DataKey.kek_id, Case.id)
    )
    return list(session.execute(stmt).scalars())


def cases_to_purge(session: DbSession, case_ids: Collection[uuid.UUID]) -> list[Case]:
    """Those cases with survivor and data key, locked, re-checked: a hold set or a reopening
    since the ids were read keeps the case."""
    stmt = (
        select(Case)
        .join(Case.survivor)
        .options(contains_eager(Case.survivor), joinedload(Case.data_key))
        .where(
            Case.id.in_(list(case_ids)),
            Case.status == policy.CLOSED,
            Case.purged_at.is_(None),
            Case.legal_hold_at.is_(None),
        )
        .order_by(Case.id)
        .with_for_update(of=Case)
    )
    return list(session.execute(stmt).unique().scalars())


def keys_out_of_place(session: DbSession, limit: int) -> list[Case]:
    """Closed cases whose data key is still under a KEK (closed before retention
    cohorts, or when the key file could not be written), and open ones still in a
    cohort: `records purge` puts each where it belongs."""
    from app.crypto.keyring import COHORT_PREFIX
    from app.crypto.models import PURGED_KEK_ID, DataKey

    in_cohort = DataKey.kek_id.startswith(COHORT_PREFIX)
    stmt = (
        select(Case)
        .join(DataKey, DataKey.id == Case.data_key_id)
        .options(contains_eager(Case.data_key))
        .where(
            Case.purged_at.is_(None),
            DataKey.kek_id != PURGED_KEK_ID,
            or_(
                and_(Case.status == policy.CLOSED, ~in_cohort),
                and_(Case.status != policy.CLOSED, in_cohort),
            ),
        )
        .order_by(Case.id)
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


_HELD = (Case.legal_hold_at.is_not(None), Case.purged_at.is_(None))
_PURGED = (Case.purged_at.is_not(None),)


def held_cases(session: DbSession, limit: int = 200, offset: int = 0) -> list[Case]:
    stmt = select(Case).where(*_HELD).order_by(Case.legal_hold_at, Case.number)
    return list(session.execute(stmt.limit(limit).offset(offset)).scalars())


def purged_cases(session: DbSession, limit: int = 200, offset: int = 0) -> list[Case]:
    stmt = select(Case).where(*_PURGED).order_by(Case.purged_at.desc(), Case.number)
    return list(session.execute(stmt.limit(limit).offset(offset)).scalars())


def count_held_and_purged(session: DbSession) -> tuple[int, int]:
    """How many records are held and how many purged (the pages of those lists)."""
    held = session.execute(select(func.count()).select_from(Case).where(*_HELD)).scalar_one()
    purged = session.execute(select(func.count()).select_from(Case).where(*_PURGED)).scalar_one()
    return held, purged


# ---- the cases behind a page of referrals (app/referrals/listing.py) --------------------


@dataclass(frozen=True)
class ReferralCase:
    """What a referral inbox row may learn of the case behind it: the case (number,
    consent, risk, sealed identity and key) and the caller's institution's view of it as
    a live party (None: not a party, or no longer one), and whether she excluded it."""

    case: Case
    view: str | None
    excluded: bool


def cases_behind_referrals(
    session: DbSession, subject: Subject, case_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, ReferralCase]:
    """One query for a page of referrals the referral query already limited to the
    subject's institution (sender or receiver): the caller decides from `view` what to
    decrypt, so a former party, or a receiver not yet a party, is shown codes only."""
    if not case_ids or not works_on_cases(subject):
        return {}
    institution_id = subject.institution_id
    stmt = (
        select(Case, _party_access(institution_id), _excluded(institution_id))
        .join(Case.survivor)
        .options(contains_eager(Case.survivor), joinedload(Case.data_key))
        .where(Case.id.in_(set(case_ids)))
    )
    found = {}
    for case, party_access, excluded in session.execute(stmt).unique().all():
        live = case.merged_into_id is None and case.purged_at is None
        view = policy.party_view(party_access, bool(excluded)) if live else None
        found[case.id] = ReferralCase(case, view, bool(excluded))
    return found


# ---- the breach fast lane and the expiry notice (app/cases/breach.py, measure_notices.py) --


def survivor_district(session: DbSession, case_id: uuid.UUID) -> str:
    """Her district (a code of the 2024 map's districts), for a case already loaded."""
    stmt = select(Survivor.municipality).join(Case, Case.survivor_id == Survivor.id)
    return session.execute(stmt.where(Case.id == case_id)).scalar_one()


def breach_reassessments_mine(
    session: DbSession, subject: Subject, limit: int
) -> list[tuple[Any, str, bool]]:
    """Breached measures of open cases with no risk assessment recorded since the breach,
    on cases whose whole record the institution sees or whose measure it filed itself:
    (measure, case number, mine)."""
    from app.cases.care_models import RiskAssessment
    from app.cases.legal_models import Complaint, ProtectionMeasure

    own = exists().where(
        Complaint.id == ProtectionMeasure.complaint_id,
        Complaint.institution_id == subject.institution_id,
    )
    assessed = exists().where(
        RiskAssessment.case_id == ProtectionMeasure.case_id,
        RiskAssessment.created_at >= ProtectionMeasure.breached_at,
    )
    stmt = (
        select(ProtectionMeasure, Case.number, _mine(subject))
        .join(Case, Case.id == ProtectionMeasure.case_id)
        .where(
            _visible(subject, policy.FULL) | (_visible(subject) & own),
            ProtectionMeasure.breached_at.is_not(None),
            Case.status != "closed",
            ~assessed,
        )
        .order_by(ProtectionMeasure.breached_at, ProtectionMeasure.id)
        .limit(limit)
    )
    return [(row[0], row[1], bool(row[2])) for row in session.execute(stmt).all()]


def expiring_measures_to_notify(
    session: DbSession, today: date, days: int
) -> list[tuple[Any, str]]:
    """Active measures of live records ending within `days` whose expiry notice has not
    gone out: (measure, case number). A job's query: no caller, numbers only."""
    from app.cases.legal_models import ProtectionMeasure

    stmt = (
        select(ProtectionMeasure, Case.number)
        .join(Case, Case.id == ProtectionMeasure.case_id)
        .where(
            Case.merged_into_id.is_(None),
            Case.purged_at.is_(None),
            ProtectionMeasure.status == "active",
            ProtectionMeasure.ends_on.between(today, today + timedelta(days=days)),
            ProtectionMeasure.expiry_notified_at.is_(None),
        )
        .order_by(ProtectionMeasure.ends_on, ProtectionMeasure.id)
    )
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


# ---- the aggressor's repeat signal (app/cases/aggressors.py) ----------------------------


def _repeat_pairs(own: Any, other: Any) -> Any:
    """SQL: `other` is an aggressor of another live case whose DUI index or name-and-birth
    index equals one of `own`'s (never a survivor's: his purposes are his own)."""
    from sqlalchemy.orm import aliased

    other_case = aliased(Case)
    same_dui = and_(own.dui_bidx.is_not(None), own.dui_bidx == other.dui_bidx)
    same_name = and_(own.name_dob_bidx.is_not(None), own.name_dob_bidx == other.name_dob_bidx)
    return (
        select(
            own.case_id.label("own_case_id"),
            other.case_id.label("other_case_id"),
            own.indexed_at.label("own_at"),
            other.indexed_at.label("other_at"),
        )
        .select_from(own)
        .join(other, and_(other.case_id != own.case_id, or_(same_dui, same_name)))
        .join(other_case, other_case.id == other.case_id)
        .where(other_case.merged_into_id.is_(None), other_case.purged_at.is_(None))
    )


def repeat_aggressor_matches(session: DbSession, case_id: uuid.UUID) -> list[tuple[Any, Any]]:
    """(the other case, when the two rows matched) for each pair of this case's aggressors
    and another live case's. The other case's id stays in the service: it only counts."""
    from sqlalchemy.orm import aliased

    from app.cases.aggressor_models import Aggressor

    own, other = aliased(Aggressor), aliased(Aggressor)
    stmt = _repeat_pairs(own, other).where(own.case_id == case_id)
    return [(row[1], max(row[2], row[3])) for row in session.execute(stmt).all()]


def repeat_aggressor_cases(session: DbSession, subject: Subject, limit: int) -> list[Any]:
    """The open cases whose whole record the institution sees and whose aggressor matches
    another live case's: (id, number, when they matched, last assessment, mine) for the
    task list; the other case's id is never returned."""
    from sqlalchemy.orm import aliased

    from app.cases.aggressor_models import Aggressor
    from app.cases.care_models import RiskAssessment

    own, other = aliased(Aggressor), aliased(Aggressor)
    last = (
        select(func.max(RiskAssessment.created_at))
        .where(RiskAssessment.case_id == Case.id)
        .scalar_subquery()
    )
    pairs = _repeat_pairs(own, other).subquery("pairs")
    party = _live_parties(subject.institution_id)
    columns = select(
        Case.id,
        Case.number,
        func.max(pairs.c.own_at),
        func.max(pairs.c.other_at),
        last,
        _mine(subject),
    )
    stmt = (
        _her_cases(columns, subject, party)
        .join(pairs, pairs.c.own_case_id == Case.id)
        .where(
            party.c.access == policy.FULL,
            ~_excluded(subject.institution_id),
            Case.purged_at.is_(None),
            Case.status != "closed",
        )
        .group_by(Case.id, Case.number)
        .order_by(Case.number)
        .limit(limit)
    )
    return list(session.execute(stmt).all())


def aggressors_indexed_with_another_key(session: DbSession, key_id: str, limit: int) -> list[Any]:
    """A batch of aggressors whose indexes another index key made, with their case's data
    key (for `keys rotate-index`), locked like the survivors' batch."""
    from app.cases.aggressor_models import Aggressor

    stmt = (
        select(Aggressor, Case)
        .join(Case, Case.id == Aggressor.case_id)
        .options(joinedload(Case.data_key))
        .where(_aggressor_with_another_key(Aggressor, key_id))
        .order_by(Aggressor.id)
        .limit(limit)
        .with_for_update(of=Aggressor, skip_locked=True)
    )
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


def _aggressor_with_another_key(model: Any, key_id: str) -> Any:
    return and_(
        or_(model.index_key_id.is_(None), model.index_key_id != key_id),
        Case.purged_at.is_(None),
    )


def count_aggressors_indexed_with_another_key(session: DbSession, key_id: str) -> int:
    from app.cases.aggressor_models import Aggressor

    stmt = (
        select(func.count())
        .select_from(Aggressor)
        .join(Case, Case.id == Aggressor.case_id)
        .where(_aggressor_with_another_key(Aggressor, key_id))
    )
    return int(session.execute(stmt).scalar_one())


# ---- the justice pathway: hearings on the parties' task lists --------------------------


def upcoming_hearings(
    session: DbSession, subject: Subject, now: datetime, until: datetime, limit: int
) -> list[tuple[Any, str, bool]]:
    """Hearings still to come before `until`, on cases whose complaint the subject's
    institution sees (the whole record, or the complaint it filed): (row, number, mine)."""
    from app.cases.justice_models import Hearing
    from app.cases.legal_models import Complaint

    own = exists().where(
        Complaint.id == Hearing.complaint_id,
        Complaint.institution_id == subject.institution_id,
    )
    stmt = (
        select(Hearing, Case.number, _mine(subject))
        .join(Case, Case.id == Hearing.case_id)
        .where(
            _visible(subject, policy.FULL) | (_visible(subject) & own),
            Hearing.outcome.is_(None),
            Hearing.starts_at > now,
            Hearing.starts_at <= until,
        )
        .order_by(Hearing.starts_at, Hearing.id)
        .limit(limit)
    )
    return [(row[0], row[1], bool(row[2])) for row in session.execute(stmt).all()]


# ---- survivor codes for statistics (app/cases/survivor_codes.py) ------------------------


def _coded_with_another_key(key_id: str) -> Any:
    # A purged record has no identity left to make her code from.
    return and_(
        or_(Survivor.stat_key_id.is_(None), Survivor.stat_key_id != key_id),
        Case.purged_at.is_(None),
    )


def survivors_coded_with_another_key(
    session: DbSession, key_id: str, limit: int
) -> list[tuple[Survivor, Case]]:
    """A batch of survivors whose statistics code another statistics key made, or who
    have none yet (`keys rotate-statistics`, `keys statistics-codes`)."""
    return _survivors_batch(session, _coded_with_another_key(key_id), limit)


def count_survivors_coded_with_another_key(session: DbSession, key_id: str) -> int:
    return _count_survivors_where(session, _coded_with_another_key(key_id))
