"""The rules of a denuncia's justice pathway, as data and pure functions.

received → forwarded (to the FGR) → requerimiento (the prosecutor's formal accusation)
→ hearings → sentenced | dismissed. Each move names the roles that make it; the
services in `justice.py` ask these before they change anything.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.i18n import N_

RECEIVED, FORWARDED, REQUERIMIENTO, HEARINGS = "received", "forwarded", "requerimiento", "hearings"
SENTENCED, DISMISSED = "sentenced", "dismissed"
STATUSES = (RECEIVED, FORWARDED, REQUERIMIENTO, HEARINGS, SENTENCED, DISMISSED)
FINAL = frozenset({SENTENCED, DISMISSED})


@dataclass(frozen=True)
class Move:
    from_status: str
    to_status: str
    roles: frozenset[str]


MOVES = {
    # The PNC forwards the complaint it received; the FGR may record that it has it.
    "forward": Move(RECEIVED, FORWARDED, frozenset({"pnc_agent", "prosecutor_staff"})),
    "file_requerimiento": Move(FORWARDED, REQUERIMIENTO, frozenset({"prosecutor_staff"})),
    "sentence": Move(HEARINGS, SENTENCED, frozenset({"court_staff"})),
    "dismiss": Move(HEARINGS, DISMISSED, frozenset({"court_staff"})),
}
SCHEDULE_HEARING = "schedule_hearing"  # the move a first hearing makes (requerimiento → hearings)
# LEIV art. 58: no conciliation or mediation in cases of violence against women. Asked
# for, it is refused with the reason, whoever asks and whatever the complaint's state.
PROHIBITED_ACTIONS = frozenset({"conciliate", "mediate"})
PROHIBITED_MESSAGE = N_(
    "La conciliación y la mediación están prohibidas en los casos de violencia contra "
    "las mujeres (LEIV, art. 58)."
)
ACTIONS = (*MOVES, *sorted(PROHIBITED_ACTIONS))

HEARING_ROLES = frozenset({"prosecutor_staff", "court_staff"})
SCHEDULABLE = frozenset({REQUERIMIENTO, HEARINGS})
HEARING_KINDS = ("initial", "preliminary", "sentencing", "measures")
HEARING_OUTCOMES = ("held", "postponed", "suspended")
UPCOMING_DAYS = 7  # a hearing is on the parties' task lists for the week before it

# Which file number each role sets.
NUMBER_ROLES = {"fgr_number": "prosecutor_staff", "court_number": "court_staff"}


def is_prohibited(action: str) -> bool:
    return action in PROHIBITED_ACTIONS


def may_make(action: str, role: str) -> bool:
    move = MOVES.get(action)
    return move is not None and role in move.roles


def allowed_from(action: str, status: str) -> bool:
    return MOVES[action].from_status == status


def moves_for(role: str, status: str) -> list[str]:
    """The moves the case page offers this role on a complaint in `status`."""
    return [a for a, move in MOVES.items() if role in move.roles and move.from_status == status]


def may_set_number(field: str, role: str) -> bool:
    return NUMBER_ROLES.get(field) == role


def may_schedule(role: str) -> bool:
    return role in HEARING_ROLES


def schedulable(status: str) -> bool:
    return status in SCHEDULABLE


def status_after_hearing(status: str) -> str:
    """A first hearing moves the complaint into its hearings; later ones leave it there."""
    return HEARINGS if status == REQUERIMIENTO else status
