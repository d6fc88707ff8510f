"""The counter-referral (contrarreferencia): what the receiver did, the next step, and
whom to contact, written when it completes a referral.

It is kept in the referral's sealed `outcome` column, under the case's key, as JSON
behind a version marker: no new column, no plaintext anywhere, and an outcome written
before it (one line of text) still reads, as "what was done".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

# Starts every structured outcome; a one-line outcome of before never started so.
MARKER = "ruta-contrarreferencia/1\n"
FIELDS = ("done", "next_step", "contact")
MAX_LENGTH = 5000


@dataclass(frozen=True)
class CounterReferral:
    done: str
    next_step: str | None = None
    contact: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"done": self.done, "next_step": self.next_step, "contact": self.contact}


def pack(counter: CounterReferral) -> str:
    """The text sealed into `outcome`."""
    return MARKER + json.dumps(counter.as_dict(), ensure_ascii=False, sort_keys=True)


def unpack(text: str | None) -> CounterReferral | None:
    """The counter-referral of an opened outcome; an old plain outcome is what was done."""
    if text is None:
        return None
    if not text.startswith(MARKER):
        return CounterReferral(done=text)
    values = json.loads(text[len(MARKER) :])
    return CounterReferral(
        done=str(values.get("done") or ""),
        next_step=values.get("next_step") or None,
        contact=values.get("contact") or None,
    )
