"""A case's data key replaced: every ciphertext of her record opened with the old key
and sealed again with a new one, attachments on disk included; the old key destroyed.

What is sealed with a case's key is the merge's list (`merge.PARTS`, the safety plan,
the attachments' files, the movers of the packages above cases: referrals) plus what a
merge leaves where it is: her survivor row, the case row, the reasons of its merges,
and every other table with a `case_id` and sealed (`*_enc`) columns, found from the
models, so that a new one is never forgotten. `tests/test_rekey_cases.py` fails on a
sealed table that none of these reaches. The associated data (table, row id, field) is
unchanged: only the key differs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.audit.service import Actor, record_event
from app.cases import access, merge
from app.cases.care_models import SafetyPlan
from app.cases.models import Case
from app.cases.record_models import CaseMerge
from app.core.db import DbSession
from app.crypto.cohorts import into_cohort, shred
from app.crypto.keyring import KeyRing, is_cohort_id
from app.crypto.service import cipher_for, create_data_key
from app.extensions import Base

# Sealed with a case's key but not through `case_id`: handled one by one below.
BY_HAND = frozenset({"survivors", "cases", "case_merges"})
# Not sealed with a case's key at all: a user's own key, the KEK's stash key.
NOT_CASE_KEYS = frozenset({"users", "form_stashes"})
MERGED_TOO = frozenset({*merge.PARTS, "safety_plans"})


def staying_tables(covered_by_movers: Sequence[str]) -> list[Any]:
    """Tables sealed with the case key that a merge leaves with its case (break-glass
    reasons, erasure requests…): every table with a `case_id` and a sealed column."""
    skip = MERGED_TOO | BY_HAND | NOT_CASE_KEYS | set(covered_by_movers)
    return [
        table
        for table in Base.metadata.sorted_tables
        if table.name not in skip
        and "case_id" in table.c
        and any(column.name.endswith("_enc") for column in table.c)
    ]


def _reseal_row(relocation: merge.Relocation, table: str, row: Any) -> None:
    for column in merge.sealed_columns(type(row)):
        sealed = getattr(row, column)
        if sealed is not None:
            setattr(row, column, relocation.reseal(table, row.id, column[:-4], sealed))


def _reseal_staying(session: DbSession, relocation: merge.Relocation, tables: list[Any]) -> None:
    case = relocation.source
    _reseal_row(relocation, "survivors", case.survivor)
    _reseal_row(relocation, "cases", case)
    for row in session.execute(select(CaseMerge).where(CaseMerge.surviving_case_id == case.id)):
        _reseal_row(relocation, "case_merges", row[0])
    for table in tables:
        rows = session.execute(select(table).where(table.c.case_id == case.id)).all()
        for row in rows:
            values = {
                name: relocation.reseal(table.name, row.id, name[:-4], getattr(row, name))
                for name in (column.name for column in table.c)
                if name.endswith("_enc") and getattr(row, name) is not None
            }
            if values:
                session.execute(table.update().where(table.c.id == row.id).values(**values))


def _reseal_merged_parts(
    session: DbSession, relocation: merge.Relocation, directory: Path, movers: Sequence[Any]
) -> None:
    """What a merge would move, re-sealed in place: the record onto itself."""
    for table, model in {**merge.PARTS, "safety_plans": SafetyPlan}.items():
        relocation.moved[table] = merge.move_part(session, relocation, table, model)
    merge.move_files(session, relocation, directory)
    for mover in movers:
        relocation.moved.update(mover(session, relocation))


def _new_key_for(session: DbSession, ring: KeyRing, case: Case) -> Any:
    old = case.data_key
    row, cipher = create_data_key(session, ring)
    if is_cohort_id(old.kek_id) and case.closed_at is not None:
        into_cohort(session, ring, row, case.closed_at.strftime("%Y-%m"))
    return row, cipher


def rekey_case(
    session: DbSession,
    ring: KeyRing,
    actor: Actor,
    case: Case,
    directory: Path,
    movers: Sequence[Any] = (),
    covered_by_movers: Sequence[str] = (),
) -> list[Path]:
    """Seal the whole record under a new data key and destroy the old one (unless another
    record still shares it); audited. Returns the old attachment files, to delete once
    the caller has committed (until then they are what the database points at)."""
    old_key = case.data_key
    new_key, new_cipher = _new_key_for(session, ring, case)
    session.flush()
    relocation = merge.Relocation(case, case, cipher_for(ring, old_key), new_cipher)
    _reseal_merged_parts(session, relocation, directory, movers)
    _reseal_staying(session, relocation, staying_tables(covered_by_movers))
    case.data_key_id = new_key.id
    case.data_key = new_key
    session.flush()
    if access.cases_sharing_data_key(session, old_key.id) == 0:
        shred(old_key)
    record_event(
        session,
        ring.audit_key,
        actor,
        "case_rekey",
        object_type="case",
        object_id=case.id,
        case_id=case.id,
        detail=f"files={len(relocation.moved.get('files_left', []))}",
    )
    left = relocation.moved.get("files_left", [])
    return [directory / name for name in left]
