"""API schemas of referrals and notifications."""

from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

from app.cases.schemas import AccessNeedsOut, ContactRuleOut
from app.referrals.counter import MAX_LENGTH
from app.referrals.moves import COMBINED, MOVES
from app.referrals.service import URGENCY_DAYS

STATUSES = ("sent", "accepted", "in_progress", "completed", "declined", "cancelled")


class ReferralIn(Schema):
    class Meta:
        unknown = EXCLUDE

    to_institution = fields.Integer(required=True, strict=False)
    service = fields.String(required=True, validate=validate.Length(min=1, max=40))
    reason = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=5000))
    urgency = fields.String(load_default="routine", validate=validate.OneOf(list(URGENCY_DAYS)))
    consent = fields.Boolean(load_default=False)
    dependant_id = fields.UUID(
        load_default=None,
        allow_none=True,
        metadata={"description": "a referral for one of her children (the case's dependants)"},
    )


class TransitionIn(Schema):
    class Meta:
        unknown = EXCLUDE

    action = fields.String(required=True, validate=validate.OneOf([*MOVES, *COMBINED]))
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=5000))
    version = fields.Integer(load_default=None, allow_none=True)
    # The counter-referral of `complete`: with any of these, `done` (or `note`) and
    # `next_step` are required; `contact` stays optional.
    done = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=MAX_LENGTH),
        metadata={"description": "complete: what was done (defaults to note)"},
    )
    next_step = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=MAX_LENGTH),
        metadata={"description": "complete: the survivor's next step"},
    )
    contact = fields.String(
        load_default=None,
        allow_none=True,
        validate=validate.Length(max=MAX_LENGTH),
        metadata={"description": "complete: whom to contact at the receiver, and how"},
    )


class ReferralQueryIn(Schema):
    class Meta:
        unknown = EXCLUDE

    box = fields.String(load_default="incoming", validate=validate.OneOf(["incoming", "outgoing"]))
    status = fields.String(load_default=None, validate=validate.OneOf(STATUSES))
    urgency = fields.String(load_default=None, validate=validate.OneOf(list(URGENCY_DAYS)))
    overdue = fields.Boolean(load_default=False)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))


class CounterReferralOut(Schema):
    done = fields.String()
    next_step = fields.String(allow_none=True)
    contact = fields.String(allow_none=True)


class ReferralOut(Schema):
    id = fields.String()
    case_id = fields.String()
    case_number = fields.String()
    status = fields.String()
    from_institution = fields.String()
    to_institution = fields.String()
    to_institution_id = fields.Integer()
    from_institution_name = fields.String()
    to_institution_name = fields.String()
    service = fields.String()
    urgency = fields.String()
    due_on = fields.String()
    overdue = fields.Boolean()
    text_withheld = fields.Boolean(
        metadata={"description": "true for a former party: codes and dates only"}
    )
    consent = fields.Boolean()
    mandatory_report = fields.Boolean()
    for_dependant = fields.Nested(
        "ReferralDependantOut",
        allow_none=True,
        metadata={"description": "a referral for a child of hers: the age group only"},
    )
    tracked_by_sender = fields.Boolean()
    reason = fields.String(allow_none=True)
    decline_reason = fields.String(allow_none=True)
    outcome = fields.String(allow_none=True)
    counter_referral = fields.Nested(
        CounterReferralOut,
        allow_none=True,
        metadata={"description": "the receiver's counter-referral, once completed"},
    )
    created_at = fields.String()
    version = fields.Integer()
    contact_rules = fields.List(
        fields.Nested(ContactRuleOut),
        allow_none=True,
        metadata={"description": "her contact rules; only for a reader of her whole record"},
    )
    access_needs = fields.Nested(
        AccessNeedsOut,
        allow_none=True,
        metadata={
            "description": "her access needs: all with her whole record; language, "
            "interpreter and disability adjustments for a live receiver not yet a party"
        },
    )


class ReferralListedOut(ReferralOut):
    """An inbox row: her name and the case's risk only where the caller's institution
    sees her whole record; the texts only for a side that reads the referral."""

    survivor_name = fields.String(allow_none=True)
    risk_level = fields.String(allow_none=True)
    updated_at = fields.String()


class ReferralCountsOut(Schema):
    to_answer = fields.Integer()
    in_progress = fields.Integer()
    overdue_incoming = fields.Integer()
    overdue_outgoing = fields.Integer()


class ReferralListOut(Schema):
    items = fields.List(fields.Nested(ReferralListedOut))
    counts = fields.Nested(ReferralCountsOut)
    facets = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.Integer()),
        metadata={
            "description": "box, status, urgency, overdue: for each value, how many "
            "referrals the list would hold with it chosen and the other filters kept"
        },
    )
    next_page = fields.Integer(allow_none=True)


class NotificationOut(Schema):
    id = fields.Integer()
    kind = fields.String()
    label = fields.String()
    case_id = fields.String(allow_none=True)
    reference = fields.String(allow_none=True)
    created_at = fields.String()
    read = fields.Boolean()


class NotificationListOut(Schema):
    items = fields.List(fields.Nested(NotificationOut))


class ReferralDependantOut(Schema):
    age_group = fields.String(allow_none=True)
