"""Field rules of DOMAIN.md, shared by the API schemas and the web forms."""

from __future__ import annotations

import re
from datetime import date

from flask_babel import gettext

_DUI = re.compile(r"^(\d{8})-?(\d)$", re.ASCII)  # ASCII: no other scripts' digits
DUI_WEIGHTS = (9, 8, 7, 6, 5, 4, 3, 2)


def normalise_dui(text: str) -> str | None:
    """`########-#` if the text is a well-formed DUI with a valid check digit, else None."""
    match = _DUI.match((text or "").strip())
    if not match:
        return None
    body, check = match.group(1), int(match.group(2))
    if body == "00000000":
        return None
    total = sum(int(digit) * weight for digit, weight in zip(body, DUI_WEIGHTS, strict=True))
    if (10 - total % 10) % 10 != check:
        return None
    return f"{body}-{check}"


def date_problem(value: date, today: date, earliest: date = date(1900, 1, 1)) -> str | None:
    if value > today:
        return gettext("La fecha no puede ser futura.")
    if value < earliest:
        return gettext("La fecha es demasiado antigua.")
    return None
