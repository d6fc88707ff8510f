"""Marshmallow schemas of the case API: what comes in (validated) and what goes out."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    validate,
    validates,
    validates_schema,
)

from app.cases.risk import LEVELS as RISK_LEVELS
from app.cases.validators import date_problem, normalise_dui
from app.cases.vocab import (
    CASE_STATUSES,
    PLACE_TYPES,
    RELATIONSHIPS,
    SEXES,
    VIOLENCE_TYPES,
    WEAPONS,
)
from app.core.ids import MAX_ID
from app.core.time import local_today


def _not_future(value: date) -> None:
    problem = date_problem(value, local_today())
    if problem:
        raise ValidationError(problem)


def _codes(choices: dict[str, str]) -> validate.OneOf:
    return validate.OneOf(
        list(choices), error="Código desconocido: {input}. Valores válidos: {choices}."
    )


class InputSchema(Schema):
    class Meta:
        unknown = EXCLUDE  # extra fields from other systems are ignored, never stored


class SurvivorIn(InputSchema):
    given_names = fields.String(required=True, validate=validate.Length(min=1, max=100))
    family_names = fields.String(required=True, validate=validate.Length(min=1, max=100))
    dui = fields.String(load_default=None, allow_none=True)
    birth_date = fields.Date(required=True, validate=_not_future)
    sex = fields.String(required=True, validate=_codes(SEXES))
    municipality = fields.String(required=True, validate=validate.Length(min=1, max=80))
    phone = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=40))
    address = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=300))
    safe_contact = fields.String(
        load_default=None, allow_none=True, validate=validate.Length(max=500)
    )
    disability = fields.Boolean(load_default=None, allow_none=True)

    @validates("dui")
    def check_dui(self, value: str | None, **_: Any) -> None:
        if value not in (None, "") and normalise_dui(value) is None:
            raise ValidationError("DUI no válido (########-#, revise el dígito verificador).")

    @validates("given_names", "family_names")
    def check_not_blank(self, value: str, **_: Any) -> None:
        if not value.strip():
            raise ValidationError("Este dato es obligatorio.")


class IncidentIn(InputSchema):
    occurred_on = fields.Date(required=True, validate=_not_future)
    municipality = fields.String(required=True, validate=validate.Length(min=1, max=80))
    violence_types = fields.List(
        fields.String(validate=_codes(VIOLENCE_TYPES)),
        required=True,
        validate=validate.Length(min=1, error="Marque al menos un tipo de violencia."),
    )
    perpetrator_relationship = fields.String(required=True, validate=_codes(RELATIONSHIPS))
    place_type = fields.String(load_default=None, allow_none=True, validate=_codes(PLACE_TYPES))
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

    @validates_schema
    def check_sexual_details(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("penetration") and "sexual" not in data.get("violence_types", []):
            raise ValidationError("Solo aplica a la violencia sexual.", "penetration")


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
SEARCH_KINDS = {"dui": ("dui",), "name": ("name", "birth_date"), "number": ("number",)}


class SearchIn(InputSchema):
    """Exactly one kind of key: `dui`, `name` with `birth_date`, or the case `number`."""

    dui = fields.String(validate=validate.Length(max=20))
    name = fields.String(validate=validate.Length(min=1, max=200))
    birth_date = fields.Date(validate=_not_future)
    number = fields.String(validate=validate.Length(max=40))

    @validates("dui")
    def check_dui(self, value: str, **_: Any) -> None:
        if normalise_dui(value) is None:
            raise ValidationError("DUI no válido (########-#, revise el dígito verificador).")

    @validates("name")
    def check_name(self, value: str, **_: Any) -> None:
        if not value.strip():
            raise ValidationError("Este dato es obligatorio.")

    @validates("number")
    def check_number(self, value: str, **_: Any) -> None:
        if not _CASE_NUMBER.match(value.strip().upper()):
            raise ValidationError("Número de expediente no válido (por ejemplo SON-2026-000001).")

    @validates_schema
    def check_one_kind(self, data: dict[str, Any], **_: Any) -> None:
        kinds = [kind for kind, keys in SEARCH_KINDS.items() if any(k in data for k in keys)]
        if len(kinds) != 1:
            raise ValidationError(
                "Busque por un solo criterio: el DUI, el nombre completo con la fecha de "
                "nacimiento, o el número de expediente."
            )
        if kinds == ["name"]:
            missing = {key: ["Indique también este dato."] for key in SEARCH_KINDS["name"]}
            for key in data:
                missing.pop(key, None)
            if missing:
                raise ValidationError(missing)


def _not_available_yet(value: str) -> None:
    raise ValidationError(
        "El filtro «assigned» todavía no está disponible: llegará con la asignación de casos."
    )


class WorkListQueryIn(InputSchema):
    status = fields.String(load_default=None, validate=_codes(CASE_STATUSES))
    risk = fields.String(load_default=None, validate=_codes(dict.fromkeys(RISK_LEVELS, "")))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))
    assigned = fields.String(validate=_not_available_yet)


# ---- output ---------------------------------------------------------------------------


class IntakeOut(Schema):
    id = fields.String()
    number = fields.String()
    matched_existing = fields.Boolean()
    access = fields.String(metadata={"description": "full or own_parts (CONTRACT §5)"})
    status_code = fields.String(metadata={"description": "Only when a new case was opened"})
    status_pin = fields.String(metadata={"description": "Only when a new case was opened"})


class SurvivorOut(Schema):
    id = fields.String()
    given_names = fields.String()
    family_names = fields.String()
    dui = fields.String(allow_none=True)
    birth_date = fields.String()
    sex = fields.String()
    municipality = fields.String()
    phone = fields.String(allow_none=True)
    address = fields.String(allow_none=True)
    safe_contact = fields.String(allow_none=True)
    disability = fields.Boolean(allow_none=True)


class IncidentOut(Schema):
    id = fields.String()
    occurred_on = fields.String()
    reported_on = fields.String()
    municipality = fields.String()
    place_type = fields.String(allow_none=True)
    violence_types = fields.List(fields.String())
    penetration = fields.Boolean(allow_none=True)
    perpetrator_relationship = fields.String()
    perpetrator_details = fields.String(allow_none=True)
    weapon = fields.String(allow_none=True)
    children_present = fields.Boolean(allow_none=True)
    narrative = fields.String(allow_none=True)
    gbvims_type = fields.String()
    context = fields.String(allow_none=True)
    entry_institution = fields.String()


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
            "break_glass"
        }
    )
    status = fields.String()
    risk_level = fields.String(allow_none=True)
    mandatory_report = fields.Boolean()
    created_at = fields.String()
    updated_at = fields.String()
    version = fields.Integer()
    survivor = fields.Nested(SurvivorOut, allow_none=True)
    incidents = fields.List(fields.Nested(IncidentOut))
    parties = fields.List(fields.Nested(PartyOut))
    consent = fields.Nested(ConsentOut, allow_none=True)
    consents = fields.List(fields.Nested(ConsentOut))
    close_reason = fields.String(allow_none=True)
    notes = fields.List(fields.Nested("NoteOut"))
    follow_ups = fields.List(fields.Nested("FollowUpOut"))
    risk_assessments = fields.List(fields.Nested("RiskRecordOut"))
    safety_plan = fields.Nested("SafetyPlanOut", allow_none=True)
    attachments = fields.List(fields.Nested("AttachmentOut"))
    complaints = fields.List(fields.Nested("ComplaintOut"))
    referrals = fields.List(fields.Nested("ReferralOut"))
    timeline = fields.List(fields.Nested("TimelineOut"))


class CaseSummaryOut(Schema):
    id = fields.String()
    number = fields.String()
    status = fields.String()
    created_at = fields.String()


class CaseListOut(Schema):
    items = fields.List(fields.Nested(CaseSummaryOut))


class WorkItemOut(Schema):
    id = fields.String()
    number = fields.String()
    status = fields.String()
    risk_level = fields.String(allow_none=True)
    assigned_to = fields.String(
        allow_none=True, metadata={"description": "Always null until cases can be assigned"}
    )
    updated_at = fields.String()


class WorkListOut(Schema):
    items = fields.List(fields.Nested(WorkItemOut))
    next_page = fields.Integer(allow_none=True, metadata={"description": "null on the last page"})


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
