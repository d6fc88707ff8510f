"""The rules of retention, as pure functions (tests/unit/test_retention_policy.py).

A closed record is kept `years` after it closed; a survivor who was under 18 when it
closed is kept until her 18th birthday plus the same period. A legal hold keeps any
record. Her erasure is refused while the law still needs the record: while it is open,
held, has a live referral, a protection measure in force or a complaint filed with the
PNC or the prosecutor (docs/retention.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext

from app.core.i18n import N_

ADULT_AGE = 18

LEGAL_BASES: dict[str, str] = {
    "consent_withdrawn": N_("Retiró su consentimiento y pide la supresión"),
    "no_longer_needed": N_("Los datos ya no son necesarios para el fin que se recogieron"),
    "unlawful": N_("Los datos se trataron sin base legal"),
    "other": N_("Otra base legal (explicada en el motivo)"),
}

REFUSAL = N_(
    "No se puede suprimir este expediente mientras la ley lo exige: {why}. La supresión "
    "solo procede con el caso cerrado, sin retención legal, sin remisiones en curso, sin "
    "medidas de protección vigentes y sin denuncia presentada ante la PNC o la Fiscalía."
)
WHY = {
    "open": N_("el caso sigue abierto"),
    "held": N_("tiene una retención legal"),
    "referrals": N_("tiene remisiones en curso"),
    "measures": N_("tiene medidas de protección vigentes"),
    "complaint": N_("tiene una denuncia presentada ante la PNC o la Fiscalía"),
    "purged": N_("ya fue depurado"),
}


def _add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year + years, day=28)


def retained_until(closed_on: date, birth_date: date | None, years: int) -> date:
    """The first day the record may be purged."""
    start = closed_on
    if birth_date is not None:
        adult_on = _add_years(birth_date, ADULT_AGE)
        start = max(start, adult_on)
    return _add_years(start, years)


def latest_birth_date(birth_year: int | None) -> date | None:
    """Without her birth date, the last day of her birth year: never purged too soon."""
    return date(birth_year, 12, 31) if birth_year else None


@dataclass(frozen=True)
class ErasureState:
    closed: bool
    held: bool
    purged: bool
    live_referrals: bool
    measures_in_force: bool
    complaint_filed: bool


def erasure_obstacles(state: ErasureState) -> list[str]:
    """Why the law keeps the record now (WHY's codes); empty when erasure may proceed."""
    checks = (
        ("purged", state.purged),
        ("open", not state.closed),
        ("held", state.held),
        ("referrals", state.live_referrals),
        ("measures", state.measures_in_force),
        ("complaint", state.complaint_filed),
    )
    return [code for code, applies in checks if applies]


def refusal_message(obstacles: list[str]) -> str:
    return gettext(REFUSAL).format(why="; ".join(gettext(WHY[code]) for code in obstacles))


def may_hold(role: str, active: bool) -> bool:
    """Supervisors set and lift legal holds (and decide erasures)."""
    return active and role == "supervisor"
