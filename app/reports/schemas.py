"""Query schemas of the statistics and export calls, and their answers."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask_babel import gettext
from marshmallow import (
    EXCLUDE,
    Schema,
    ValidationError,
    fields,
    post_load,
    validate,
    validates_schema,
)

from app.core.time import local_today
from app.reports.cube import month_end, period_kind
from app.reports.dimensions import DIMENSIONS
from app.reports.stats import UNITS, WHOLE_PERIOD

MAX_PERIOD_DAYS = 366 * 10


def start_of_year() -> date:
    return local_today().replace(month=1, day=1)


class PeriodIn(Schema):
    """`from` and `to` (YYYY-MM-DD, both included); this year so far when absent."""

    class Meta:
        unknown = EXCLUDE

    start = fields.Date(data_key="from", load_default=start_of_year)
    end = fields.Date(data_key="to", load_default=local_today)

    @validates_schema
    def check_period(self, data: dict[str, Any], **_: Any) -> None:
        start, end = data.get("start"), data.get("end")
        if start and end and start > end:
            raise ValidationError(gettext("El periodo empieza después de terminar."), "from")
        if start and end and (end - start).days > MAX_PERIOD_DAYS:
            raise ValidationError(gettext("Pida como máximo diez años."), "from")


def _default_end(start: date) -> date:
    return date(start.year, 12, 31) if (start.month, start.day) == (1, 1) else month_end(start)


class PublishedPeriodIn(PeriodIn):
    """A period of the observatory: one whole month or one whole year; this year when
    absent; without `to`, the year when `from` is 1 January, else `from`'s month
    (docs/statistics.md: periods that overlap in part give hidden cells back by
    subtraction)."""

    start = fields.Date(data_key="from", load_default=start_of_year)
    end = fields.Date(data_key="to", load_default=None)

    @validates_schema
    def check_whole_period(self, data: dict[str, Any], **_: Any) -> None:
        start = data.get("start")
        if start is None:
            return
        end = data.get("end") or _default_end(start)
        if start <= end and period_kind(start, end) is None:
            raise ValidationError(gettext(WHOLE_PERIOD), "from")

    @post_load
    def end_of_the_month(self, data: dict[str, Any], **_: Any) -> dict[str, Any]:
        if data.get("end") is None:
            data["end"] = _default_end(data["start"])
        return data


def _dimension_list(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class StatsQueryIn(PublishedPeriodIn):
    by = fields.String(load_default="district", validate=validate.Length(max=200))
    unit = fields.String(load_default="incidents", validate=validate.OneOf(UNITS))
    municipality = fields.String(load_default=None, validate=validate.Length(min=1, max=80))
    format = fields.String(load_default="json", validate=validate.OneOf(("json", "csv")))

    @validates_schema
    def check_by(self, data: dict[str, Any], **_: Any) -> None:
        keys = _dimension_list(data.get("by", ""))
        if not keys or any(key not in DIMENSIONS for key in keys):
            raise ValidationError(f"Use una o dos de: {', '.join(DIMENSIONS)}.", "by")
        if len(keys) > 2 or len(set(keys)) != len(keys):
            raise ValidationError(gettext("Indique una dimensión o dos distintas."), "by")


# ---- answers (for the OpenAPI description) ----------------------------------------------


def Count() -> fields.Raw:
    return fields.Raw(metadata={"description": 'a whole number, "<5", or "*" (hidden)'})


class KeyLabel(Schema):
    key = fields.String()
    label = fields.String()


class StatsRowOut(KeyLabel):
    cells = fields.List(Count())
    total = Count()


class StatsOut(Schema):
    start = fields.String(data_key="from")
    end = fields.String(data_key="to")
    by = fields.List(fields.String())
    unit = fields.String()
    municipality = fields.String(allow_none=True)
    columns = fields.List(fields.Nested(KeyLabel))
    rows = fields.List(fields.Nested(StatsRowOut))
    column_totals = fields.List(Count())
    total = Count()


class ReferralSummaryOut(Schema):
    referrals = Count()
    completed = Count()
    completed_share = fields.Float(allow_none=True)
    overdue = Count()
    median_days_to_accept = fields.Float(allow_none=True)
    median_days_to_complete = fields.Float(allow_none=True)


class ReferralGroupOut(ReferralSummaryOut):
    key = fields.String()
    label = fields.String()


class FollowUpSummaryOut(Schema):
    due = Count()
    on_time = Count()
    on_time_share = fields.Float(allow_none=True)


class HighRiskOut(Schema):
    cases = Count()
    with_active_measure = Count()
    share = fields.Float(allow_none=True)


class BreachesOut(Schema):
    breached = Count()
    reassessed_within_24h = Count()
    reassessed_share = fields.Float(allow_none=True)


class RapeWindowSummaryOut(Schema):
    reported_within_72h = Count()
    # A medical care note, or a completed medical referral, within the 72 hours.
    cared_within_window = Count()
    cared_share = fields.Float(allow_none=True)


class IndicatorsOut(Schema):
    start = fields.String(data_key="from")
    end = fields.String(data_key="to")
    referrals = fields.Nested(ReferralSummaryOut)
    by_service = fields.List(fields.Nested(ReferralGroupOut))
    by_institution = fields.List(fields.Nested(ReferralGroupOut))
    follow_ups = fields.Nested(FollowUpSummaryOut)
    high_risk = fields.Nested(HighRiskOut)
    measures_breached = fields.Nested(
        BreachesOut, metadata={"description": "measures marked breached in the period"}
    )
    rape_window = fields.Nested(RapeWindowSummaryOut)
