"""The 24-question risk assessment of DOMAIN.md, scored without side effects."""

from __future__ import annotations

from dataclasses import dataclass

# Our own Spanish wording, in DOMAIN.md's order; the API keys answers "1" to "24".
QUESTIONS: tuple[str, ...] = (
    "¿Está lesionada en este momento?",
    "¿Tiene mucho miedo?",
    "¿Teme que la vuelva a dañar?",
    "¿Está aislada de su familia y amistades?",
    "¿Se siente deprimida o ha pensado en quitarse la vida?",
    "¿Se separó o intentó separarse en el último año?",
    "¿Hay conflicto por las hijas o los hijos?",
    "¿La sigue, la vigila o la llama y escribe sin parar?",
    "¿Está embarazada o tiene un bebé de menos de 18 meses?",
    "¿La violencia es cada vez más frecuente?",
    "¿La violencia es cada vez más grave?",
    "¿Es controlador o extremadamente celoso?",
    "¿Ha usado un arma u objeto contra usted?",
    "¿La ha amenazado de muerte y usted le creyó?",
    "¿La ha estrangulado, asfixiado o intentado ahogar?",
    "¿La ha agredido sexualmente?",
    "¿La amenaza también otra persona?",
    "¿Ha lastimado a otras personas (hijos, familiares, exparejas)?",
    "¿Ha lastimado animales?",
    "¿Depende de él económicamente o tiene problemas de dinero?",
    "¿Él tiene problemas de drogas, alcohol o salud mental?",
    "¿Él ha amenazado con suicidarse o lo ha intentado?",
    "¿Ha incumplido una medida de protección u orden judicial?",
    "¿Él tiene antecedentes penales?",
)
QUESTION_KEYS = tuple(str(number) for number in range(1, len(QUESTIONS) + 1))
WEAPON_QUESTION = "13"
THREAT_TO_KILL_QUESTION = "14"
STRANGULATION_QUESTION = "15"

LEVELS = ("standard", "medium", "high")
MEDIUM_FROM = 10
HIGH_FROM = 14


@dataclass(frozen=True)
class RiskResult:
    score: int
    level: str
    reasons: tuple[str, ...]


def assess(
    answers: dict[str, bool | None],
    *,
    feminicidal: bool = False,
    firearm: bool = False,
    judgement_high: bool = False,
) -> RiskResult:
    """Score = yes answers. High also on strangulation, a believed threat to kill,
    feminicidal violence, a firearm, or the professional's judgement."""
    score = sum(1 for key in QUESTION_KEYS if answers.get(key) is True)
    reasons = []
    if answers.get(STRANGULATION_QUESTION) is True:
        reasons.append("strangulation")
    if answers.get(THREAT_TO_KILL_QUESTION) is True:
        reasons.append("threat_to_kill")
    if feminicidal:
        reasons.append("feminicidal")
    if firearm:
        reasons.append("firearm")
    if judgement_high:
        reasons.append("judgement")
    if score >= HIGH_FROM or reasons:
        level = "high"
    elif score >= MEDIUM_FROM:
        level = "medium"
    else:
        level = "standard"
    return RiskResult(score, level, tuple(reasons))
