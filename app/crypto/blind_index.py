"""Blind indexes: find a survivor by DUI or by name and birth date without decrypting.

HMAC-SHA256 under a key derived (HKDF) per purpose from the index key, which is not
the KEK. The digest is truncated on purpose: a few unrelated survivors may share an
index value, so the index alone never proves identity, and every candidate is
confirmed by decrypting before it counts as a match.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INDEX_HEX_CHARS = 16  # 64 bits: collisions stay rare at national scale, yet not unique proof
PURPOSES = ("dui", "name_dob", "status_code", "phone", "name_token")


@lru_cache(maxsize=32)
def purpose_key(index_key: bytes, purpose: str) -> bytes:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown blind-index purpose {purpose!r}")
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"ruta/bidx/" + purpose.encode()
    )
    return hkdf.derive(index_key)


def blind_index(index_key: bytes, purpose: str, value: str) -> str:
    digest = hmac.new(purpose_key(index_key, purpose), value.encode("utf-8"), hashlib.sha256)
    return digest.hexdigest()[:INDEX_HEX_CHARS]


_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def normalise_name(text: str) -> str:
    """Lower case, accents removed, punctuation and runs of spaces folded to one space."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_ALNUM.sub(" ", bare.lower()).strip()


def name_dob_key(given_names: str, family_names: str, birth_date_iso: str) -> str:
    # The full name, so that a name split differently between given and family names
    # at two intakes still finds the same survivor.
    return f"{normalise_name(given_names + ' ' + family_names)}|{birth_date_iso}"
