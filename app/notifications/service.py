"""Creating and listing notifications."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select

from app.auth.models import User
from app.core.db import DbSession
from app.core.i18n import N_
from app.notifications.models import Notification

# Shown translated on the dashboard (`notification_label`); kept here in Spanish.
KINDS = {
    "break_glass": N_("Acceso de emergencia a un expediente"),
    "referral_new": N_("Nueva remisión recibida"),
    "referral_answered": N_("Remisión respondida"),
    "referral_overdue": N_("Remisión vencida"),
    "high_risk": N_("Caso de riesgo alto"),
    "case_join": N_("Otra institución se unió a un expediente"),
    "identity_conflict": N_("Conflicto de identidad en un registro"),
    "consent_revoked": N_("La sobreviviente retiró su consentimiento para compartir"),
    "read_limit": N_("Una cuenta superó el límite de lecturas de expedientes por hora"),
    "write_limit": N_("Una cuenta superó el límite de registros en expedientes por hora"),
    "case_reopened": N_("Un expediente cerrado se reabrió por un hecho nuevo"),
    "case_assigned": N_("Se le asignó un expediente"),
    "caseload_moved": N_("Se le traspasaron los expedientes de otra persona"),
    "case_merge": N_("Dos expedientes de la misma persona: unión pedida o aprobada"),
    "case_merge_reverted": N_("Se deshizo la unión de dos expedientes"),
    "legal_hold": N_("Se puso o levantó una retención legal de un expediente"),
    "erasure_request": N_("Solicitud de supresión de un expediente por decidir"),
    "records_purged": N_("Expedientes depurados al vencer su plazo de conservación"),
    "measure_breached": N_(
        "Medida de protección incumplida: nueva valoración de riesgo antes de 24 horas"
    ),
    # To a police unit of her municipality that is not a party: it gets no access.
    "measure_breached_nearby": N_(
        "Medida de protección incumplida en su municipio: comuníquese con la institución"
        " que lo registró"
    ),
    "measure_expiring": N_("Una medida de protección vence en una semana"),
    "transfer_requested": N_("Se le propone coordinar la atención de un expediente"),
    "transfer_answered": N_("Traspaso de la coordinación respondido"),
    "transfer_cancelled": N_("Se canceló el traspaso de la coordinación"),
}


def notify_user(
    session: DbSession,
    user_id: int,
    kind: str,
    *,
    case_id: uuid.UUID | None = None,
    reference: str | None = None,
) -> Notification:
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    row = Notification(user_id=user_id, kind=kind, case_id=case_id, reference=reference)
    session.add(row)
    return row


def notify_institution(
    session: DbSession,
    institution_id: int,
    kind: str,
    *,
    case_id: uuid.UUID | None = None,
    reference: str | None = None,
) -> Notification:
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    row = Notification(
        institution_id=institution_id, kind=kind, case_id=case_id, reference=reference
    )
    session.add(row)
    return row


def notify_supervisors(
    session: DbSession,
    kind: str,
    *,
    case_id: uuid.UUID | None = None,
    reference: str | None = None,
    except_user_id: int | None = None,
) -> None:
    """Every active supervisor hears of it (but the one who did it, when she is one)."""
    stmt = select(User.id).where(User.role == "supervisor", User.active.is_(True))
    if except_user_id is not None:
        stmt = stmt.where(User.id != except_user_id)
    for user_id in session.execute(stmt).scalars():
        notify_user(session, user_id, kind, case_id=case_id, reference=reference)


def notifications_for(session: DbSession, user: User, limit: int = 50) -> list[Notification]:
    stmt = (
        select(Notification)
        .where(
            or_(Notification.user_id == user.id, Notification.institution_id == user.institution_id)
        )
        .order_by(Notification.created_at.desc())
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


def mark_read(session: DbSession, user: User, notification_id: int) -> None:
    from app.core.errors import NotFound
    from app.core.time import utcnow

    note = session.get(Notification, notification_id)
    if note is None or not (
        note.user_id == user.id
        or (note.user_id is None and note.institution_id == user.institution_id)
    ):
        raise NotFound("notification not found")
    note.read_at = note.read_at or utcnow()
