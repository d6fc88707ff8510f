"""The caseload over the API: who is responsible for a case, moving a leaver's cases,
the institution's workers, and the caller's tasks. Ids only in URLs and answers."""

from __future__ import annotations

from dataclasses import asdict

from flask import Response

from app.api import bp
from app.api.helpers import answer, api_caller, json_body, load
from app.cases import caseload
from app.cases.present import iso, responsible_record
from app.cases.schemas import (
    AssignmentIn,
    AssignmentOut,
    CaseloadMoveIn,
    CaseloadMoveOut,
    CaseloadOut,
    TaskListOut,
)
from app.core.ids import parse_uuid
from app.crypto.service import get_keyring
from app.extensions import db
from app.referrals.tasks import task_list


@bp.post("/cases/<case_id>/assignment")
def change_assignment(case_id: str) -> Response:
    data = load(AssignmentIn, json_body())
    done = caseload.change_assignment(
        db.session,
        get_keyring(),
        api_caller(),
        parse_uuid(case_id),
        data["action"],
        data.get("user_id"),
    )
    payload = {
        "case_id": str(done.case_id),
        "number": done.number,
        "assigned_to": responsible_record(done.responsible),
        "assigned_at": iso(done.assigned_at),
        "changed": done.changed,
    }
    return answer(AssignmentOut, payload)


@bp.post("/caseload/move")
def move_caseload() -> Response:
    data = load(CaseloadMoveIn, json_body())
    moved = caseload.move_caseload(
        db.session, get_keyring(), api_caller(), data["from_user_id"], data["to_user_id"]
    )
    return answer(CaseloadMoveOut, {"moved": moved})


@bp.get("/caseload")
def workers() -> Response:
    found, unassigned = caseload.workers(db.session, api_caller())
    return answer(CaseloadOut, {"items": [asdict(w) for w in found], "unassigned": unassigned})


@bp.get("/tasks")
def tasks() -> Response:
    items = [
        {
            **asdict(task),
            "case_id": str(task.case_id),
            "due": iso(task.due),
            "referral_id": str(task.referral_id) if task.referral_id else None,
        }
        for task in task_list(db.session, api_caller())
    ]
    return answer(TaskListOut, {"items": items})
