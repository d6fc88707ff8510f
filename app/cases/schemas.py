"""Marshmallow schemas of the case API: what comes in (validated) and what goes out."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask_babel import gettext
from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
    validates_schema,
)

from app.cases.contact_data import DISABILITIES, LANGUAGES, LITERACY, PEOPLES
from app.cases.policy import ASSIGN, ASSIGNED_FILTERS, TAKE
from app.cases.risk import LEVELS as RISK_LEVELS
from app.cases.validators import date_problem, normalise_dui
from app.cases.vocab import (
    CASE_STATUSES,
    MODALITIES,
    PLACE_TYPES,
    RELATIONSHIPS,
    SEXES,
    VIOLENCE_TYPES,
    WEAPONS,
)
from app.core.i18n import N_, later
from app.core.ids import MAX_ID
from app.core.time import local_today


def _not_future(value: date) -> None:
    problem = date_problem(value, local_today())
    if problem:
        raise ValidationError(problem)


DUI_INVALID = N_("DUI no válido (########-#, revise el dígito verificador).")
REQUIRED = N_("Este dato es obligatorio.")


def _valid_dui(value: str) -> None:
    if value != "" and normalise_dui(value) is None:
        raise ValidationError(gettext(DUI_INVALID))


def _search_dui(value: str) -> None:
    if normalise_dui(value) is None:
        raise ValidationError(gettext(DUI_INVALID))


def _not_only_spaces(value: str) -> None:
    """With a minimum length, which refuses the empty string with its own message."""
    if value and not value.strip():
        raise ValidationError(gettext(REQUIRED))


def _name(**options: Any) -> fields.String:
    return fields.String(validate=[validate.Length(min=1, max=100), _not_only_spaces], **options)


def _codes(choices: dict[str, str]) -> validate.OneOf:
    return validate.OneOf(
        list(choices), error=later(N_("Código desconocido: {input}. Valores válidos: {choices}."))
    )


class InputSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # extra fields from other systems are ignored, never stored


YES_NO_UNKNOWN = {"yes": "yes", "no": "no", "unknown": "unknown"}
CALL_TIMES_WITHOUT_CALLS = N_("Si no se la puede llamar, no escriba horarios de llamada.")
OTHER_LANGUAGE_NEEDED = N_("Escriba qué idioma habla.")
NONE_WITH_OTHERS = N_("«Ninguna» o «prefiere no decirlo» no van con otros tipos.")


class ContactProtocolFields(InputSchema):
    """Her safe-contact protocol: null is "not asked"; false is a refusal."""

    may_call = fields.Boolean(load_default=None, allow_none=True)
    call_times = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=200)
    )
    may_text = fields.Boolean(load_default=None, allow_none=True)
    may_leave_message = fields.Boolean(load_default=None, allow_none=True)
    may_visit = fields.Boolean(load_default=None, allow_none=True)
    phone_watched_by_aggressor = fields.String(
        load_default=None, allow_none=True, validate=_codes(YES_NO_UNKNOWN)
    )
    code_word = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=100))
    cover_story = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=500)
    )
    notes = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))

    @validates_schema
    def _call_times_need_calls(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("may_call") is False and (data.get("call_times") or "").strip():
            raise ValidationError(gettext(CALL_TIMES_WITHOUT_CALLS), "call_times")


class AccessNeedsFields(InputSchema):
    """Her access needs; every one optional, most with "prefers_not_to_say"."""

    language = fields.String(load_default=None, allow_none=True, validate=_codes(LANGUAGES))
    language_other = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=80)
    )
    interpreter_needed = fields.Boolean(load_default=None, allow_none=True)
    literacy = fields.String(load_default=None, allow_none=True, validate=_codes(LITERACY))
    disability = fields.List(fields.String(validate=_codes(DISABILITIES)), load_default=list)
    adjustments = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=1000)
    )
    indigenous_people = fields.String(load_default=None, allow_none=True, validate=_codes(PEOPLES))
    nationality = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=60)
    )

    @validates_schema
    def _consistent(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("language") == "other" and not (data.get("language_other") or "").strip():
            raise ValidationError(gettext(OTHER_LANGUAGE_NEEDED), "language_other")
        kinds = set(data.get("disability") or [])
        if len(kinds) > 1 and kinds & {"none", "prefers_not_to_say"}:
            raise ValidationError(gettext(NONE_WITH_OTHERS), "disability")


class _Versioned(Schema):
    version = fields.Integer(
        required=True, metadata={"description": "the survivor's version that was read"}
    )
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=1000))


class SafeContactIn(ContactProtocolFields, _Versioned):
    """`PUT /cases/{id}/safe-contact`: the whole protocol, replacing the one on file."""


class AccessNeedsIn(AccessNeedsFields, _Versioned):
    """`PUT /cases/{id}/access-needs`: all her needs, replacing those on file."""


class SurvivorIn(InputSchema):
    given_names = _name(required=True)
    family_names = _name(required=True)
    dui = fields.String(load_default=None, allow_none=True, validate=_valid_dui)
    birth_date = fields.Date(required=True, validate=_not_future)
    sex = fields.String(required=True, validate=_codes(SEXES))
    municipality = fields.String(required=True, validate=validate.Length(min=1, max=80))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=300))
    safe_contact = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=500)
    )
    disability = fields.Boolean(load_default=None, allow_none=True)
    contact_protocol = fields.Nested(ContactProtocolFields, load_default=None, allow_none=True)
    access_needs = fields.Nested(AccessNeedsFields, load_default=None, allow_none=True)


class IncidentIn(InputSchema):
    """An incident as told. `strangulation` (strangled, choked, suffocated or drowned)
    makes the case high risk at once, like a feminicidal or firearm incident."""

    occurred_on = fields.Date(required=True, validate=_not_future)
    municipality = fields.String(required=True, validate=validate.Length(min=1, max=80))
    violence_types = fields.List(
        fields.String(validate=_codes(VIOLENCE_TYPES)),
        required=True,
        validate=validate.Length(min=1, error=later(N_("Marque al menos un tipo de violencia."))),
    )
    perpetrator_relationship = fields.String(required=True, validate=_codes(RELATIONSHIPS))
    place_type = fields.String(load_default=None, allow_none=True, validate=_codes(PLACE_TYPES))
    modality = fields.String(
        load_default=None,
        allow_none=True,
        validate=_codes(MODALITIES),
        metadata={"description": "LEIV art. 10: community, institutional, workplace"},
    )
    weapon = fields.String(load_default=None, allow_none=True, validate=_codes(WEAPONS))
    children_present = fields.Boolean(load_default=None, allow_none=True)
    penetration = fields.Boolean(load_default=None, allow_none=True)
    sexual_contact = fields.Boolean(load_default=False)
    forced_marriage = fields.Boolean(load_default=False)
    perpetrator_details = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=2000)
    )
    narrative = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=20000)
    )
    confirm_new = fields.Boolean(
        load_default=False,
        metadata={"description": "an incident of the same day and type is another one"},
    )
    strangulation = fields.Boolean(
        load_default=False, metadata={"description": "strangled, choked, suffocated: high risk"}
    )

    @validates_schema
    def check_sexual_details(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("penetration") and "sexual" not in data.get("violence_types", []):
            raise ValidationError(gettext("Solo aplica a la violencia sexual."), "penetration")


class ConsentIn(InputSchema):
    """Absent keys stay absent: on a new case they mean no; on a matched intake or a
    consent update they leave what is recorded unchanged (CONTRACT §3)."""

    share_with_network = fields.Boolean()
    statistics = fields.Boolean()
    police = fields.Boolean()
    given_by = fields.String(
        validate=validate.OneOf(("survivor", "guardian"), error="Indique: survivor o guardian."),
        metadata={"description": "who gave it: she, or a guardian for a child"},
    )
    exclude_institutions = fields.List(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID)),
        validate=validate.Length(max=20),
        metadata={"description": "institution ids that must never see her record"},
    )


class IntakeIn(InputSchema):
    survivor = fields.Nested(SurvivorIn, required=True)
    incident = fields.Nested(IncidentIn, required=True)
    consent = fields.Nested(ConsentIn, load_default=dict)


# ---- search and work list (identifiers travel in JSON bodies, never in URLs) ----------

_CASE_NUMBER = re.compile(r"^[A-Z0-9]{1,8}-\d{4}-\d{6,}$", re.ASCII)
SEARCH_KINDS = {
    "dui": ("dui",),
    "name": ("name", "birth_date"),
    "number": ("number",),
    "phone": ("phone",),
    "name_like": ("name_like", "birth_year"),
}
# The keys a kind cannot do without (a birth year only narrows a partial name).
SEARCH_REQUIRED = {**SEARCH_KINDS, "name_like": ("name_like",)}


class SearchIn(InputSchema):
    """Exactly one kind of key: `dui`, `name` with `birth_date`, the case `number`, the
    `phone`, or `name_like` (a partial or misspelt name, optionally with `birth_year`)."""

    dui = fields.String(validate=[validate.Length(max=20), _search_dui])
    name = fields.String(validate=[validate.Length(min=1, max=200), _not_only_spaces])
    birth_date = fields.Date(validate=_not_future)
    number = fields.String(validate=validate.Length(max=40))
    phone = fields.String(validate=[validate.Length(min=1, max=40), _not_only_spaces])
    name_like = fields.String(
        validate=[validate.Length(min=2, max=200), _not_only_spaces],
        metadata={"description": "part of her name, as it sounds: ranked candidates"},
    )
    birth_year = fields.Integer(strict=True, validate=validate.Range(min=1900, max=2100))

    @validates("number")
    def check_number(self, value: str, **_: Any) -> None:
        if not _CASE_NUMBER.match(value.strip().upper()):
            raise ValidationError(
                gettext("Número de expediente no válido (por ejemplo SON-2026-000001).")
            )

    @validates_schema
    def check_one_kind(self, data: dict[str, Any], **_: Any) -> None:
        kinds = [kind for kind, keys in SEARCH_KINDS.items() if any(k in data for k in keys)]
        if len(kinds) != 1:
            raise ValidationError(
                gettext(
                    "Busque por un solo criterio: el DUI, el nombre completo con la fecha de "
                    "nacimiento, el número de expediente, el teléfono o parte del nombre."
                )
            )
        also = gettext("Indique también este dato.")
        missing = {key: [also] for key in SEARCH_REQUIRED[kinds[0]]}
        for key in data:
            missing.pop(key, None)
        if missing:
            raise ValidationError(missing)


WORK_LIST_SORTS = ("activity", "risk", "next_contact", "number")
# Never in a URL (CONTRACT §5): a list asked for with one of these is refused, unread.
IDENTIFIER_PARAMETERS = frozenset(
    {"dui", "name", "birth_date", "given_names", "family_names", "phone", "name_like"}
)


class WorkListQueryIn(InputSchema):
    """The work list's filters: codes and numbers only, so a URL may carry them."""

    assigned = fields.String(
        load_default="all",
        validate=_codes(dict.fromkeys(ASSIGNED_FILTERS, "")),
        metadata={"description": "me, unassigned (no active responsible) or all"},
    )
    status = fields.String(load_default=None, validate=_codes(CASE_STATUSES))
    risk = fields.String(load_default=None, validate=_codes(dict.fromkeys(RISK_LEVELS, "")))
    overdue = fields.Boolean(load_default=False)
    next_contact = fields.Integer(load_default=None, validate=validate.Range(min=0, max=366))
    inactive_days = fields.Integer(load_default=None, validate=validate.Range(min=1, max=3660))
    municipality = fields.String(load_default=None, validate=validate.Length(min=1, max=80))
    sort = fields.String(
        load_default="activity", validate=_codes(dict.fromkeys(WORK_LIST_SORTS, ""))
    )
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))


class AssignmentIn(InputSchema):
    """`take` the case for herself; `assign` it (the lead) to `user_id`, or to nobody
    with `user_id: null`."""

    action = fields.String(required=True, validate=_codes({TAKE: "", ASSIGN: ""}))
    user_id = fields.Integer(strict=True, allow_none=True)

    @validates_schema
    def check_user(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("action") == ASSIGN and "user_id" not in data:
            raise ValidationError(
                gettext("Indique a quién se asigna (o null para dejarlo sin responsable)."),
                "user_id",
            )
        if data.get("action") == TAKE and data.get("user_id") is not None:
            raise ValidationError(
                gettext("Tomar el caso es para usted misma: no indique user_id."), "user_id"
            )


class CaseloadMoveIn(InputSchema):
    from_user_id = fields.Integer(strict=True, required=True)
    to_user_id = fields.Integer(strict=True, required=True)


# ---- output ---------------------------------------------------------------------------


class IntakeOut(Schema):
    id = fields.String()
    number = fields.String()
    matched_existing = fields.Boolean()
    access = fields.String(metadata={"description": "full or own_parts (CONTRACT §5)"})
    status_code = fields.String(metadata={"description": "Only when a new case was opened"})
    status_pin = fields.String(metadata={"description": "Only when a new case was opened"})


class ContactProtocolOut(Schema):
    may_call = fields.Boolean(allow_none=True)
    call_times = fields.String(allow_none=True)
    may_text = fields.Boolean(allow_none=True)
    may_leave_message = fields.Boolean(allow_none=True)
    may_visit = fields.Boolean(allow_none=True)
    phone_watched_by_aggressor = fields.String(allow_none=True)
    code_word = fields.String(allow_none=True)
    cover_story = fields.String(allow_none=True)
    notes = fields.String(allow_none=True)
    free_text = fields.String(
        allow_none=True, metadata={"description": "the free-text note kept from before"}
    )
    hides_phone = fields.Boolean(metadata={"description": "may not call, or he watches it"})


class ContactRuleOut(Schema):
    code = fields.String()
    text = fields.String()


class AccessNeedsOut(Schema):
    language = fields.String(allow_none=True)
    language_other = fields.String(allow_none=True)
    interpreter_needed = fields.Boolean(allow_none=True)
    literacy = fields.String(allow_none=True)
    disability = fields.List(fields.String())
    adjustments = fields.String(allow_none=True)
    indigenous_people = fields.String(allow_none=True)
    nationality = fields.String(allow_none=True)
    summary = fields.List(fields.String())


class SurvivorOut(Schema):
    """Her contact rules come before her phone and address, as on every page."""

    id = fields.String()
    given_names = fields.String()
    family_names = fields.String()
    dui = fields.String(allow_none=True)
    birth_date = fields.String()
    sex = fields.String()
    municipality = fields.String()
    safe_contact = fields.Nested(ContactProtocolOut)
    contact_rules = fields.List(fields.Nested(ContactRuleOut))
    phone = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    access_needs = fields.Nested(AccessNeedsOut)
    disability = fields.Boolean(allow_none=True)
    version = fields.Integer(metadata={"description": "send it back with a correction"})


class IncidentOut(Schema):
    id = fields.String()
    occurred_on = fields.String()
    reported_on = fields.String()
    municipality = fields.String()
    place_type = fields.String(allow_none=True)
    modality = fields.String(allow_none=True, metadata={"description": "LEIV art. 10"})
    repeat_of = fields.String(
        allow_none=True,
        metadata={"description": "the earlier incident this one reports again: counted once"},
    )
    violence_types = fields.List(fields.String())
    penetration = fields.Boolean(allow_none=True)
    perpetrator_relationship = fields.String()
    perpetrator_details = fields.String(allow_none=True)
    weapon = fields.String(allow_none=True)
    strangulation = fields.Boolean()
    children_present = fields.Boolean(allow_none=True)
    narrative = fields.String(allow_none=True)
    gbvims_type = fields.String()
    context = fields.String(allow_none=True)
    entry_institution = fields.String()
    version = fields.Integer(metadata={"description": "send it back with a correction"})
    voided = fields.Boolean(metadata={"description": "entered in error: kept, never counted"})
    voided_at = fields.String(allow_none=True)
    void_reason = fields.String(allow_none=True)
    window = fields.Nested(
        "RapeWindowOut",
        allow_none=True,
        metadata={"description": "a rape reported within 72/120 h: its deadlines, while open"},
    )


class IncidentCreatedOut(Schema):
    id = fields.String()
    case_id = fields.String()
    occurred_on = fields.String()
    violence_types = fields.List(fields.String())
    gbvims_type = fields.String()


class PartyOut(Schema):
    institution = fields.String()
    institution_name = fields.String()
    reason = fields.String()
    access = fields.String()
    since = fields.String()
    ended_at = fields.String(allow_none=True)


class ConsentOut(Schema):
    share_with_network = fields.Boolean()
    statistics = fields.Boolean()
    police = fields.Boolean()
    given_by = fields.String(allow_none=True)
    recorded_at = fields.String()
    institution = fields.String()


class CaseOut(Schema):
    """The whole record; supervisors without break-glass get the metadata fields only."""

    id = fields.String()
    number = fields.String()
    access = fields.String(
        metadata={
            "description": "full or own_parts (a party, CONTRACT §5), metadata (supervisor), "
            "break_glass, or purged (a purged record: number, dates and status only)"
        }
    )
    status = fields.String()
    risk_level = fields.String(allow_none=True)
    mandatory_report = fields.Boolean()
    created_at = fields.String()
    updated_at = fields.String()
    version = fields.Integer()
    responsible = fields.Nested(
        "AssigneeOut",
        allow_none=True,
        metadata={"description": "the caller's institution's responsible worker"},
    )
    survivor = fields.Nested(SurvivorOut, allow_none=True)
    incidents = fields.List(fields.Nested(IncidentOut))
    aggressors = fields.List(
        fields.Nested("AggressorOut"),
        metadata={"description": "the aggressors of the incidents the caller reads"},
    )
    repeat_aggressor = fields.Nested("RepeatAggressorOut", allow_none=True)
    parties = fields.List(fields.Nested(PartyOut))
    lead_institution = fields.Nested(
        "LeadInstitutionOut",
        allow_none=True,
        metadata={"description": "the institution that coordinates her care (null: not shown)"},
    )
    consent = fields.Nested(ConsentOut, allow_none=True)
    consents = fields.List(fields.Nested(ConsentOut))
    close_reason = fields.String(allow_none=True)
    parts_withheld = fields.List(
        fields.String(),
        metadata={
            "description": "parts other institutions wrote that the caller's role never "
            "reads (its minimum view): incidents, notes:<kind>, follow_ups, safety_plan, "
            "attachments, complaints; empty for the front line"
        },
    )
    merged_into_id = fields.String(
        allow_none=True, metadata={"description": "set on a record absorbed by a merge"}
    )
    closed_at = fields.String(allow_none=True)
    legal_hold = fields.Boolean(
        metadata={"description": "a supervisor's legal hold: never purged while it stands"}
    )
    legal_hold_since = fields.String(allow_none=True)
    purged = fields.Boolean(
        metadata={
            "description": "its data key was destroyed (docs/retention.md): `access` is "
            "`purged` and no decrypted field is sent"
        }
    )
    purged_at = fields.String(allow_none=True)
    notes = fields.List(fields.Nested("NoteOut"))
    follow_ups = fields.List(fields.Nested("FollowUpOut"))
    risk_assessments = fields.List(fields.Nested("RiskRecordOut"))
    safety_plan = fields.Nested("SafetyPlanOut", allow_none=True)
    attachments = fields.List(fields.Nested("AttachmentOut"))
    complaints = fields.List(fields.Nested("ComplaintOut"))
    hearing_notice = fields.Nested(
        "HearingNoticeOut",
        allow_none=True,
        metadata={"description": "her choice to read her next hearing in the status lookup"},
    )
    referrals = fields.List(fields.Nested("ReferralOut"))
    timeline = fields.List(fields.Nested("TimelineOut"))
    risk = fields.Nested(
        "RiskStateOut", metadata={"description": "the level now, why, reassessment due"}
    )
    corrections = fields.List(
        fields.Nested("CorrectionOut"),
        metadata={"description": "who corrected what, when and why, with old and new values"},
    )
    dependants = fields.List(
        fields.Nested("DependantOut"),
        metadata={"description": "her children and dependants, where this view reads them"},
    )
    dependants_summary = fields.Nested("DependantSummaryOut", allow_none=True)


class CaseSummaryOut(Schema):
    id = fields.String()
    number = fields.String()
    status = fields.String()
    created_at = fields.String()


class CaseListOut(Schema):
    items = fields.List(fields.Nested(CaseSummaryOut))


class CandidateOut(CaseSummaryOut):
    """A possible match: her name only for a caller whose view of it is `full`."""

    access = fields.String(metadata={"description": "full or own_parts"})
    name = fields.String(allow_none=True, metadata={"description": "null unless access=full"})
    score = fields.Float(metadata={"description": "higher is closer"})
    reasons = fields.List(fields.String(), metadata={"description": "name, birth_year, phone, dui"})


class CandidateListOut(Schema):
    items = fields.List(fields.Nested(CandidateOut))


class DuplicatesIn(InputSchema):
    """The survivor's fields as typed at intake: any of them; none is stored."""

    given_names = fields.String(load_default="", validate=validate.Length(max=100))
    family_names = fields.String(load_default="", validate=validate.Length(max=100))
    birth_date = fields.Date(load_default=None, allow_none=True, validate=_not_future)
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    dui = fields.String(
        load_default=None, allow_none=True, validate=[validate.Length(max=20), _valid_dui]
    )


class AssigneeOut(Schema):
    id = fields.Integer()
    name = fields.String()
    active = fields.Boolean(
        metadata={"description": "false: she left or cannot carry cases; the lead moves them"}
    )


class WorkItemOut(Schema):
    id = fields.String()
    number = fields.String()
    status = fields.String()
    risk_level = fields.String(allow_none=True, metadata={"description": "null for own_parts"})
    access = fields.String(metadata={"description": "full or own_parts"})
    name = fields.String(allow_none=True, metadata={"description": "null unless access=full"})
    assigned_to = fields.Nested(
        AssigneeOut,
        allow_none=True,
        metadata={"description": "her institution's responsible worker, or null"},
    )
    next_contact = fields.String(
        allow_none=True, metadata={"description": "her institution's next pending follow-up"}
    )
    updated_at = fields.String()


class WorkListCountsOut(Schema):
    all = fields.Integer()
    mine = fields.Integer()
    unassigned = fields.Integer()
    overdue = fields.Integer()


class WorkListOut(Schema):
    items = fields.List(fields.Nested(WorkItemOut))
    next_page = fields.Integer(allow_none=True, metadata={"description": "null on the last page"})
    counts = fields.Nested(
        WorkListCountsOut,
        metadata={"description": "what each tab would list with the other filters"},
    )


class AssignmentOut(Schema):
    case_id = fields.String()
    number = fields.String()
    assigned_to = fields.Nested(AssigneeOut, allow_none=True)
    assigned_at = fields.String(allow_none=True)
    changed = fields.Boolean(metadata={"description": "false: it was so already"})


class CaseloadMoveOut(Schema):
    moved = fields.Integer()


class WorkerOut(Schema):
    id = fields.Integer()
    name = fields.String()
    active = fields.Boolean()
    lead = fields.Boolean()
    open_cases = fields.Integer()


class CaseloadOut(Schema):
    items = fields.List(fields.Nested(WorkerOut))
    unassigned = fields.Integer(metadata={"description": "open cases without a responsible"})


class TaskOut(Schema):
    kind = fields.String(
        metadata={
            "description": "recent_rape, breach_reassessment, referral_to_answer, "
            "follow_up_overdue, follow_up_today, measure_expiring, hearing_upcoming, "
            "high_risk_unprotected, repeat_aggressor, "
            "reassessment_due"
        }
    )
    case_id = fields.String()
    case_number = fields.String()
    due = fields.String(allow_none=True, metadata={"description": "date or moment, by kind"})
    mine = fields.Boolean(metadata={"description": "she is the case's responsible"})
    detail = fields.String(allow_none=True, metadata={"description": "a code"})
    referral_id = fields.String(allow_none=True)
    overdue = fields.Boolean(metadata={"description": "past its deadline (a breach's 24 h)"})


class TaskListOut(Schema):
    items = fields.List(fields.Nested(TaskOut))


# ---- joins awaiting a supervisor's review ---------------------------------------------


class JoinOut(Schema):
    id = fields.Integer()
    case_id = fields.String()
    case_number = fields.String()
    institution = fields.String()
    institution_name = fields.String()
    access = fields.String()
    since = fields.String()


class JoinListOut(Schema):
    items = fields.List(fields.Nested(JoinOut))


class JoinReviewIn(Schema):
    justified = fields.Boolean(required=True)


class JoinReviewOut(Schema):
    id = fields.Integer()
    reviewed = fields.Boolean()


# ---- merges of two records of one woman -----------------------------------------------


class MergeIn(InputSchema):
    absorb = fields.UUID(
        required=True, metadata={"description": "id of the record that is absorbed"}
    )
    reason = fields.String(required=True, validate=validate.Length(min=5, max=500))

    @validates("reason")
    def check_reason(self, value: str, **_: Any) -> None:
        if len(value.strip()) < 5:
            raise ValidationError(gettext("Explique por qué son la misma persona."))


class MergeReviewIn(InputSchema):
    approve = fields.Boolean(required=True)


class MergeOut(Schema):
    """Numbers and dates only: never her name, never the reason (sealed)."""

    id = fields.String()
    status = fields.String(metadata={"description": "pending, approved, rejected, reverted"})
    surviving_case_id = fields.String()
    surviving_number = fields.String()
    absorbed_case_id = fields.String()
    absorbed_number = fields.String()
    requested_at = fields.String()
    decided_at = fields.String(allow_none=True)
    reverted_at = fields.String(allow_none=True)
    revertible_until = fields.String(allow_none=True)


class MergeListOut(Schema):
    items = fields.List(fields.Nested(MergeOut))


# ---- corrections: changed fields, why, and the version that was read -------------------


def _reason_given(value: str) -> None:
    if not value.strip():
        raise ValidationError(gettext("Explique por qué se corrige."))


class CorrectionIn(InputSchema):
    """What every correction carries: the reason (kept sealed) and the version read."""

    reason = fields.String(
        required=True, validate=[validate.Length(min=1, max=1000), _reason_given]
    )
    version = fields.Integer(required=True, metadata={"description": "the version that was read"})


class SurvivorCorrectionIn(CorrectionIn):
    """Only the fields sent change; `null` clears an optional one (a wrong DUI, a phone
    she no longer has)."""

    given_names = _name()
    family_names = _name()
    dui = fields.String(allow_none=True, validate=_valid_dui)
    birth_date = fields.Date(validate=_not_future)
    sex = fields.String(validate=_codes(SEXES))
    municipality = fields.String(validate=validate.Length(min=1, max=80))
    phone = fields.String(allow_none=True, validate=validate.Length(max=40))
    address = fields.String(allow_none=True, validate=validate.Length(max=300))
    safe_contact = fields.String(allow_none=True, validate=validate.Length(max=500))


class IncidentCorrectionIn(CorrectionIn):
    occurred_on = fields.Date(validate=_not_future)
    municipality = fields.String(validate=validate.Length(min=1, max=80))
    violence_types = fields.List(
        fields.String(validate=_codes(VIOLENCE_TYPES)),
        validate=validate.Length(min=1, error=later(N_("Marque al menos un tipo de violencia."))),
    )
    perpetrator_relationship = fields.String(validate=_codes(RELATIONSHIPS))
    place_type = fields.String(allow_none=True, validate=_codes(PLACE_TYPES))
    modality = fields.String(allow_none=True, validate=_codes(MODALITIES))
    weapon = fields.String(allow_none=True, validate=_codes(WEAPONS))
    children_present = fields.Boolean(allow_none=True)
    penetration = fields.Boolean(allow_none=True)
    sexual_contact = fields.Boolean()
    forced_marriage = fields.Boolean()
    perpetrator_details = fields.String(allow_none=True, validate=validate.Length(max=2000))
    narrative = fields.String(allow_none=True, validate=validate.Length(max=20000))
    strangulation = fields.Boolean(
        metadata={"description": "true: the case becomes high risk at once"}
    )


class VoidIn(InputSchema):
    reason = fields.String(
        required=True, validate=[validate.Length(min=1, max=1000), _reason_given]
    )


class CorrectedOut(Schema):
    id = fields.String()
    version = fields.Integer(metadata={"description": "the new version"})
    # `fields` would shadow the schema's own `fields`: named apart, answered as "fields".
    changed = fields.List(
        fields.String(),
        attribute="fields",
        data_key="fields",
        metadata={"description": "what changed"},
    )
    correction_id = fields.String(allow_none=True)


class VoidedOut(Schema):
    id = fields.String()
    voided = fields.Boolean()
    voided_at = fields.String()


class CorrectionOut(Schema):
    """Values (old, new) and the reason only for a view of the whole record."""

    id = fields.String()
    at = fields.String()
    user = fields.String()
    institution = fields.String()
    object_type = fields.String(metadata={"description": "survivor, incident, complaint, case"})
    object_id = fields.String()
    changed = fields.List(fields.String(), attribute="fields", data_key="fields")
    reason = fields.String(allow_none=True)
    changes = fields.Dict(allow_none=True, metadata={"description": "{field: [old, new]}"})


class LeadInstitutionOut(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


# ---- "the same event reported again" (app/cases/repeats.py) ----------------------------


class RepeatIn(InputSchema):
    repeat_of = fields.UUID(
        required=True,
        allow_none=True,
        metadata={
            "description": "an earlier incident of the case this one tells again; null"
            " undoes the link"
        },
    )
    version = fields.Integer(required=True, metadata={"description": "the version that was read"})


class RepeatOut(Schema):
    id = fields.String()
    repeat_of = fields.String(allow_none=True)
    version = fields.Integer()
