"""Retention cohorts: the data keys of closed cases, wrapped by a key of the month they
closed in, so that destroying a key in the key file reaches every backup of the database.

Threat: a database backup keeps each data key wrapped as it was when the backup was
made. Overwriting a data key row destroys it in the live database only; the backup's
copy still opens while the key that wrapped it exists. A closed case's data key is
therefore wrapped by its month's cohort key, which exists only in the key file. To
shred one case, every other data key of its cohort moves to a fresh key of the same
month and the old cohort key is deleted from the key file: every copy of that case's
wrapped key, in any backup made since it closed, stops opening. docs/retention.md.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from sqlalchemy import select

from app.core.db import DbSession
from app.core.time import utcnow
from app.crypto.envelope import unwrap_data_key, wrap_data_key, wrapped_kek_id
from app.crypto.keyring import KeyFileError, KeyRing, is_cohort_id
from app.crypto.models import PURGED_KEK_ID, DataKey, RetentionCohort


def is_shredded(data_key: DataKey) -> bool:
    return data_key.kek_id == PURGED_KEK_ID


def shred(data_key: DataKey) -> None:
    """Overwrite the wrapped key: this row opens nothing any more."""
    data_key.wrapped = b""
    data_key.kek_id = PURGED_KEK_ID


def _rewrap(ring: KeyRing, data_key: DataKey, kek_id: str) -> None:
    plain = unwrap_data_key(
        ring.kek(wrapped_kek_id(data_key.wrapped)), data_key.id, data_key.wrapped
    )
    data_key.wrapped = wrap_data_key(kek_id, ring.kek(kek_id), data_key.id, plain)
    data_key.kek_id = kek_id


def _fresh_cohort(session: DbSession, ring: KeyRing, month: str) -> RetentionCohort:
    # The key is on disk before the row that names it, and before anything it wraps.
    row = RetentionCohort(id=ring.add_cohort(month), month=month)
    session.add(row)
    session.flush()
    return row


def live_cohort(session: DbSession, ring: KeyRing, month: str) -> RetentionCohort:
    """The month's live cohort, locked (a purge re-keying it waits, or is waited for),
    or a new one."""
    stmt = (
        select(RetentionCohort)
        .where(RetentionCohort.month == month, RetentionCohort.destroyed_at.is_(None))
        .order_by(RetentionCohort.created_at.desc())
        .limit(1)
        .with_for_update()
    )
    row = session.execute(stmt).scalar_one_or_none()
    if row is not None and row.id not in ring.cohort_ids():
        ring.refresh(force=True)  # another worker made it a moment ago
    if row is not None and row.id in ring.cohort_ids():
        return row
    return _fresh_cohort(session, ring, month)


def into_cohort(session: DbSession, ring: KeyRing, data_key: DataKey, month: str) -> bool:
    """Wrap a closing case's data key with its month's cohort key. False when the key
    file cannot be written now: it stays under the KEK and the next purge moves it."""
    if is_shredded(data_key) or is_cohort_id(data_key.kek_id):
        return True
    try:
        cohort = live_cohort(session, ring, month)
    except (KeyFileError, OSError):
        return False
    _rewrap(ring, data_key, cohort.id)
    return True


def out_of_cohort(ring: KeyRing, data_key: DataKey) -> None:
    """A reopened case goes back under the active KEK (and `keys rotate`)."""
    if is_cohort_id(data_key.kek_id):
        _rewrap(ring, data_key, ring.active_kek_id)


def rekey_cohort(
    session: DbSession, ring: KeyRing, cohort_id: str, leaving: Collection[uuid.UUID]
) -> int:
    """Move every data key of the cohort except `leaving` to a fresh key of the same
    month and mark the old one destroyed; the caller commits, then `drop_destroyed`."""
    row = session.get(RetentionCohort, cohort_id, with_for_update=True)
    month = row.month if row is not None else "0000-00"
    stmt = select(DataKey).where(DataKey.kek_id == cohort_id).with_for_update()
    staying = [key for key in session.execute(stmt).scalars() if key.id not in set(leaving)]
    if staying:
        fresh = _fresh_cohort(session, ring, month)
        for data_key in staying:
            _rewrap(ring, data_key, fresh.id)
    if row is not None:
        row.destroyed_at = utcnow()
    return len(staying)


def drop_destroyed(session: DbSession, ring: KeyRing) -> list[str]:
    """Delete from the key file the cohort keys the database says are destroyed (after
    the commit that moved what they still wrapped; also what an interrupted run left)."""
    in_ring = ring.cohort_ids()
    if not in_ring:
        return []
    stmt = select(RetentionCohort.id).where(
        RetentionCohort.id.in_(in_ring), RetentionCohort.destroyed_at.is_not(None)
    )
    destroyed = list(session.execute(stmt).scalars())
    still_used = set(
        session.execute(select(DataKey.kek_id).where(DataKey.kek_id.in_(destroyed))).scalars()
    )
    gone = [cohort_id for cohort_id in destroyed if cohort_id not in still_used]
    ring.drop_cohorts(gone)
    return gone
