"""The 24-question risk assessment of DOMAIN.md, scored without side effects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import LazyString
from flask_babel import lazy_gettext as _l

# Our own Spanish wording, in DOMAIN.md's order; the API keys answers "1" to "24". Lazy:
# the risk form is built once, and each page shows the questions in its own language.
QUESTIONS: tuple[LazyString, ...] = (
    _l("¿Está lesionada en este momento?"),
    _l("¿Tiene mucho miedo?"),
    _l("¿Teme que la vuelva a dañar?"),
    _l("¿Está aislada de su familia y amistades?"),
    _l("¿Se siente deprimida o ha pensado en quitarse la vida?"),
    _l("¿Se separó o intentó separarse en el último año?"),
    _l("¿Hay conflicto por las hijas o los hijos?"),
    _l("¿La sigue, la vigila o la llama y escribe sin parar?"),
    _l("¿Está embarazada o tiene un bebé de menos de 18 meses?"),
    _l("¿La violencia es cada vez más frecuente?"),
    _l("¿La violencia es cada vez más grave?"),
    _l("¿Es controlador o extremadamente celoso?"),
    _l("¿Ha usado un arma u objeto contra usted?"),
    _l("¿La ha amenazado de muerte y usted le creyó?"),
    _l("¿La ha estrangulado, asfixiado o intentado ahogar?"),
    _l("¿La ha agredido sexualmente?"),
    _l("¿La amenaza también otra persona?"),
    _l("¿Ha lastimado a otras personas (hijos, familiares, exparejas)?"),
    _l("¿Ha lastimado animales?"),
    _l("¿Depende de él económicamente o tiene problemas de dinero?"),
    _l("¿Él tiene problemas de drogas, alcohol o salud mental?"),
    _l("¿Él ha amenazado con suicidarse o lo ha intentado?"),
    _l("¿Ha incumplido una medida de protección u orden judicial?"),
    _l("¿Él tiene antecedentes penales?"),
)
QUESTION_KEYS = tuple(str(number) for number in range(1, len(QUESTIONS) + 1))
WEAPON_QUESTION = "13"
THREAT_TO_KILL_QUESTION = "14"
STRANGULATION_QUESTION = "15"

LEVELS = ("standard", "medium", "high")
MEDIUM_FROM = 10
HIGH_FROM = 14
# An open high-risk case whose last assessment is older than this is due for another.
REASSESS_AFTER_DAYS = 30

# Why a level is what it is, as stored in RiskAssessment.reasons (space-separated) and
# shown in Spanish by the pages. The first five make the level high by themselves.
REASONS: dict[str, str] = {
    "strangulation": "estrangulamiento",
    "threat_to_kill": "amenaza de muerte creíble",
    "feminicidal": "violencia feminicida",
    "firearm": "arma de fuego",
    "judgement": "criterio profesional",
    "score_high": f"puntaje ≥ {HIGH_FROM}",
    "score_medium": f"puntaje {MEDIUM_FROM}–{HIGH_FROM - 1}",
    "score_standard": f"puntaje 0–{MEDIUM_FROM - 1}",
}


@dataclass(frozen=True)
class RiskResult:
    score: int
    level: str
    reasons: tuple[str, ...]


def missing_answers(answers: dict[str, bool | None]) -> list[str]:
    """The questions not answered: every one needs sí, no or "no sabe" (null), chosen;
    a form left blank must never read as "no"."""
    return [key for key in QUESTION_KEYS if key not in answers]


def assess(
    answers: dict[str, bool | None],
    *,
    feminicidal: bool = False,
    firearm: bool = False,
    judgement_high: bool = False,
    strangulation: bool = False,
) -> RiskResult:
    """Score = yes answers. High also on strangulation (answered, or recorded on an
    incident), a believed threat to kill, feminicidal violence, a firearm, or the
    professional's judgement. `reasons` says which of these made the level."""
    score = sum(1 for key in QUESTION_KEYS if answers.get(key) is True)
    flags = {
        "strangulation": strangulation or answers.get(STRANGULATION_QUESTION) is True,
        "threat_to_kill": answers.get(THREAT_TO_KILL_QUESTION) is True,
        "feminicidal": feminicidal,
        "firearm": firearm,
        "judgement": judgement_high,
    }
    reasons = [code for code, present in flags.items() if present]
    if score >= HIGH_FROM:
        reasons.append("score_high")
    if reasons:
        return RiskResult(score, "high", tuple(reasons))
    if score >= MEDIUM_FROM:
        return RiskResult(score, "medium", ("score_medium",))
    return RiskResult(score, "standard", ("score_standard",))


def incident_reasons(
    violence_types: list[str], weapon: str | None, strangulation: bool
) -> list[str]:
    """What on an incident makes the case high at once, without waiting for an assessment."""
    reasons = []
    if strangulation:
        reasons.append("strangulation")
    if "feminicidal" in violence_types:
        reasons.append("feminicidal")
    if weapon == "firearm":
        reasons.append("firearm")
    return reasons


def lowers_from_high(current_level: str | None, new_level: str) -> bool:
    """A level never drops from high without a reason given."""
    return current_level == "high" and new_level != "high"


def reassessment_due(
    case_status: str, risk_level: str | None, last_assessed_on: date | None, today: date
) -> bool:
    """An open (not closed) high-risk case whose last assessment is older than 30 days,
    or that was made high by an incident and never assessed."""
    if case_status == "closed" or risk_level != "high":
        return False
    return last_assessed_on is None or (today - last_assessed_on).days > REASSESS_AFTER_DAYS
