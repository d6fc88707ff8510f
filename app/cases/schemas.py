"""Marshmallow schemas of the case API: what comes in (validated) and what goes out."""

from __future__ import annotations

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

from app.cases.validators import date_problem, normalise_dui
from app.cases.vocab import PLACE_TYPES, RELATIONSHIPS, SEXES, VIOLENCE_TYPES, WEAPONS
from app.common import local_today
from app.messages import use_spanish_messages as _spanish  # noqa: F401


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
    share_with_network = fields.Boolean(load_default=False)
    statistics = fields.Boolean(load_default=False)
    police = fields.Boolean(load_default=False)


class IntakeIn(InputSchema):
    survivor = fields.Nested(SurvivorIn, required=True)
    incident = fields.Nested(IncidentIn, required=True)
    consent = fields.Nested(
        ConsentIn,
        load_default=lambda: {"share_with_network": False, "statistics": False, "police": False},
    )


class SearchIn(InputSchema):
    dui = fields.String()
    name = fields.String(validate=validate.Length(min=1, max=200))
    birth_date = fields.Date()

    @validates_schema
    def check_one_key(self, data: dict[str, Any], **_: Any) -> None:
        if "dui" in data:
            if normalise_dui(data["dui"]) is None:
                raise ValidationError(
                    "DUI no válido (########-#, revise el dígito verificador).", "dui"
                )
            return
        if not data.get("name") or not data.get("birth_date"):
            raise ValidationError("Indique el DUI, o el nombre y la fecha de nacimiento.", "name")


# ---- output ---------------------------------------------------------------------------


class IntakeOut(Schema):
    id = fields.String()
    number = fields.String()
    matched_existing = fields.Boolean()
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
    since = fields.String()
    ended_at = fields.String(allow_none=True)


class ConsentOut(Schema):
    share_with_network = fields.Boolean()
    statistics = fields.Boolean()
    police = fields.Boolean()
    recorded_at = fields.String()


class CaseOut(Schema):
    """The whole record; supervisors without break-glass get the metadata fields only."""

    id = fields.String()
    number = fields.String()
    access = fields.String(
        metadata={"description": "full (a party), metadata (supervisor), break_glass"}
    )
    status = fields.String()
    risk_level = fields.String(allow_none=True)
    mandatory_report = fields.Boolean()
    created_at = fields.String()
    updated_at = fields.String()
    version = fields.Integer()
    survivor = fields.Nested(SurvivorOut)
    incidents = fields.List(fields.Nested(IncidentOut))
    parties = fields.List(fields.Nested(PartyOut))
    consent = fields.Nested(ConsentOut, allow_none=True)
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
