"""A per-user cap on reading case records: RUTA_CASE_READS_PER_HOUR [300] in a rolling hour.

Threat: a stolen account, or an insider, copying the records of a whole network one page
at a time. Each read costs its weight; past the cap the user gets 429 until the oldest
reads of the hour fall out of the window, and the supervisors are told, once an hour per
user (the window itself: app/auth/hourly_cap.py).

Weights (what one call costs):
- `case`: the case page or `GET /cases/{id}`, 1: one record;
- `search`: a case search, 1: it shows who matches, not the records;
- `attachment`: a download, 1: one document of one record;
- `export`: a CSV export, 10: many rows at once, de-identified.
"""

from __future__ import annotations

import math
from typing import Any

from flask_babel import gettext

from app.auth.hourly_cap import CapReached, HourlyCap
from app.core.i18n import N_

WEIGHTS = {"case": 1, "search": 1, "attachment": 1, "export": 10}


class TooManyReads(CapReached):
    code = "too_many_reads"
    action = "read_limit"
    title = N_("Límite de lecturas alcanzado")  # the page's heading (app/web/errors.py)

    def __init__(self, per_hour: int, retry_after: int, kind: str, notify: bool) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            gettext(
                "Abrió más de %(per_hour)s expedientes en la última hora. Podrá seguir en unos "
                "%(minutes)s minutos; si su trabajo lo necesita, hable con su supervisora.",
                per_hour=per_hour,
                minutes=minutes,
            ),
            per_hour,
            retry_after,
            kind,
            notify,
        )


class ReadLimit(HourlyCap):
    def __init__(self, storage: Any, per_hour: int, prefix: str = "ruta-reads") -> None:
        super().__init__(storage, per_hour, prefix, WEIGHTS, TooManyReads)
