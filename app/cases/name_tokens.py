"""Finding her by a name typed the way it sounds, and by her phone, without storing either.

Each word of her name is reduced to a Spanish phonetic code ("Hernández", "Ernandes" and
"Hernandez" all give `ernands`), and the code is kept only as a keyed blind index
(HMAC under the index key, purpose `name_token`) in `survivor_name_tokens`. A search
reduces the typed words the same way, takes the survivors that share a token among the
cases the caller may see, decrypts only those candidates and ranks them by `similarity`.

What a database reader learns (docs/search.md): how many survivors share each token, and
which survivors share one — the frequencies of surnames, not the surnames, since without
the index key a token cannot be computed from a name. The phone index is the same HMAC
over her digits (purpose `phone`).
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, insert

from app.cases import access
from app.cases.record_models import SurvivorNameToken
from app.core.db import DbSession
from app.crypto.blind_index import blind_index, blind_indexes
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for

# Particles of Spanish names: "Flor de María", "viuda de López" say nothing of who she is.
PARTICLES = frozenset({"de", "del", "la", "las", "los", "y", "e", "vda", "viuda", "san"})
MIN_CODE_LENGTH = 2  # an initial ("M.") would match half the country
MAX_WORDS = 8  # a name longer than this is not a name: the rest is ignored

_VOWELS = "aeiou"
# Applied in order to a word already lower-cased, with accents and everything but a-z
# removed. Digits are placeholders for sounds kept apart from the letters around them.
_RULES: tuple[tuple[str | re.Pattern[str], str], ...] = tuple(
    # A plain string is replaced as it is (str.replace, fast); the others are patterns.
    (pattern if pattern.isalnum() else re.compile(pattern), replacement)
    for pattern, replacement in (
        ("ph", "f"),
        ("ch", "1"),  # "ch" is its own sound: keep it away from c and h below
        ("sh", "s"),  # Xiomara, Shiomara, Siomara
        ("ll", "y"),  # Castillo, Castiyo
        ("qu", "k"),  # Quintanilla, Kintanilla
        (r"gu(?=[ei])", "2"),  # the u of Guevara, Guillén is silent: a hard g
        (r"g(?=[ei])", "j"),  # Gerardo, Jerardo
        ("2", "g"),
        (r"c(?=[ei])", "s"),  # Cecilia, Sesilia
        ("c", "k"),
        ("q", "k"),
        ("z", "s"),  # López, Lopes
        ("x", "s"),  # Ximena, Simena
        ("v", "b"),  # Vásquez, Básquez
        ("w", "u"),
        ("h", ""),  # silent: Hernández, Ernández
        (r"(?:^|(?<=[aeiou]))y(?=[aeiou])", "3"),  # y as a consonant: Yesenia, Reyes
        ("y", "i"),  # otherwise a vowel: Mayra, Maira; Nancy, Nanci
        ("3", "y"),
        ("1", "x"),  # ch, now that x has become s
        (r"n(?=[bp])", "m"),  # "nv" and "mb" sound alike: Menbreño, Membreño
        (r"(.)\1+", r"\1"),  # double letters: Grijalva, Grijallva; Arriaza, Ariaza
        (r"(?<=[^aeiou])e?s$", "s"),  # -ez, -es, -s: Martínez, Martines, Martins
    )
)
_NOT_LETTER = re.compile(r"[^a-z]+")
_NOT_DIGIT = re.compile(r"\D+")
PHONE_COUNTRY_CODE = "503"
MIN_PHONE_DIGITS = 7


def _bare(text: str) -> str:
    """Lower case, accents off (ñ → n, ü → u), every non-letter a space."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_LETTER.sub(" ", bare)


def phonetic(word: str) -> str:
    """The Spanish phonetic code of one word ("" for a word with no letters)."""
    return _code(_NOT_LETTER.sub("", _bare(word)))


def _code(code: str) -> str:
    """The rules, on a word already bare (lower case a-z only)."""
    for pattern, replacement in _RULES:
        if isinstance(pattern, str):
            code = code.replace(pattern, replacement)
        else:
            code = pattern.sub(replacement, code)
    return code


def name_codes(text: str, memo: dict[str, str] | None = None) -> list[str]:
    """The codes of the words of a name, in order, each once; particles and initials
    left out. `memo` (word → code) is a search's own: names repeat from one candidate
    to the next."""
    codes: list[str] = []
    for word in _bare(text).split()[: MAX_WORDS * 2]:
        if word in PARTICLES:
            continue
        code = memo.get(word) if memo is not None else None
        if code is None:
            code = _code(word)
            if memo is not None:
                memo[word] = code
        if len(code) >= MIN_CODE_LENGTH and code not in codes:
            codes.append(code)
    return codes[:MAX_WORDS]


def token_of(index_key: bytes, code: str) -> str:
    return blind_index(index_key, "name_token", code)


def name_tokens(index_key: bytes, given_names: str, family_names: str) -> list[str]:
    return [token_of(index_key, code) for code in name_codes(f"{given_names} {family_names}")]


def index_survivor_name(
    session: DbSession, ring: KeyRing, survivor: Any, given_names: str, family_names: str
) -> None:
    """(Re)write her name tokens: at intake, and whenever her name is corrected, so that
    the new spelling is found and the old one no longer is."""
    session.flush()  # her row first: the tokens point at it
    session.execute(delete(SurvivorNameToken).where(SurvivorNameToken.survivor_id == survivor.id))
    rows = [
        {"survivor_id": survivor.id, "token": token}
        for token in dict.fromkeys(name_tokens(ring.index_key, given_names, family_names))
    ]
    if rows:
        session.execute(insert(SurvivorNameToken), rows)


def phone_digits(phone: str | None) -> str | None:
    """Her number as digits only, without El Salvador's +503; None if it is no number."""
    digits = _NOT_DIGIT.sub("", phone or "")
    if len(digits) == len(PHONE_COUNTRY_CODE) + 8 and digits.startswith(PHONE_COUNTRY_CODE):
        digits = digits[len(PHONE_COUNTRY_CODE) :]
    return digits if len(digits) >= MIN_PHONE_DIGITS else None


def phone_index(ring: KeyRing, phone: str | None) -> str | None:
    """The phone's blind index (`Survivor.phone_bidx`), or None when there is no number."""
    digits = phone_digits(phone)
    return blind_index(ring.index_key, "phone", digits) if digits else None


def phone_probes(ring: KeyRing, phone: str | None) -> list[str] | None:
    """The phone's index under every index key still in use, or None without a number."""
    digits = phone_digits(phone)
    return blind_indexes(ring.index_keys.keys, "phone", digits) if digits else None


def reindex_batch(
    session: DbSession, ring: KeyRing, after: uuid.UUID | None, limit: int
) -> tuple[int, uuid.UUID | None]:
    """Rebuild the tokens and the phone index of the next `limit` survivors after `after`
    (decrypting each with her case's key); returns how many, and the last id."""
    batch = access.survivors_to_reindex(session, after, limit)
    if not batch:
        return 0, after
    rows = []
    for survivor, case in batch:
        cipher = cipher_for(ring, case.data_key)

        def read(name: str, survivor: Any = survivor, cipher: Any = cipher) -> str:
            blob = getattr(survivor, f"{name}_enc")
            return cipher.open_text("survivors", survivor.id, name, blob) or ""

        survivor.phone_bidx = phone_index(ring, read("phone"))
        tokens = name_tokens(ring.index_key, read("given_names"), read("family_names"))
        rows += [{"survivor_id": survivor.id, "token": t} for t in dict.fromkeys(tokens)]
    ids = [survivor.id for survivor, _case in batch]
    session.execute(delete(SurvivorNameToken).where(SurvivorNameToken.survivor_id.in_(ids)))
    if rows:
        session.execute(insert(SurvivorNameToken), rows)
    session.flush()
    return len(batch), ids[-1]


# ---- ranking the candidates ------------------------------------------------------------


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance (insertions, deletions, substitutions)."""
    if len(a) < len(b):
        a, b = b, a
    previous = list(range(len(b) + 1))
    for i, left in enumerate(a, 1):
        current = [i]
        last = i
        for j, right in enumerate(b):
            # deletion, insertion, substitution (free when the letters agree)
            last = min(previous[j + 1] + 1, last + 1, previous[j] + (left != right))
            current.append(last)
        previous = current
    return previous[-1]


def closeness(a: str, b: str) -> float:
    """1 for the same code, 0 for nothing in common; a prefix counts ("Lop" for López).
    Codes of very different lengths are not compared letter by letter (at most 0.5)."""
    if a == b:
        return 1.0
    if len(a) >= 3 and b.startswith(a):
        return 0.9
    longest = max(len(a), len(b))
    if 2 * abs(len(a) - len(b)) > longest:
        return 0.0
    return max(0.0, 1.0 - edit_distance(a, b) / longest)


def _best(word: str, candidate: list[str], memo: dict[tuple[str, str], float] | None) -> float:
    if word in candidate:
        return 1.0  # the usual case among candidates that share a token: no distance
    if memo is None:
        return max(closeness(word, code) for code in candidate)
    best = 0.0
    for code in candidate:
        value = memo.get((word, code))
        if value is None:
            value = memo[(word, code)] = closeness(word, code)
        best = max(best, value)
    return best


def similarity(
    typed: Sequence[str], known: Iterable[str], memo: dict[tuple[str, str], float] | None = None
) -> float:
    """How well her name (codes `known`) answers what was typed (codes `typed`): mostly
    how much of what was typed she has, a little how much of her name was typed. `memo`
    keeps one search's pairs: the same surnames come back candidate after candidate."""
    candidate = list(known)
    if not typed or not candidate:
        return 0.0
    found = [_best(word, candidate, memo) for word in typed]
    coverage = sum(found) / len(typed)
    typed_share = min(1.0, sum(1 for value in found if value >= 0.75) / len(candidate))
    return round(0.85 * coverage + 0.15 * typed_share, 4)


class Ranking:
    """The scoring of one search, with the memos of `name_codes` and `similarity`. They
    hold codes of the candidates' words and live no longer than the search."""

    def __init__(self, typed: Sequence[str]) -> None:
        self.typed = list(typed)
        self._words: dict[str, str] = {}
        self._pairs: dict[tuple[str, str], float] = {}

    def codes(self, full_name: str) -> list[str]:
        return name_codes(full_name, self._words)

    def score(self, full_name: str) -> float:
        return similarity(self.typed, self.codes(full_name), self._pairs)
