"""`records purge`: the records past their retention period, and the approved erasures,
made unreadable everywhere by destroying their keys.

For each case: the data key row is overwritten (`crypto.cohorts.shred`), her blind
indexes and name tokens go (a later intake of hers opens a new record instead of
matching one nobody can read), `purged_at` is set, one `record_purge` audit event is
written. Every ciphertext stays where it is and no longer opens; the plain statistical
columns stay, so the statistics count the same. The cohorts the batch's cases were
wrapped by are re-keyed for the cases that stay, and their old keys deleted from the key
file after the commit: every backup's copy of the purged keys is then useless too
(docs/retention.md). Each batch is one transaction: an interrupted run loses nothing and
a second run finds nothing more to do.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from sqlalchemy import delete, select

from app.audit.service import Actor, record_event
from app.cases import access
from app.cases.aggressors import forget_indexes
from app.cases.attachments import attachment_path
from app.cases.care_models import Attachment
from app.cases.models import Case
from app.cases.record_models import SurvivorNameToken
from app.core.db import DbSession
from app.core.time import local_today, utcnow
from app.crypto.cohorts import drop_destroyed, into_cohort, out_of_cohort, rekey_cohort, shred
from app.crypto.envelope import DecryptionError
from app.crypto.keyring import KeyNotFound, KeyRing, is_cohort_id
from app.crypto.service import cipher_for
from app.notifications.service import notify_supervisors
from app.retention import policy
from app.retention.models import ErasureRequest
from app.retention.service import approved_erasures

PURGE_ACTOR = Actor(None, "cli", None, "operator")
SWEEP_BATCH = 500


@dataclass
class PurgeReport:
    purged: list[str] = field(default_factory=list)  # case numbers
    erased: list[str] = field(default_factory=list)  # of which, by her erasure request
    # Purged while their key was under a KEK: backups made before this run still hold
    # it wrapped by a KEK that lives on (docs/retention.md, "what remains").
    under_kek: list[str] = field(default_factory=list)
    not_yet: int = 0  # candidates kept by the minor rule
    rekeyed: int = 0  # data keys moved to a fresh cohort key
    cohorts_destroyed: list[str] = field(default_factory=list)
    files_removed: int = 0  # attachment files deleted after their key was destroyed


def _closing_month(case: Case) -> str:
    closed = case.closed_at or utcnow()
    return closed.strftime("%Y-%m")


def sweep(session: DbSession, ring: KeyRing) -> int:
    """Closed cases still under a KEK into their closing month's cohort, reopened ones
    back under the KEK; committed per batch. Returns how many moved."""
    moved = 0
    while True:
        batch = access.keys_out_of_place(session, SWEEP_BATCH)
        if not batch:
            return moved
        for case in batch:
            if case.status == "closed":
                if not into_cohort(session, ring, case.data_key, _closing_month(case)):
                    raise OSError("the key file cannot be written: no cohort key for a case")
            else:
                out_of_cohort(ring, case.data_key)
        session.commit()
        moved += len(batch)


def _birth_date(ring: KeyRing, case: Case) -> date | None:
    survivor = case.survivor
    try:
        opened = cipher_for(ring, case.data_key).open_text(
            "survivors", survivor.id, "birth_date", survivor.birth_date_enc
        )
    except (DecryptionError, KeyNotFound):
        opened = None
    if opened:
        return date.fromisoformat(opened)
    return policy.latest_birth_date(survivor.birth_year)


def _due(ring: KeyRing, case: Case, years: int, today: date, erasing: bool) -> bool:
    if erasing:
        return True
    closed_on = (case.closed_at or utcnow()).date()
    return policy.retained_until(closed_on, _birth_date(ring, case), years) <= today


def _shred_case(session: DbSession, case: Case, now: datetime) -> None:
    shred(case.data_key)
    survivor = case.survivor
    survivor.dui_bidx = survivor.name_dob_bidx = survivor.phone_bidx = None
    session.execute(delete(SurvivorNameToken).where(SurvivorNameToken.survivor_id == survivor.id))
    forget_indexes(session, case.id)
    # Her slip's code and PIN find nothing any more (a blind index is 16 hex digits).
    case.status_code_bidx = "x" + secrets.token_hex(15)
    case.status_pin_hash = ""
    case.purged_at = now


def _purge_batch(
    session: DbSession,
    ring: KeyRing,
    cases: list[Case],
    erasures: dict[uuid.UUID, ErasureRequest],
    report: PurgeReport,
) -> None:
    leaving = {case.data_key.id for case in cases}
    cohorts = {case.data_key.kek_id for case in cases if is_cohort_id(case.data_key.kek_id)}
    for cohort_id in sorted(cohorts):
        report.rekeyed += rekey_cohort(session, ring, cohort_id, leaving)
    now = utcnow()
    for case in cases:
        if not is_cohort_id(case.data_key.kek_id):
            report.under_kek.append(case.number)
        _shred_case(session, case, now)
        request = erasures.get(case.id)
        if request is not None:
            request.status, request.carried_out_at = "done", now
            report.erased.append(case.number)
        report.purged.append(case.number)
        record_event(
            session,
            ring.audit_key,
            PURGE_ACTOR,
            "record_purge",
            object_type="case",
            object_id=case.id,
            case_id=case.id,
            detail="erasure" if request is not None else "retention",
        )
    session.flush()


def due_cases(
    session: DbSession, ring: KeyRing, years: int, today: date | None = None
) -> tuple[list[uuid.UUID], dict[uuid.UUID, ErasureRequest], int]:
    """The ids to purge now, the approved erasures, and how many the minor rule keeps."""
    today = today or local_today()
    erasures = approved_erasures(session)
    # Closed before the day after `today - years` (UTC days, as `_due` counts them):
    # a minor's record is kept longer, which `_due` decides with her birth date.
    start = policy.retained_until(today, None, -years) + timedelta(days=1)
    closed_before = datetime.combine(start, time.min, tzinfo=UTC)
    ids = access.purge_candidate_ids(session, closed_before, set(erasures))
    due, kept = [], 0
    for offset in range(0, len(ids), SWEEP_BATCH):
        for case in access.cases_to_purge(session, ids[offset : offset + SWEEP_BATCH]):
            if _due(ring, case, years, today, case.id in erasures):
                due.append(case.id)
            else:
                kept += 1
        session.rollback()  # release the locks: the purge takes them again per batch
    return due, erasures, kept


def purge(
    session: DbSession,
    ring: KeyRing,
    years: int,
    batch: int,
    progress: Callable[[int], None],
    due: list[uuid.UUID],
    erasures: dict[uuid.UUID, ErasureRequest],
    attachments_dir: Path,
) -> PurgeReport:
    """Shred `due` in batches (one transaction each), then report to the supervisors."""
    report = PurgeReport()
    for start in range(0, len(due), batch):
        ids = due[start : start + batch]
        cases = access.cases_to_purge(session, ids)  # re-checked and locked
        files = _storage_names(session, [case.id for case in cases])
        _purge_batch(session, ring, cases, erasures, report)
        session.commit()
        report.files_removed += remove_files(attachments_dir, files)
        report.cohorts_destroyed += drop_destroyed(session, ring)
        progress(len(ids))
    report.cohorts_destroyed += drop_destroyed(session, ring)
    _summarise(session, ring, report)
    session.commit()
    return report


def _storage_names(session: DbSession, case_ids: list[uuid.UUID]) -> list[str]:
    query = select(Attachment.storage_name).where(Attachment.case_id.in_(case_ids))
    return list(session.scalars(query))


def remove_files(directory: Path, storage_names: list[str]) -> int:
    """Delete a purged record's attachment files once its key is gone: they could not be
    opened any more, but a disk full of ciphertext nobody can read helps no one. Run after
    the commit, so a failed batch never loses a file its record still needs."""
    removed = 0
    for name in storage_names:
        path = attachment_path(directory, name)
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        removed += 1
    return removed


def _summarise(session: DbSession, ring: KeyRing, report: PurgeReport) -> None:
    record_event(
        session,
        ring.audit_key,
        PURGE_ACTOR,
        "record_purge",
        object_type="purge_run",
        detail=(
            f"purged={len(report.purged)};erasures={len(report.erased)};"
            f"cohort_keys_destroyed={len(report.cohorts_destroyed)};"
            f"files_removed={report.files_removed}"
        ),
    )
    if report.purged:
        notify_supervisors(session, "records_purged", reference=f"{len(report.purged)} expedientes")
