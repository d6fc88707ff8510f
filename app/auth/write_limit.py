"""A per-user cap on writing to case records: RUTA_CASE_WRITES_PER_HOUR [600] in a
rolling hour, on the same window as the read cap (app/auth/hourly_cap.py).

Threat: a stolen account or a runaway script flooding the network with intakes, notes
or referrals, or filling the disk and the workers with uploads (each one is rebuilt by
pikepdf or Pillow). The cap is far above a day's real work; past it the user gets 429
`too_many_writes` until the oldest writes of the hour fall out of the window, every
refusal is audited, and the supervisors are told once an hour per user.

Weights (what one call costs):
- `intake`, `incident`, `note`, `follow_up`, `risk`, `complaint`, `referral`: 1;
- `upload`: 10: up to 20 MB stored and a document rebuilt, not a line of text.
"""

from __future__ import annotations

import math
from typing import Any

from flask_babel import gettext

from app.auth.hourly_cap import CapReached, HourlyCap
from app.core.i18n import N_

WEIGHTS = {
    "intake": 1,
    "incident": 1,
    "note": 1,
    "follow_up": 1,
    "risk": 1,
    "complaint": 1,
    "referral": 1,
    "transfer": 1,
    "upload": 10,
}


class TooManyWrites(CapReached):
    code = "too_many_writes"
    action = "write_limit"
    title = N_("Límite de registros alcanzado")  # the page's heading (app/web/errors.py)

    def __init__(self, per_hour: int, retry_after: int, kind: str, notify: bool) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            gettext(
                "Registró más de %(per_hour)s datos en la última hora (un adjunto cuenta como "
                "10). Podrá seguir en unos %(minutes)s minutos; si su trabajo lo necesita, "
                "hable con su supervisora.",
                per_hour=per_hour,
                minutes=minutes,
            ),
            per_hour,
            retry_after,
            kind,
            notify,
        )


class WriteLimit(HourlyCap):
    def __init__(self, storage: Any, per_hour: int, prefix: str = "ruta-writes") -> None:
        super().__init__(storage, per_hour, prefix, WEIGHTS, TooManyWrites)
