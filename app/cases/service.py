"""The single record: open or join a survivor's case, add to it, find it, read it.

Services take the session, the key ring and the acting user explicitly, flush but never
commit, and raise the typed errors of `app.common`.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import exists, insert, select, text
from sqlalchemy.orm import contains_eager, joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from app.auth.models import Municipality, User
from app.auth.passwords import hash_secret, verify_secret
from app.auth.policy import may_work_on_cases, party_clause, visible_cases_clause
from app.cases.models import Case, CaseParty, Consent, Incident, Survivor, incident_violence_types
from app.cases.numbering import next_case_number
from app.cases.records import SURVIVOR_SECRET_FIELDS
from app.cases.validators import date_problem, normalise_dui
from app.cases.vocab import age_group, age_on, context_of, gbvims_type
from app.common import DbSession, Forbidden, InvalidInput, NotFound, local_today, utcnow
from app.crypto.blind_index import blind_index, name_dob_key, normalise_name
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for, create_data_key

STATUS_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud safely
SURVIVOR_FIELDS = SURVIVOR_SECRET_FIELDS


@dataclass
class IntakeResult:
    case: Case
    matched_existing: bool
    status_code: str | None = None
    status_pin: str | None = None


@dataclass
class Match:
    survivor: Survivor
    case: Case
    cipher: FieldCipher


# ---- lookups shared by intake and search ----------------------------------------------


def resolve_municipality(session: DbSession, value: str, field: str) -> str:
    """Accept a municipality's code or its name written any way; answer the code."""
    wanted = normalise_name(value).replace(" ", "_")
    rows = session.execute(select(Municipality.code, Municipality.name)).all()
    for code, name in rows:
        if wanted in (code, normalise_name(name).replace(" ", "_")):
            return code
    # "survivor.municipality" → {"survivor": {"municipality": [...]}}, as the schemas nest.
    *parents, name = field.split(".")
    errors: dict[str, Any] = {name: ["Municipio desconocido."]}
    for parent in reversed(parents):
        errors = {parent: errors}
    raise InvalidInput("unknown municipality", errors)


def _candidates(session: DbSession, column: Any, value: str) -> list[tuple[Survivor, Case]]:
    stmt = (
        select(Survivor, Case)
        .join(Case, Case.survivor_id == Survivor.id)
        .options(joinedload(Case.data_key))
        .where(column == value)
    )
    return [(row[0], row[1]) for row in session.execute(stmt).all()]


def _open_survivor(match_cipher: FieldCipher, survivor: Survivor, field: str) -> str | None:
    return match_cipher.open_text(
        "survivors", survivor.id, field, getattr(survivor, f"{field}_enc")
    )


def find_survivor(
    session: DbSession, ring: KeyRing, dui: str | None, full_name: str, birth_date: date
) -> Match | None:
    """By DUI first, else by normalised full name and birth date; confirmed by decrypting."""
    if dui:
        for survivor, case in _candidates(
            session, Survivor.dui_bidx, blind_index(ring.index_key, "dui", dui)
        ):
            cipher = cipher_for(ring, case.data_key)
            if _open_survivor(cipher, survivor, "dui") == dui:
                return Match(survivor, case, cipher)
    key = name_dob_key(full_name, "", birth_date.isoformat())
    for survivor, case in _candidates(
        session, Survivor.name_dob_bidx, blind_index(ring.index_key, "name_dob", key)
    ):
        cipher = cipher_for(ring, case.data_key)
        known_dui = _open_survivor(cipher, survivor, "dui")
        if dui and known_dui and known_dui != dui:
            continue  # same name and birthday, different DUI: another woman
        if _same_name_and_birth(cipher, survivor, full_name, birth_date):
            return Match(survivor, case, cipher)
    return None


def _same_name_and_birth(
    cipher: FieldCipher, survivor: Survivor, full_name: str, birth_date: date
) -> bool:
    given = _open_survivor(cipher, survivor, "given_names")
    family = _open_survivor(cipher, survivor, "family_names")
    known = _comparable_name(f"{given} {family}")
    return (
        known != ""
        and known == _comparable_name(full_name)
        and _open_survivor(cipher, survivor, "birth_date") == birth_date.isoformat()
    )


_NOT_WORD = re.compile(r"[\W_]+")


def _comparable_name(text: str) -> str:
    """Like `normalise_name` (case, accents, spaces and punctuation ignored), but letters
    of every script count: "Анна" and "Мария" both normalise to "" for the blind index,
    which only narrows the candidates; this comparison decides."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_WORD.sub(" ", bare.lower()).strip()


def _lock_identity(session: DbSession, keys: list[str]) -> None:
    """Serialise intakes of the same survivor on PostgreSQL (SQLite serialises all writers)."""
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted(keys):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": int(key[:15], 16)})


# ---- intake ----------------------------------------------------------------------------


def require_case_role(user: User) -> None:
    if not may_work_on_cases(user):
        raise Forbidden("this role does not work on case records")


def _incident_date_problem(occurred_on: date, birth_date: date | None) -> str | None:
    problem = date_problem(occurred_on, local_today())
    if problem is None and birth_date and occurred_on < birth_date:
        problem = "El hecho no puede ser anterior a la fecha de nacimiento."
    return problem


def _new_status_credentials(session: DbSession, ring: KeyRing) -> tuple[str, str, str, str]:
    code = "-".join(
        "".join(secrets.choice(STATUS_CODE_ALPHABET) for _ in range(4)) for _ in range(2)
    )
    pin = f"{secrets.randbelow(10**6):06d}"
    return code, pin, blind_index(ring.index_key, "status_code", code), hash_secret(pin)


def _seal_survivor(cipher: FieldCipher, survivor: Survivor, data: dict[str, Any]) -> None:
    for field in SURVIVOR_FIELDS:
        value = data.get(field)
        if isinstance(value, date):
            value = value.isoformat()
        setattr(
            survivor, f"{field}_enc", cipher.seal("survivors", survivor.id, field, value or None)
        )


def _survivor_indexes(ring: KeyRing, data: dict[str, Any]) -> tuple[str | None, str]:
    dui_bidx = blind_index(ring.index_key, "dui", data["dui"]) if data.get("dui") else None
    full_name = f"{data['given_names']} {data['family_names']}"
    name_bidx = blind_index(
        ring.index_key, "name_dob", name_dob_key(full_name, "", data["birth_date"].isoformat())
    )
    return dui_bidx, name_bidx


def _clean_survivor(session: DbSession, data: dict[str, Any]) -> dict[str, Any]:
    data = dict(data)
    data["dui"] = normalise_dui(data["dui"]) if data.get("dui") else None
    data["given_names"] = " ".join(data["given_names"].split())
    data["family_names"] = " ".join(data["family_names"].split())
    data["municipality"] = resolve_municipality(
        session, data["municipality"], "survivor.municipality"
    )
    return data


def open_case(
    session: DbSession,
    ring: KeyRing,
    user: User,
    intake: dict[str, Any],
    department: str,
) -> IntakeResult:
    """Open the survivor's single record, or add to it when she is already on file."""
    require_case_role(user)
    survivor_data = _clean_survivor(session, intake["survivor"])
    incident = dict(intake["incident"])
    incident["municipality"] = resolve_municipality(
        session, incident["municipality"], "incident.municipality"
    )
    problem = _incident_date_problem(incident["occurred_on"], survivor_data["birth_date"])
    if problem:
        raise InvalidInput(problem, {"incident": {"occurred_on": [problem]}})
    dui_bidx, name_bidx = _survivor_indexes(ring, survivor_data)
    _lock_identity(session, [k for k in (dui_bidx, name_bidx) if k])
    full_name = f"{survivor_data['given_names']} {survivor_data['family_names']}"
    match = find_survivor(
        session, ring, survivor_data["dui"], full_name, survivor_data["birth_date"]
    )
    if match:
        _join_existing(session, ring, user, match, survivor_data, dui_bidx)
        result = IntakeResult(match.case, matched_existing=True)
        cipher = match.cipher
    else:
        result, cipher = _create_case(
            session, ring, user, survivor_data, department, dui_bidx, name_bidx
        )
    _add_incident_row(session, cipher, user, result.case, incident, survivor_data["birth_date"])
    record_consent(session, user, result.case, intake.get("consent") or {})
    session.flush()
    return result


def _create_case(
    session: DbSession,
    ring: KeyRing,
    user: User,
    data: dict[str, Any],
    department: str,
    dui_bidx: str | None,
    name_bidx: str,
) -> tuple[IntakeResult, FieldCipher]:
    key_row, cipher = create_data_key(session, ring)
    survivor = Survivor(
        id=uuid.uuid4(),
        dui_bidx=dui_bidx,
        name_dob_bidx=name_bidx,
        sex=data["sex"],
        birth_year=data["birth_date"].year,
        municipality=data["municipality"],
        disability=data.get("disability"),
    )
    _seal_survivor(cipher, survivor, data)
    code, pin, code_bidx, pin_hash = _new_status_credentials(session, ring)
    case = Case(
        id=uuid.uuid4(),
        number=next_case_number(session, department, local_today().year),
        survivor_id=survivor.id,
        data_key_id=key_row.id,
        opened_by_institution_id=user.institution_id,
        opened_by_user_id=user.id,
        status_code_bidx=code_bidx,
        status_pin_hash=pin_hash,
        mandatory_report=age_on(data["birth_date"], local_today()) < 18,
    )
    session.add_all([survivor, case])
    session.flush()
    add_party(session, case, user.institution_id, "opened", user)
    return IntakeResult(case, matched_existing=False, status_code=code, status_pin=pin), cipher


def _join_existing(
    session: DbSession,
    ring: KeyRing,
    user: User,
    match: Match,
    data: dict[str, Any],
    dui_bidx: str | None,
) -> None:
    survivor = match.survivor
    if data["dui"] and survivor.dui_enc is None:
        # Found by name and birth date; the DUI she brings now completes the record.
        survivor.dui_enc = match.cipher.seal("survivors", survivor.id, "dui", data["dui"])
        survivor.dui_bidx = dui_bidx
    add_party(session, match.case, user.institution_id, "matched_intake", user)
    match.case.updated_at = utcnow()


def add_party(
    session: DbSession,
    case: Case,
    institution_id: int,
    reason: str,
    user: User | None,
    referral_id: uuid.UUID | None = None,
) -> CaseParty | None:
    """Make the institution a party unless it already is one for the same reason."""
    live = session.execute(
        select(CaseParty.id).where(
            CaseParty.case_id == case.id,
            CaseParty.institution_id == institution_id,
            CaseParty.ended_at.is_(None),
            CaseParty.referral_id.is_(None)
            if referral_id is None
            else CaseParty.referral_id == referral_id,
        )
    ).first()
    if live:
        return None
    party = CaseParty(
        case_id=case.id,
        institution_id=institution_id,
        reason=reason,
        referral_id=referral_id,
        added_by_user_id=user.id if user else None,
    )
    session.add(party)
    return party


def record_consent(session: DbSession, user: User, case: Case, consent: dict[str, Any]) -> Consent:
    row = Consent(
        case_id=case.id,
        share_with_network=bool(consent.get("share_with_network")),
        statistics=bool(consent.get("statistics")),
        police=bool(consent.get("police")),
        recorded_by_user_id=user.id,
        recorded_by_institution_id=user.institution_id,
    )
    session.add(row)
    case.consent_network = row.share_with_network
    case.consent_statistics = row.statistics
    case.consent_police = row.police
    return row


def _add_incident_row(
    session: DbSession,
    cipher: FieldCipher,
    user: User,
    case: Case,
    data: dict[str, Any],
    birth_date: date | None,
) -> Incident:
    types = sorted(set(data["violence_types"]))
    age = age_on(birth_date, data["occurred_on"]) if birth_date else None
    incident = Incident(
        id=uuid.uuid4(),
        case_id=case.id,
        occurred_on=data["occurred_on"],
        reported_on=local_today(),
        municipality=data["municipality"],
        place_type=data.get("place_type"),
        violence_codes=" ".join(types),
        penetration=data.get("penetration"),
        perpetrator_relationship=data["perpetrator_relationship"],
        weapon=data.get("weapon"),
        children_present=data.get("children_present"),
        age_group=age_group(age) if age is not None else None,
        gbvims_type=gbvims_type(
            types,
            bool(data.get("penetration")),
            bool(data.get("sexual_contact")),
            bool(data.get("forced_marriage")),
        ),
        context=context_of(data["perpetrator_relationship"], types, age),
        entry_institution_id=user.institution_id,
        recorded_by_user_id=user.id,
    )
    incident.narrative_enc = cipher.seal(
        "incidents", incident.id, "narrative", data.get("narrative") or None
    )
    incident.perpetrator_details_enc = cipher.seal(
        "incidents", incident.id, "perpetrator_details", data.get("perpetrator_details") or None
    )
    session.add(incident)
    session.flush()
    session.execute(
        insert(incident_violence_types),
        [{"incident_id": incident.id, "violence_type": code} for code in types],
    )
    return incident


# ---- reading and adding ----------------------------------------------------------------


ALWAYS_PRESENT = ("incidents", "parties", "consents")  # every intake writes one of each


def _optional_parts() -> dict[str, Any]:
    """The parts of a record that many cases do not have yet, by attribute name."""
    from app.cases.care_models import (
        Attachment,
        CareNote,
        CaseStatusChange,
        FollowUp,
        RiskAssessment,
        SafetyPlan,
    )
    from app.cases.legal_models import Complaint
    from app.referrals.models import Referral

    return {
        "notes": CareNote,
        "follow_ups": FollowUp,
        "risk_assessments": RiskAssessment,
        "safety_plan": SafetyPlan,
        "attachments": Attachment,
        "complaints": Complaint,
        "referrals": Referral,
        "status_changes": CaseStatusChange,
    }


def _part_option(name: str) -> Any:
    from app.referrals.models import Referral

    option = selectinload(getattr(Case, name))
    return option.selectinload(Referral.events) if name == "referrals" else option


def load_full_case(session: DbSession, stmt: Any, case_id: uuid.UUID) -> Case | None:
    """Run `stmt` (one case, access already in its WHERE) loading the whole record.

    One EXISTS query tells which optional parts the case has; only those are loaded
    (one query each) and the others are set empty, instead of querying for nothing.
    """
    parts = _optional_parts()
    present = (
        session.execute(
            select(
                *[
                    exists().where(model.case_id == case_id).label(name)
                    for name, model in parts.items()
                ]
            )
        )
        .one()
        ._asdict()
    )
    names = [*ALWAYS_PRESENT, *(name for name in parts if present[name])]
    case = session.execute(stmt.options(*map(_part_option, names))).unique().scalar_one_or_none()
    if case is not None:
        for name in parts:
            if not present[name]:
                set_committed_value(case, name, None if name == "safety_plan" else [])
    return case


def get_case_for(
    session: DbSession, user: User, case_id: uuid.UUID | None, *, full: bool = False
) -> Case:
    """The one way to load a case: 404 unless the user's institution is a live party."""
    require_case_role(user)
    if case_id is None:
        raise NotFound("case not found")
    stmt = (
        select(Case)
        .join(Case.survivor)
        .options(contains_eager(Case.survivor), joinedload(Case.data_key))
        .where(Case.id == case_id, visible_cases_clause(user))
    )
    if full:
        case = load_full_case(session, stmt, case_id)
    else:
        case = session.execute(stmt).unique().scalar_one_or_none()
    if case is None:
        raise NotFound("case not found")
    return case


def cipher_of_checked_case(
    session: DbSession, ring: KeyRing, case_id: uuid.UUID | None
) -> FieldCipher:
    """The cipher of a case a service has already loaded through `get_case_for` in this
    request: the identity map answers, so no second query and no second access check."""
    case = session.get(Case, case_id, options=[joinedload(Case.data_key)]) if case_id else None
    if case is None:
        raise NotFound("case not found")
    return cipher_for(ring, case.data_key)


def add_incident(
    session: DbSession, ring: KeyRing, user: User, case_id: uuid.UUID | None, data: dict[str, Any]
) -> Incident:
    case = get_case_for(session, user, case_id)
    data = dict(data)
    data["municipality"] = resolve_municipality(session, data["municipality"], "municipality")
    cipher = cipher_for(ring, case.data_key)
    birth = _open_survivor(cipher, case.survivor, "birth_date")
    birth_date = date.fromisoformat(birth) if birth else None
    problem = _incident_date_problem(data["occurred_on"], birth_date)
    if problem:
        raise InvalidInput(problem, {"occurred_on": [problem]})
    incident = _add_incident_row(session, cipher, user, case, data, birth_date)
    case.updated_at = utcnow()
    session.flush()
    return incident


def search_cases(
    session: DbSession,
    ring: KeyRing,
    user: User,
    *,
    dui: str | None = None,
    name: str | None = None,
    birth_date: date | None = None,
) -> list[Case]:
    """Exact matches among the cases the user may see; the filter is in the query."""
    require_case_role(user)
    if dui:
        column, value = (
            Survivor.dui_bidx,
            blind_index(ring.index_key, "dui", normalise_dui(dui) or ""),
        )
    elif name and birth_date:
        column = Survivor.name_dob_bidx
        value = blind_index(
            ring.index_key, "name_dob", name_dob_key(name, "", birth_date.isoformat())
        )
    else:
        raise InvalidInput(
            "give dui, or name and birth_date", {"name": ["Este dato es obligatorio."]}
        )
    stmt = (
        select(Case)
        .join(Case.survivor)
        .options(contains_eager(Case.survivor), joinedload(Case.data_key))
        .where(column == value, party_clause(user.institution_id))
        .order_by(Case.created_at)
    )
    cases = session.execute(stmt).unique().scalars().all()
    return [case for case in cases if _confirms(ring, case, dui, name, birth_date)]


def _confirms(
    ring: KeyRing, case: Case, dui: str | None, name: str | None, birth_date: date | None
) -> bool:
    cipher = cipher_for(ring, case.data_key)
    survivor = case.survivor
    if dui:
        return _open_survivor(cipher, survivor, "dui") == normalise_dui(dui)
    return bool(name and birth_date) and _same_name_and_birth(
        cipher,
        survivor,
        name or "",
        birth_date,  # type: ignore[arg-type]
    )


def verify_status_pin(pin_hash: str, pin: str) -> bool:
    return verify_secret(pin_hash, pin)
