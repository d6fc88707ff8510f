"""The caseload: one responsible worker per case in each party institution, and the
tasks of a caseworker's day.

The first responsible is the worker who brought the case in (`access.add_party`: she
opened it, joined it or accepted its referral). Afterwards a worker takes a case nobody
active holds; the institution's lead hands a case to another worker, leaves it without
one, or moves a leaver's whole caseload. The rules are `policy.may_take` and its
neighbours; every change is audited (`case_assign`) and told to the new responsible.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from flask_babel import gettext
from sqlalchemy import or_, select

from app.audit.service import audit
from app.auth.caller import Caller
from app.auth.models import CASE_ROLES, User
from app.cases import access, policy
from app.cases.breach import reassessment_due_at
from app.cases.complaints import EXPIRY_WARNING_DAYS
from app.cases.justice_policy import UPCOMING_DAYS
from app.cases.service import require_case_role
from app.core.db import DbSession
from app.core.errors import Conflict, Forbidden, InvalidInput
from app.core.i18n import N_
from app.core.time import local_today, utcnow
from app.crypto.keyring import KeyRing
from app.notifications.service import notify_user

NOT_A_WORKER = N_("Debe ser una persona activa de su institución que atiende casos.")


class AlreadyAssigned(Conflict):
    code = "already_assigned"

    def __init__(self) -> None:
        super().__init__(
            gettext(
                "Otra persona ya es responsable de este caso: pida a la persona coordinadora "
                "que se lo reasigne."
            )
        )


@dataclass(frozen=True)
class Assignment:
    case_id: uuid.UUID
    number: str
    responsible: access.Responsible | None
    assigned_at: datetime | None
    changed: bool


def is_active_worker(user: User, institution_id: int) -> bool:
    return policy.is_active_worker(
        user.active,
        user.role in CASE_ROLES,
        not user.awaiting_approval,
        user.institution_id,
        institution_id,
    )


def is_lead(user: User, institution_id: int) -> bool:
    return policy.is_lead(user.lead, is_active_worker(user, institution_id))


def caller_is_lead(caller: Caller) -> bool:
    """Read from the account of this request: a flag taken away counts at once."""
    return is_lead(caller.user, caller.institution_id)


def _responsible(user: User | None, institution_id: int) -> access.Responsible | None:
    if user is None:
        return None
    return access.Responsible(user.id, user.display_name, is_active_worker(user, institution_id))


def _worker(session: DbSession, caller: Caller, user_id: int, field: str) -> User:
    """An active case-role worker of the caller's institution, or 422 on that field."""
    user = session.get(User, user_id)
    if user is None or not is_active_worker(user, caller.institution_id):
        raise InvalidInput(
            "not an active worker of the institution", {field: [gettext(NOT_A_WORKER)]}
        )
    return user


def assignment_actions(caller: Caller, responsible: access.Responsible | None) -> dict[str, bool]:
    """What the case page offers: take the case, hand it to someone (policy)."""
    return policy.assignment_actions(
        caller.id,
        is_active_worker(caller.user, caller.institution_id),
        caller_is_lead(caller),
        responsible.id if responsible else None,
        bool(responsible and responsible.active),
    )


def change_assignment(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    action: str,
    user_id: int | None = None,
) -> Assignment:
    """`take` the case for herself, or (the lead) `assign` it to `user_id` or to nobody."""
    require_case_role(caller)
    # Reading is enough: who is responsible is not part of her record, and a closed case
    # still needs someone to answer for it.
    case = access.case_for(session, caller, case_id, need=policy.READ).case
    row = access.assignment_for_update(session, case.id, caller.institution_id)
    holder = session.get(User, row.user_id) if row is not None and row.user_id else None
    target = _target(session, caller, action, user_id, holder)
    if (holder.id if holder else None) == (target.id if target else None):
        return Assignment(
            case.id,
            case.number,
            _responsible(holder, caller.institution_id),
            row.assigned_at if row else None,
            False,
        )
    row = _assign(session, row, case.id, caller, target)
    previous = holder.id if holder else "none"
    audit(
        session,
        ring.audit_key,
        caller,
        "case_assign",
        object_type="case",
        object_id=case.id,
        case_id=case.id,
        detail=f"{action}:{target.id if target else 'none'};from={previous}",
    )
    if target is not None and target.id != caller.id:
        notify_user(session, target.id, "case_assigned", case_id=case.id, reference=case.number)
    session.flush()
    return Assignment(
        case.id, case.number, _responsible(target, caller.institution_id), row.assigned_at, True
    )


def _target(
    session: DbSession, caller: Caller, action: str, user_id: int | None, holder: User | None
) -> User | None:
    lead = caller_is_lead(caller)
    if action == policy.TAKE:
        holder_active = holder is not None and is_active_worker(holder, caller.institution_id)
        if holder is not None and holder.id == caller.id:
            return caller.user
        active = is_active_worker(caller.user, caller.institution_id)
        if not policy.may_take(active, lead, holder_active):
            raise AlreadyAssigned()
        return caller.user
    if not policy.may_reassign(lead):
        raise Forbidden(gettext("Solo la persona coordinadora de su institución reasigna casos."))
    return None if user_id is None else _worker(session, caller, user_id, "user_id")


def _assign(
    session: DbSession, row: Any, case_id: uuid.UUID, caller: Caller, target: User | None
) -> Any:
    from app.cases.record_models import CaseAssignment

    if row is None:  # a party from before assignments were kept
        row = CaseAssignment(case_id=case_id, institution_id=caller.institution_id)
        session.add(row)
    row.user_id = target.id if target else None
    row.assigned_by_user_id = caller.id
    row.assigned_at = utcnow()
    return row


def move_caseload(
    session: DbSession, ring: KeyRing, caller: Caller, from_user_id: int, to_user_id: int
) -> int:
    """The lead gives every case one worker holds in the institution to another (she is
    leaving, or away): one audit row per case, one notice to the new responsible."""
    require_case_role(caller)
    if not policy.may_move_caseload(caller_is_lead(caller)):
        raise Forbidden(gettext("Solo la persona coordinadora de su institución mueve casos."))
    leaver = session.get(User, from_user_id)
    if leaver is None or leaver.institution_id != caller.institution_id:
        raise InvalidInput(
            "not a user of the institution",
            {"from_user_id": [gettext("Esa persona no es de su institución.")]},
        )
    if from_user_id == to_user_id:
        raise InvalidInput("same worker", {"to_user_id": [gettext("Elija a otra persona.")]})
    target = _worker(session, caller, to_user_id, "to_user_id")
    held = access.held_assignments(session, caller, from_user_id)
    for row, _number in held:
        _assign(session, row, row.case_id, caller, target)
        audit(
            session,
            ring.audit_key,
            caller,
            "case_assign",
            object_type="case",
            object_id=row.case_id,
            case_id=row.case_id,
            detail=f"move:{target.id};from={from_user_id}",
        )
    if held and target.id != caller.id:
        notify_user(session, target.id, "caseload_moved", reference=str(len(held)))
    session.flush()
    return len(held)


@dataclass(frozen=True)
class WorkerLoad:
    id: int
    name: str
    active: bool
    lead: bool
    open_cases: int


def workers(session: DbSession, caller: Caller) -> tuple[list[WorkerLoad], int]:
    """The institution's workers with their open cases (leavers too, while they hold
    some), and the open cases without a responsible."""
    require_case_role(caller)
    loads = access.open_caseloads(session, caller)
    holders = [user_id for user_id in loads if user_id is not None]
    stmt = (
        select(User)
        .where(
            or_(
                (User.institution_id == caller.institution_id)
                & User.role.in_(sorted(CASE_ROLES))
                & User.active.is_(True),
                User.id.in_(holders),
            )
        )
        .order_by(User.display_name, User.id)
    )
    found = [
        WorkerLoad(
            user.id,
            user.display_name,
            is_active_worker(user, caller.institution_id),
            is_lead(user, caller.institution_id),
            loads.get(user.id, 0),
        )
        for user in session.execute(stmt).scalars()
    ]
    return found, loads.get(None, 0)


def assignees(session: DbSession, caller: Caller) -> list[WorkerLoad]:
    """Who the lead may hand a case to: the institution's active workers (no counts)."""
    require_case_role(caller)
    stmt = (
        select(User)
        .where(
            User.institution_id == caller.institution_id,
            User.role.in_(sorted(CASE_ROLES)),
            User.active.is_(True),
            User.approved_at.is_not(None),
        )
        .order_by(User.display_name, User.id)
    )
    return [
        WorkerLoad(user.id, user.display_name, True, is_lead(user, caller.institution_id), 0)
        for user in session.execute(stmt).scalars()
        if is_active_worker(user, caller.institution_id)
    ]


# ---- the tasks of her day --------------------------------------------------------------

RAPE_WINDOW = timedelta(hours=72)  # PEP and emergency contraception work within 72 h
REASSESS_AFTER = timedelta(days=30)
TASK_LIMIT = 100  # per kind: the work list has the rest
TASK_ORDER = (
    "recent_rape",
    "breach_reassessment",
    "referral_to_answer",
    "follow_up_overdue",
    "follow_up_today",
    "measure_expiring",
    "hearing_upcoming",
    "high_risk_unprotected",
    "repeat_aggressor",
    "reassessment_due",
)


@dataclass(frozen=True)
class Task:
    """One thing to do on one case: codes and dates, never her name."""

    kind: str
    case_id: uuid.UUID
    case_number: str
    due: date | datetime | None
    mine: bool
    detail: str | None = None  # a code: the channel, the measure, the urgency
    referral_id: uuid.UUID | None = None
    overdue: bool = False  # past its deadline (a breach's 24 h)


def case_tasks(
    session: DbSession,
    caller: Caller,
    today: date | None = None,
    now: datetime | None = None,
) -> list[Task]:
    """The case side of her task list, four queries over her institution's visible cases
    (the referrals to answer are added by `app.referrals.tasks`)."""
    require_case_role(caller)
    today, now = today or local_today(), now or utcnow()
    tasks = [
        Task("recent_rape", case_id, number, at, mine)
        for case_id, number, at, mine in access.recent_rapes(
            session, caller, now - RAPE_WINDOW, TASK_LIMIT
        )
    ]
    tasks += [
        Task(
            "follow_up_today" if row.due_on == today else "follow_up_overdue",
            row.case_id,
            number,
            row.due_on,
            mine,
            row.channel,
        )
        for row, number, mine in access.due_follow_ups(session, caller, today, TASK_LIMIT)
    ]
    tasks += [
        Task("measure_expiring", row.case_id, number, row.ends_on, mine, row.measure)
        for row, number, mine in access.expiring_measures_mine(
            session, caller, today, EXPIRY_WARNING_DAYS, TASK_LIMIT
        )
    ]
    tasks += breach_reassessment_tasks(session, caller, now)
    tasks += _hearing_tasks(session, caller, now)
    for case in access.open_high_risk(session, caller, TASK_LIMIT):
        if policy.unprotected(case.has_plan, case.has_active_measure):
            tasks.append(Task("high_risk_unprotected", case.id, case.number, None, case.mine))
        if policy.needs_reassessment(case.last_assessed_at, now, REASSESS_AFTER):
            tasks.append(
                Task("reassessment_due", case.id, case.number, case.last_assessed_at, case.mine)
            )
    return tasks + repeat_aggressor_tasks(session, caller)


def repeat_aggressor_tasks(session: DbSession, caller: Caller) -> list[Task]:
    """Reassess her risk: her aggressor appears in another record since it was assessed
    (no date: the other record's would show through)."""
    from app.cases.aggressors import reassessments_after_signal

    return [
        Task("repeat_aggressor", row.case_id, row.case_number, None, row.mine)
        for row in reassessments_after_signal(session, caller, TASK_LIMIT)
    ]


def breach_reassessment_tasks(session: DbSession, caller: Caller, now: datetime) -> list[Task]:
    """A new risk assessment within 24 h of each breach no assessment has followed yet."""
    tasks = []
    for row, number, mine in access.breach_reassessments_mine(session, caller, TASK_LIMIT):
        due = reassessment_due_at(row.breached_at)
        tasks.append(
            Task(
                "breach_reassessment",
                row.case_id,
                number,
                due,
                mine,
                row.measure,
                overdue=now > due,
            )
        )
    return tasks


def _hearing_tasks(session: DbSession, caller: Caller, now: datetime) -> list[Task]:
    """The parties' hearings of the coming week (the justice pathway)."""
    until = now + timedelta(days=UPCOMING_DAYS)
    return [
        Task("hearing_upcoming", row.case_id, number, row.starts_at, mine, row.kind)
        for row, number, mine in access.upcoming_hearings(session, caller, now, until, TASK_LIMIT)
    ]


def ordered(tasks: list[Task]) -> list[Task]:
    """Most urgent kind first; hers before the others' within a kind (stable)."""
    return sorted(tasks, key=lambda task: (TASK_ORDER.index(task.kind), not task.mine))
