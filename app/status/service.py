"""The survivor's own lookup: the code and PIN from her slip give the stage of her case
and the next step, in plain Spanish, and nothing else.

Threats, and what answers them:
- Guessing codes or PINs: wrong pairs are counted per code (here, in the limiter's
  storage, shared by every worker) and per address (Flask-Limiter on the routes);
  after ten wrong tries the answer is 429 for a while.
- Learning that a code exists: an unknown code and a wrong PIN get the same answer,
  and both cost one argon2 verification (a dummy hash for unknown codes).
- Someone else reading the slip: the answer names no institution, person, date or
  place; a shelter referral is not called one.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext
from sqlalchemy import exists, select

from app.auth.passwords import verify_password
from app.cases import access
from app.cases.justice_models import Hearing, HearingNotice
from app.cases.legal_models import Complaint, ProtectionMeasure
from app.cases.models import Case
from app.cases.service import verify_status_pin
from app.core.db import DbSession
from app.core.errors import DomainError, NotFound
from app.core.i18n import N_
from app.core.time import LOCAL_TZ, utcnow
from app.crypto.blind_index import status_code_probes
from app.crypto.keyring import KeyRing
from app.referrals.models import Referral

LIVE_REFERRAL = ("sent", "accepted", "in_progress")
MAX_WRONG_TRIES = 10
WINDOW_SECONDS = 15 * 60
PER_ADDRESS_LIMIT = f"{MAX_WRONG_TRIES} per 15 minutes"
NOT_FOUND_MESSAGE = N_("No encontramos un caso con ese código y PIN.")
_NOT_CODE_CHARS = re.compile(r"[^0-9A-Z]")

# What the survivor reads when her case has been referred: the service, never the place.
# Marked for the catalogue and said in her language when the stage is made.
REFERRED_TO = {
    "medical": N_("remitida a salud"),
    "forensic_exam": N_("remitida a medicina legal"),
    "psychological": N_("remitida a atención psicológica"),
    "legal_aid": N_("remitida a asesoría legal"),
    "police_complaint": N_("remitida a la policía"),
    "prosecution": N_("remitida a la Fiscalía"),
    "protection_measures": N_("remitida para medidas de protección"),
    "social_support": N_("remitida a apoyo social"),
    "economic_empowerment": N_("remitida a apoyo económico"),
    "child_protection": N_("remitida a protección de la niñez"),
}
REFERRED_ELSEWHERE = N_("remitida a otra institución de la red")
# Each ends with the 911 line where it applies (one text each, for the translators).
NEXT_STEPS = {
    "closed": N_(
        "Si necesita ayuda otra vez, acuda a cualquier institución de la red: "
        "su caso se puede reabrir."
    ),
    "measures": N_(
        "Si la persona agresora no cumple las medidas, llame al 911 o acuda a la "
        "policía de inmediato."
    ),
    "referral_sent": N_(
        "La institución que recibió la remisión se comunicará con usted. "
        "Si está en peligro, llame al 911."
    ),
    "referral_accepted": N_(
        "Acuda a la cita que le indicaron. Si no puede ir, avise a la "
        "institución. Si está en peligro, llame al 911."
    ),
    "complaint": N_(
        "Su denuncia sigue su trámite; la Fiscalía puede citarla. Si está en peligro, llame al 911."
    ),
    "follow_up": N_(
        "Una persona de la red se comunicará con usted para dar seguimiento. "
        "Si está en peligro, llame al 911."
    ),
    "open": N_(
        "Una persona de la red se comunicará con usted pronto. Si está en peligro, llame al 911."
    ),
}
STAGES = {
    "closed": N_("caso cerrado"),
    "measures": N_("medidas de protección vigentes"),
    "complaint": N_("denuncia recibida"),
    "follow_up": N_("en seguimiento"),
    "open": N_("caso abierto"),
}


class StatusLookupThrottled(DomainError):
    code = "too_many_requests"
    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many wrong tries; wait before trying again.")
        self.retry_after = retry_after


@dataclass(frozen=True)
class CaseStage:
    status: str
    next_step: str


def normalise_code(code: str) -> str:
    """As printed on the slip ("ABCD-2345"), however it was typed."""
    bare = _NOT_CODE_CHARS.sub("", code.upper())
    return f"{bare[:4]}-{bare[4:]}" if len(bare) == 8 else bare


class CodeThrottle:
    """Wrong tries per code, counted under the code's blind index (never the code)."""

    def __init__(self, storage: Any, prefix: str = "ruta-status") -> None:
        self.storage = storage
        self.prefix = prefix

    def _key(self, code_key: str) -> str:
        return f"{self.prefix}:{code_key}"

    def wait_seconds(self, code_key: str) -> int:
        key = self._key(code_key)
        if self.storage.get(key) < MAX_WRONG_TRIES:
            return 0
        return max(1, math.ceil(self.storage.get_expiry(key) - time.time()))

    def record_wrong(self, code_key: str) -> None:
        self.storage.incr(self._key(code_key), WINDOW_SECONDS)


def look_up_status(
    session: DbSession, ring: KeyRing, code: str, pin: str, throttle: CodeThrottle | None = None
) -> CaseStage:
    """The stage of the case the code and PIN open; NotFound for any wrong pair, and
    StatusLookupThrottled once the code has had too many. Both faces call this."""
    throttle = throttle or code_throttle()
    probes = status_code_probes(ring.index_keys.keys, ring.status_keys, normalise_code(code))
    code_key = probes[0]  # the throttle counts her code under the active index key
    wait = throttle.wait_seconds(code_key)
    if wait:
        raise StatusLookupThrottled(wait)
    case = access.case_by_status_code(session, probes)
    if case is None:
        verify_password(None, pin)  # the dummy hash: as slow as a real check
    if case is None or not verify_status_pin(case.status_pin_hash, pin):
        throttle.record_wrong(code_key)
        raise NotFound(NOT_FOUND_MESSAGE)
    found = access.surviving_case(session, case)
    return with_hearing(session, found, stage_of(session, found))


def _live_referral(session: DbSession, case: Case) -> Referral | None:
    stmt = (
        select(Referral)
        .where(Referral.case_id == case.id, Referral.status.in_(LIVE_REFERRAL))
        .order_by(Referral.created_at.desc())
        .limit(1)
    )
    return session.execute(stmt).scalars().first()


def _has(session: DbSession, clause: Any) -> bool:
    return bool(session.execute(select(exists().where(clause))).scalar())


def stage_of(session: DbSession, case: Case) -> CaseStage:
    """The most telling stage, first that applies: closed, measures in force, a live
    referral, a complaint, follow-up, open."""
    if case.status == "closed":
        return said("closed")
    measures = (ProtectionMeasure.case_id == case.id) & (ProtectionMeasure.status == "active")
    if _has(session, measures):
        return said("measures")
    referral = _live_referral(session, case)
    if referral is not None:
        step = "referral_sent" if referral.status == "sent" else "referral_accepted"
        stage = REFERRED_TO.get(referral.service, REFERRED_ELSEWHERE)
        return CaseStage(gettext(stage), gettext(NEXT_STEPS[step]))
    if _has(session, Complaint.case_id == case.id):
        return said("complaint")
    if case.status == "follow_up":
        return said("follow_up")
    return said("open")


def _next_hearing(session: DbSession, case: Case) -> Hearing | None:
    """Her next hearing still to come, when the newest choice she recorded says so."""
    chosen = (
        select(HearingNotice.show_hearings_in_status)
        .where(HearingNotice.case_id == case.id)
        .order_by(HearingNotice.id.desc())
        .limit(1)
    )
    if not session.execute(chosen).scalar():
        return None
    stmt = (
        select(Hearing)
        .where(Hearing.case_id == case.id, Hearing.outcome.is_(None), Hearing.starts_at > utcnow())
        .order_by(Hearing.starts_at)
        .limit(1)
    )
    return session.execute(stmt).scalars().first()


def with_hearing(session: DbSession, case: Case, stage: CaseStage) -> CaseStage:
    """If she chose it, the next step is the date and time of her next hearing: never the
    court, the kind or anything else that would tell a reader of her slip more."""
    hearing = None if case.status == "closed" else _next_hearing(session, case)
    if hearing is None:
        return stage
    local = hearing.starts_at.astimezone(LOCAL_TZ)
    line = gettext(
        "Su audiencia es el %(date)s a las %(time)s.",
        date=local.strftime("%d/%m/%Y"),
        time=local.strftime("%H:%M"),
    )
    return CaseStage(stage.status, line)


def said(stage: str) -> CaseStage:
    """A stage and its next step, in the language of the request."""
    return CaseStage(gettext(STAGES[stage]), gettext(NEXT_STEPS[stage]))


def code_throttle() -> CodeThrottle:
    """Bound to the app's limiter storage (Redis when REDIS_URL is set)."""
    from app.extensions import limiter

    return CodeThrottle(limiter.storage)
