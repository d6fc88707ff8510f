"""Password hashing with argon2id (argon2-cffi's RFC 9106 low-memory profile), and the
rules a password a person chooses must meet.

Threat: a guessable password. Length alone lets `123456789012` through; zxcvbn scores how
many guesses a password would take, told what an attacker knows of its owner (her
username, name and institution) and of the network (its towns and institutions), so that
`sonsonate2026` or her own username fail too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask_babel import gettext

from app.core.errors import InvalidInput
from app.core.i18n import N_

MIN_LENGTH = 12
# Checked before hashing: an attacker's megabyte "password" must not cost us a megabyte hash.
MAX_LENGTH = 128
# zxcvbn's score, 0–4: 3 is "safely unguessable" (about 10^8 guesses and more).
MIN_SCORE = 3
# zxcvbn refuses longer input; the first 72 characters are what it judges.
SCORED_LENGTH = 72
# What anyone guessing a password of this network would try first.
NETWORK_WORDS = (
    "ruta",
    "sonsonate",
    "acajutla",
    "sonzacate",
    "izalco",
    "nahuizalco",
    "salvador",
    "elsalvador",
    "pnc",
    "policia",
    "fgr",
    "pgr",
    "isdemu",
    "ciudad mujer",
    "unidad",
    "salud",
    "mujer",
    "clave",
    "contraseña",
)
CHOOSING_ADVICE = N_(
    "Use una frase de cuatro o más palabras que solo usted conozca y que no tengan que ver "
    "con su nombre, su trabajo ni su institución."
)

_hasher = PasswordHasher()
# Verified for unknown usernames so that they take as long as a wrong password.
_dummy_hash: str | None = None


def _dummy() -> str:
    """Made on first use, not at import: every CLI call would pay for it otherwise."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = _hasher.hash("ruta-dummy-password-for-timing")
    return _dummy_hash


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, {"password": [message]})


def check_password_rules(password: str) -> None:
    """Length only: what every stored password meets, generated ones included."""
    if len(password) < MIN_LENGTH:
        raise _refuse(gettext("La contraseña debe tener al menos %(n)s caracteres.", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        raise _refuse(
            gettext("La contraseña puede tener como máximo %(n)s caracteres.", n=MAX_LENGTH)
        )


def password_context(*values: str | None) -> list[str]:
    """What an attacker knows of the account, whole and word by word, with the network's
    own words: zxcvbn's `user_inputs`."""
    words: list[str] = []
    for value in values:
        if not value:
            continue
        words.append(value.lower())
        words += [part for part in re.split(r"[\W_]+", value.lower()) if len(part) >= 3]
    return list(dict.fromkeys([*words, *NETWORK_WORDS]))


# Why zxcvbn found it guessable, from the kind of pattern it matched, most telling first.
_REASONS = (
    ("user_inputs", N_("se parece a su usuario, su nombre, su institución o un lugar de la red")),
    ("passwords", N_("es una de las contraseñas más usadas")),
    ("spatial", N_("sigue las teclas del teclado (como «qwerty»)")),
    ("sequence", N_("es una serie (como «1234» o «abcd»)")),
    ("repeat", N_("repite caracteres o grupos (como «aaaa» o «abcabc»)")),
    ("date", N_("contiene una fecha o un año")),
    ("regex", N_("contiene una fecha o un año")),
    ("dictionary", N_("se basa en palabras o nombres comunes")),
)


def _reason(matches: Iterable[dict[str, Any]]) -> str:
    kinds = {m.get("dictionary_name") or m.get("pattern") for m in matches}
    kinds |= {m.get("pattern") for m in matches}
    reason = next((text for kind, text in _REASONS if kind in kinds), N_("es fácil de adivinar"))
    return gettext(reason)


def _only_known_words(lowered: str, context: list[str]) -> bool:
    """Nothing but her names, her institution and the network's words, with digits and
    punctuation between (`pnc-son pnc-son`): zxcvbn may score the separators highly."""
    rest = lowered
    for word in sorted(context, key=len, reverse=True):
        rest = rest.replace(word, "") if len(word) >= 3 else rest
    return sum(ch.isalpha() for ch in rest) < 4


def check_new_password(
    password: str,
    *,
    username: str = "",
    display_name: str = "",
    institution_code: str = "",
    institution_name: str = "",
) -> None:
    """The rules for a password a person chooses: its length, not her own username or
    name inside it, and hard to guess for someone who knows who she is. Raises
    InvalidInput with a message in Spanish that says why and what to do instead."""
    from zxcvbn import zxcvbn  # loaded on first use: its word lists cost every CLI start

    check_password_rules(password)
    lowered = password.lower()
    if any(len(name) >= 4 and name.lower() in lowered for name in (username, display_name)):
        raise _refuse(
            gettext("Esta contraseña contiene su nombre de usuario o su nombre. ")
            + gettext(CHOOSING_ADVICE)
        )
    context = password_context(username, display_name, institution_code, institution_name)
    result = zxcvbn(password[:SCORED_LENGTH], user_inputs=context)
    if result["score"] < MIN_SCORE or _only_known_words(lowered, context):
        reason = _reason(result["sequence"])
        raise _refuse(
            gettext("Esta contraseña es fácil de adivinar: %(reason)s.", reason=reason)
            + " "
            + gettext(CHOOSING_ADVICE)
        )


def hash_password(password: str) -> str:
    check_password_rules(password)
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-shape check: always runs one argon2 verification."""
    if len(password) > MAX_LENGTH:
        password, stored_hash = "", None  # refuse, but spend the same time doing so
    try:
        return _hasher.verify(stored_hash or _dummy(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return _hasher.check_needs_rehash(stored_hash)


def rehash_password(password: str) -> str:
    """A new hash for a password that just verified (its rules were checked when set)."""
    return _hasher.hash(password)


def hash_secret(secret: str) -> str:
    """argon2id for short secrets that are not passwords (the survivor's status PIN)."""
    return _hasher.hash(secret)


def verify_secret(stored_hash: str, secret: str) -> bool:
    try:
        return _hasher.verify(stored_hash, secret)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False
