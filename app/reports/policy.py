"""Who may see what of the observatory. Pure functions of the user.

De-identified counts and indicators are for every user of the network. The
dashboard, the printable report and the incident-level export are for supervisors:
an incident-level file is still a list of real events, so it goes only to those who
answer for the network's data, and each download is audited.
"""

from __future__ import annotations

from app.auth.models import User
from app.core.errors import Forbidden


def may_read_statistics(user: User) -> bool:
    return user.active


def may_view_reports(user: User) -> bool:
    return user.active and user.role == "supervisor"


def may_export_incidents(user: User) -> bool:
    return may_view_reports(user)


def require_export(user: User) -> None:
    if not may_export_incidents(user):
        raise Forbidden("only supervisors export incident data")
