"""TOTP second factor (RFC 6238: HMAC-SHA-1, 6 digits, 30-second steps).

Threat: a code read over a shoulder or from a phishing page is used again, or later.
Each user keeps the last accepted time step; a code for that step or an earlier one is
refused. A code works only during its own 30-second step (ASVS 6.5.5): no drift window.
The cost: a phone whose clock is off, or a code typed as it rolls over, is refused, and
she types the next one; a phone clock off by more than a step must be corrected (set it
to the network's time), and the servers keep NTP time (docs/security.md).

SHA-1 is kept on purpose: it is what every authenticator app supports, and RFC 6238's
HMAC-SHA-1 is not weakened by SHA-1's collisions (docs/asvs.md, 11.4.1).
"""

from __future__ import annotations

import hmac
import time

import pyotp

STEP_SECONDS = 30
DRIFT_STEPS = 0  # steps accepted either side of the current one
ISSUER = "Ruta"


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def current_code(secret: str, at: float | None = None) -> str:
    return pyotp.TOTP(secret).at(at if at is not None else time.time())


def accepted_step(secret: str, code: str, last_step: int, now: float | None = None) -> int | None:
    """The time step the code belongs to, if valid and newer than `last_step`."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != 6 or not (code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = int((now if now is not None else time.time()) // STEP_SECONDS)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code) and step > last_step:
            return step
    return None
