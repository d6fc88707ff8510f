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
from collections.abc import Iterable
from functools import lru_cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

INDEX_HEX_CHARS = 16  # 64 bits: collisions stay rare at national scale, yet not unique proof
# The aggressor's own purposes: his indexes never equal a survivor's for the same person.
PURPOSES = (
    *("dui", "name_dob", "status_code", "phone", "name_token"),
    *("aggressor_dui", "aggressor_name_dob"),
)


@lru_cache(maxsize=32)
def purpose_key(index_key: bytes, purpose: str) -> bytes:
    if purpose not in PURPOSES:
        raise ValueError(f"unknown blind-index purpose {purpose!r}")
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"ruta/bidx/" + purpose.encode()
    )
    return hkdf.derive(index_key)


def _keyed(subkey: bytes, value: str) -> str:
    return hmac.new(subkey, value.encode("utf-8"), hashlib.sha256).hexdigest()[:INDEX_HEX_CHARS]


def blind_index(index_key: bytes, purpose: str, value: str) -> str:
    return _keyed(purpose_key(index_key, purpose), value)


def blind_indexes(index_keys: Iterable[bytes], purpose: str, value: str) -> list[str]:
    """The probe under every index key still in use: while `keys rotate-index` runs a
    row holds the value of the old key or of the new one."""
    return list(dict.fromkeys(blind_index(key, purpose, value) for key in index_keys))


def status_code_subkey(index_key: bytes) -> bytes:
    """What a retired index key leaves in the key file: it finds slips' codes only."""
    return purpose_key(index_key, "status_code")


def status_code_probes(
    index_keys: Iterable[bytes], status_subkeys: Iterable[bytes], code: str
) -> list[str]:
    """A slip's code under every key that may have made it. Her code is on her paper
    slip only, never stored, so its index cannot be recomputed under a new key. The
    active key (the last of `index_keys`) first."""
    newest_first = reversed(list(index_keys))
    subkeys = [status_code_subkey(key) for key in newest_first] + list(status_subkeys)
    return list(dict.fromkeys(_keyed(subkey, code) for subkey in subkeys))


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
