"""Marking texts for the English catalogue without translating them where they are kept.

A code's Spanish label (a violence type, a relationship) is plain text in the domain: the
API, the exports and the statistics use it as it is. `N_` only marks it, so that babel
(which extracts `N_` by default) puts it in the catalogue; the pages translate it when
they show it (`app/web/labels.py`, the select lists of `app/web/formtools.py`).
"""

from __future__ import annotations


def N_(text: str) -> str:  # the name gettext tools look for
    return text


class TranslatedWhenFormatted(str):
    """A Spanish message that a library formats when it raises it (marshmallow calls
    `.format()` on every message it sends): translated at that moment, in the language
    of the request, and still a `str` everywhere else."""

    __slots__ = ()

    def format(self, *args: object, **kwargs: object) -> str:
        from flask_babel import gettext

        return gettext(str(self)).format(*args, **kwargs)


def later(text: str) -> str:
    """`text` (marked with `N_` for the catalogue) translated when formatted."""
    return TranslatedWhenFormatted(text)
