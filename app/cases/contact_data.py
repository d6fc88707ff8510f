"""How she may be contacted, and what she needs to be served: her safe-contact protocol
and her access needs, each one JSON document sealed under the case key.

The protocol is what stands between a worker and a call the aggressor answers: it is
read before her phone or address (`contact_rules`), in the order that matters most.
Her access needs (language, interpreter, disability) let a receiver prepare before she
comes; who reads which part is `policy.contact_view` / `policy.needs_view`.
"""

from __future__ import annotations

import json
from typing import Any

from flask_babel import gettext

from app.cases.models import Survivor
from app.core.i18n import N_
from app.crypto.envelope import FieldCipher

PROTOCOL = "contact_protocol"
NEEDS = "access_needs"

PROTOCOL_FIELDS = (
    "may_call",
    "call_times",
    "may_text",
    "may_leave_message",
    "may_visit",
    "phone_watched_by_aggressor",
    "code_word",
    "cover_story",
    "notes",
)
WATCHED = {"yes": N_("sí"), "no": N_("no"), "unknown": N_("no se sabe")}

LANGUAGES = {
    "es": N_("Español"),
    "nah": N_("Náhuat-Pipil"),
    "lessa": N_("LESSA (lengua de señas salvadoreña)"),
    "other": N_("Otro idioma"),
}
LITERACY = {
    "reads_writes": N_("Lee y escribe"),
    "reads_only": N_("Solo lee"),
    "does_not_read": N_("No lee"),
    "prefers_not_to_say": N_("Prefiere no decirlo"),
}
DISABILITIES = {
    "physical": N_("Física"),
    "visual": N_("Visual"),
    "hearing": N_("Auditiva"),
    "intellectual": N_("Intelectual"),
    "psychosocial": N_("Psicosocial"),
    "none": N_("Ninguna"),
    "prefers_not_to_say": N_("Prefiere no decirlo"),
}
PEOPLES = {
    "nahua_pipil": N_("Nahua-Pipil"),
    "lenca": N_("Lenca"),
    "kakawira": N_("Kakawira"),
    "other": N_("Otro pueblo"),
    "none": N_("Ninguno"),
    "prefers_not_to_say": N_("Prefiere no decirlo"),
}
NEEDS_FIELDS = (
    "language",
    "language_other",
    "interpreter_needed",
    "literacy",
    "disability",
    "adjustments",
    "indigenous_people",
    "nationality",
)
# What a receiver needs to book an interpreter or ready the room before she comes: never
# her people, nationality or literacy, which a receiver not yet serving her does not need.
PREPARATION_FIELDS = (
    "language",
    "language_other",
    "interpreter_needed",
    "disability",
    "adjustments",
)
PREFERS_NOT_TO_SAY = "prefers_not_to_say"


def empty_protocol() -> dict[str, Any]:
    return dict.fromkeys(PROTOCOL_FIELDS)


def empty_needs() -> dict[str, Any]:
    return {**dict.fromkeys(NEEDS_FIELDS), "disability": []}


def open_document(cipher: FieldCipher, survivor: Survivor, field: str) -> dict[str, Any] | None:
    text = cipher.open_text("survivors", survivor.id, field, getattr(survivor, f"{field}_enc"))
    return json.loads(text) if text else None


def seal_document(
    cipher: FieldCipher, survivor: Survivor, field: str, document: dict[str, Any]
) -> None:
    payload = json.dumps(document, sort_keys=True, ensure_ascii=False)
    setattr(survivor, f"{field}_enc", cipher.seal("survivors", survivor.id, field, payload))


def protocol_of(cipher: FieldCipher, survivor: Survivor) -> dict[str, Any]:
    """The protocol as recorded (every key present, None where nothing was said)."""
    return {**empty_protocol(), **(open_document(cipher, survivor, PROTOCOL) or {})}


def needs_of(cipher: FieldCipher, survivor: Survivor) -> dict[str, Any]:
    return {**empty_needs(), **(open_document(cipher, survivor, NEEDS) or {})}


def cleaned(document: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """Text stripped (blank is None), in the keys of the document kind only."""
    out: dict[str, Any] = {}
    for name in names:
        value = document.get(name)
        out[name] = (value.strip() or None) if isinstance(value, str) else value
    return out


def seal_at_intake(cipher: FieldCipher, survivor: Survivor, data: dict[str, Any]) -> None:
    """A new record takes the protocol and needs given at intake, if any."""
    if data.get(PROTOCOL):
        seal_document(cipher, survivor, PROTOCOL, cleaned(data[PROTOCOL], PROTOCOL_FIELDS))
    if data.get(NEEDS):
        seal_document(cipher, survivor, NEEDS, cleaned(data[NEEDS], NEEDS_FIELDS))


def hides_phone(protocol: dict[str, Any]) -> bool:
    """Her number is behind a disclosure when she may not be called, or he watches it."""
    return protocol.get("may_call") is False or protocol.get("phone_watched_by_aggressor") == "yes"


def contact_rules(protocol: dict[str, Any], free_text: str | None) -> list[dict[str, str]]:
    """The rules in the order a worker must read them, the refusals first; each a code
    (for other systems) and its plain-Spanish text."""
    rules: list[tuple[str, str]] = []
    if protocol.get("may_call") is False:
        rules.append(("no_call", gettext("NO LLAMAR")))
    elif protocol.get("may_call") and protocol.get("call_times"):
        rules.append(("call_times", gettext("Llamar solo: %(t)s", t=protocol["call_times"])))
    refusals = (
        ("may_text", "no_text", N_("no enviar mensajes de texto")),
        ("may_leave_message", "no_message", N_("no dejar mensajes")),
        ("may_visit", "no_visit", N_("no visitarla")),
    )
    rules += [(code, gettext(text)) for key, code, text in refusals if protocol.get(key) is False]
    watched = protocol.get("phone_watched_by_aggressor")
    if watched == "yes":
        rules.append(("phone_watched", gettext("el agresor usa o revisa su teléfono")))
    elif watched == "unknown":
        rules.append(
            ("phone_maybe_watched", gettext("no se sabe si el agresor revisa su teléfono"))
        )
    if protocol.get("code_word"):
        rules.append(("code_word", gettext("palabra clave: %(w)s", w=protocol["code_word"])))
    if protocol.get("cover_story"):
        rules.append(
            ("cover_story", gettext("si contesta otra persona: %(s)s", s=protocol["cover_story"]))
        )
    notes = [text for text in (protocol.get("notes"), free_text) if text]
    rules += [("note", note) for note in dict.fromkeys(notes)]
    return [{"code": code, "text": text} for code, text in rules]


def preparation_only(needs: dict[str, Any]) -> dict[str, Any]:
    """The part of her needs a live receiver reads before it accepts."""
    return {**empty_needs(), **{name: needs[name] for name in PREPARATION_FIELDS}}


def needs_summary(needs: dict[str, Any]) -> list[str]:
    """Her needs as the inbox and the sheet print them, in plain Spanish."""
    lines: list[str] = []
    if code := needs.get("language"):
        language = gettext(LANGUAGES[code])
        if needs["language"] == "other" and needs.get("language_other"):
            language = f"{language}: {needs['language_other']}"
        lines.append(gettext("Idioma: %(l)s", l=language))
    if needs.get("interpreter_needed"):
        lines.append(gettext("NECESITA INTÉRPRETE"))
    kinds = [gettext(DISABILITIES[k]) for k in needs.get("disability") or []]
    if kinds:
        lines.append(gettext("Discapacidad: %(d)s", d=", ".join(kinds)))
    if needs.get("adjustments"):
        lines.append(gettext("Ajustes: %(a)s", a=needs["adjustments"]))
    if literacy := needs.get("literacy"):
        lines.append(gettext("Lectura: %(r)s", r=gettext(LITERACY[literacy])))
    if people := needs.get("indigenous_people"):
        lines.append(gettext("Pueblo: %(p)s", p=gettext(PEOPLES[people])))
    if needs.get("nationality"):
        nationality = needs["nationality"]
        shown = gettext("Prefiere no decirlo") if nationality == PREFERS_NOT_TO_SAY else nationality
        lines.append(gettext("Nacionalidad: %(n)s", n=shown))
    return lines
