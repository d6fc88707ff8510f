"""A caseworker's task list: the referrals her institution must answer, with the case
tasks of `app.cases.caseload` (follow-ups, measures, high risk, rape within 72 h).

It lives here because referrals build on cases: the case side cannot ask for referrals.
Six queries in all, whatever the size of her caseload.
"""

from __future__ import annotations

from app.auth.caller import Caller
from app.cases import caseload
from app.core.db import DbSession
from app.referrals.service import list_referrals


def task_list(session: DbSession, caller: Caller) -> list[caseload.Task]:
    """Everything she should do next, most urgent kind first; each row names a case by
    its id and number only."""
    tasks = caseload.case_tasks(session, caller)
    incoming = list_referrals(session, caller, "incoming", "sent", limit=caseload.TASK_LIMIT)
    tasks += [
        caseload.Task(
            "referral_to_answer",
            referral.case_id,
            number,
            referral.due_on,
            mine=False,  # nobody of hers is responsible before her institution accepts
            detail=referral.urgency,
            referral_id=referral.id,
        )
        for referral, number in incoming
    ]
    return caseload.ordered(tasks)
