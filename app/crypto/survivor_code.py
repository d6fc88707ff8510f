"""The pseudonymous survivor code of the de-identified exports: one woman, one code.

HMAC-SHA256 of her canonical identity (her DUI when she has one, else her normalised
full name and birth date) under the statistics key, a key of its own in the key file:
a case key is one record's, and the index key's values find her in this system, so a
code made with either would link an export back to her record. Truncated to 80 bits
and written in base32, so a person can read it out; at national scale two women share
a code with negligible odds, which a count of women tolerates.

The code is the same whichever institution or department records her, and only a
holder of the statistics key can compute it from an identity. Replacing the key
(`keys rotate-statistics`) gives every woman a new code: exports made before no longer
link to the new ones, on purpose (docs/statistics.md, "Counting women").
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from app.crypto.blind_index import name_dob_key

CODE_BYTES = 10  # 80 bits: 16 base32 characters, no padding
CODE_CHARS = 16
_DOMAIN = b"ruta/statistics/survivor-code/"


def canonical_identity(
    dui: str | None, given_names: str, family_names: str, birth_date_iso: str | None
) -> str:
    """What makes her the same woman at every desk, as matching decides it (CONTRACT §5)."""
    if dui:
        return "dui:" + dui.strip()
    full_name = f"{given_names} {family_names}"
    return "name_dob:" + name_dob_key(full_name, "", birth_date_iso or "")


def survivor_code(statistics_key: bytes, identity: str) -> str:
    digest = hmac.new(statistics_key, _DOMAIN + identity.encode("utf-8"), hashlib.sha256)
    return base64.b32encode(digest.digest()[:CODE_BYTES]).decode("ascii")
