"""The single record: open or join a survivor's case, add to it, find it, read it.

Services take the session, the key ring and the `Caller` explicitly, load the case
through `access.case_for`, write their own audit rows, flush but never commit, and raise
the typed errors of `app.core.errors`.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask_babel import gettext
from sqlalchemy import insert, text

from app.audit.service import audit, audit_change
from app.auth.caller import Caller
from app.auth.hourly_cap import CapReached
from app.auth.passwords import hash_secret, verify_secret
from app.auth.throttle_store import charge_read, charge_write
from app.cases import access, policy, survivor_codes
from app.cases.contact_data import seal_at_intake
from app.cases.dependants import dependants_part
from app.cases.duplicates import refuse_repeated_incident
from app.cases.models import (
    Case,
    CaseExclusion,
    Consent,
    Incident,
    Survivor,
    incident_violence_types,
)
from app.cases.name_tokens import index_survivor_name, phone_index
from app.cases.numbering import next_case_number, opening_department
from app.cases.present import (
    SURVIVOR_SECRET_FIELDS,
    corrections_record,
    lead_record,
    present_case,
    purged_record,
)
from app.cases.validators import date_problem, normalise_dui
from app.cases.vocab import age_group, age_on, context_of, gbvims_type
from app.core.db import DbSession
from app.core.errors import Conflict, Forbidden, InvalidInput
from app.core.time import local_today, utcnow
from app.crypto.blind_index import blind_index, blind_indexes, name_dob_key
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for, create_data_key
from app.directory.models import Institution
from app.directory.territory import UnknownPlace, resolve_district
from app.notifications.service import notify_institution, notify_supervisors

STATUS_CODE_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud safely
SURVIVOR_FIELDS = SURVIVOR_SECRET_FIELDS


@dataclass
class IntakeResult:
    case: Case
    matched_existing: bool
    access: str
    status_code: str | None = None
    status_pin: str | None = None


@dataclass
class Match:
    survivor: Survivor
    case: Case
    cipher: FieldCipher


# ---- lookups shared by intake and search ----------------------------------------------


def resolve_municipality(session: DbSession, value: str, field: str) -> str:
    """`municipality` names a district of the 2024 map (CONTRACT §3): its code, or the
    former municipality's name written any way; answer the district's code."""
    try:
        return resolve_district(session, value)
    except UnknownPlace as problem:
        message = problem.message
    # "survivor.municipality" → {"survivor": {"municipality": [...]}}, as the schemas nest.
    *parents, name = field.split(".")
    errors: dict[str, Any] = {name: [message]}
    for parent in reversed(parents):
        errors = {parent: errors}
    raise InvalidInput("unknown municipality", errors)


def open_survivor(match_cipher: FieldCipher, survivor: Survivor, field: str) -> str | None:
    return match_cipher.open_text(
        "survivors", survivor.id, field, getattr(survivor, f"{field}_enc")
    )


class IdentityConflict(Conflict):
    """Her DUI is on file with another birth date: never a join, never a second record.
    Carries the case so supervisors can be told; the caller learns nothing of it."""

    code = "identity_conflict"

    def __init__(self, case_id: uuid.UUID) -> None:
        super().__init__(gettext("Ese DUI ya está registrado con otra fecha de nacimiento."))
        self.case_id = case_id


def find_survivor(
    session: DbSession, ring: KeyRing, dui: str | None, full_name: str, birth_date: date
) -> Match | None:
    """The same person (CONTRACT §5): DUI and birth date, else normalised full name and
    birth date; candidates from the blind indexes, confirmed by decrypting."""
    born = birth_date.isoformat()
    if dui:
        probes = blind_indexes(ring.index_keys.keys, "dui", dui)
        for survivor, case in access.survivors_by_index(session, "dui_bidx", probes):
            cipher = cipher_for(ring, case.data_key)
            if open_survivor(cipher, survivor, "dui") != dui:
                continue
            if open_survivor(cipher, survivor, "birth_date") != born:
                raise IdentityConflict(case.id)
            return _surviving(session, ring, Match(survivor, case, cipher))
    key = name_dob_key(full_name, "", born)
    for survivor, case in access.survivors_by_index(
        session, "name_dob_bidx", blind_indexes(ring.index_keys.keys, "name_dob", key)
    ):
        cipher = cipher_for(ring, case.data_key)
        known_dui = open_survivor(cipher, survivor, "dui")
        if dui and known_dui and known_dui != dui:
            continue  # same name and birthday, different DUI: another woman
        if same_name_and_birth(cipher, survivor, full_name, birth_date):
            return _surviving(session, ring, Match(survivor, case, cipher))
    return None


def _surviving(session: DbSession, ring: KeyRing, match: Match) -> Match:
    """Found on a record absorbed by a merge: she is joined on the one that stayed."""
    if match.case.merged_into_id is None:
        return match
    case = access.case_with_survivor(session, access.surviving_case_id(session, match.case.id))
    return Match(case.survivor, case, cipher_for(ring, case.data_key))


def same_name_and_birth(
    cipher: FieldCipher, survivor: Survivor, full_name: str, birth_date: date
) -> bool:
    given = open_survivor(cipher, survivor, "given_names")
    family = open_survivor(cipher, survivor, "family_names")
    known = _comparable_name(f"{given} {family}")
    return (
        known != ""
        and known == _comparable_name(full_name)
        and open_survivor(cipher, survivor, "birth_date") == birth_date.isoformat()
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


def require_case_role(user: access.Subject) -> None:
    if not access.works_on_cases(user):
        raise Forbidden("this role does not work on case records")


def _incident_date_problem(occurred_on: date, birth_date: date | None) -> str | None:
    problem = date_problem(occurred_on, local_today())
    if problem is None and birth_date and occurred_on < birth_date:
        problem = gettext("El hecho no puede ser anterior a la fecha de nacimiento.")
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
    caller: Caller,
    intake: dict[str, Any],
    department: str,
) -> IntakeResult:
    """Open the survivor's single record, or join it when she is already on file."""
    require_case_role(caller)
    charge_write(caller.id, "intake")
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
    consent = intake.get("consent") or {}
    if match:
        result = _join_existing(session, ring, caller, match, survivor_data, dui_bidx, consent)
        cipher = match.cipher
    else:
        result, cipher = _create_case(
            session, ring, caller, survivor_data, department, dui_bidx, name_bidx
        )
        _record_consent_row(
            session,
            caller,
            result.case,
            policy.consent_after(NO_CONSENT, consent),
            consent.get("given_by"),
        )
        _exclude(session, ring, caller, result.case, consent.get("exclude_institutions") or [])
        audit(
            session,
            ring.audit_key,
            caller,
            "case_create",
            object_type="case",
            object_id=result.case.id,
            case_id=result.case.id,
            detail="opened",
        )
    if match:  # the same incident told again at another desk: confirmed, or refused
        refuse_repeated_incident(session, caller, result.case, incident, result.access)
    _add_incident_row(session, cipher, caller, result.case, incident, survivor_data["birth_date"])
    _after_new_incident(session, ring, caller, result.case, incident)
    session.flush()
    return result


def _after_new_incident(
    session: DbSession, ring: KeyRing, caller: Caller, case: Case, data: dict[str, Any]
) -> None:
    """A new incident reopens a closed case (and tells every party), and a feminicidal,
    firearm or strangulation incident makes the case high at once."""
    from app.cases import care
    from app.cases.risk import incident_reasons

    care.reopen_for_new_incident(session, ring, caller, case)
    reasons = incident_reasons(
        list(data["violence_types"]), data.get("weapon"), bool(data.get("strangulation"))
    )
    care.raise_risk_for_incident(session, ring, caller, case, reasons)


NO_CONSENT = dict.fromkeys(policy.CONSENT_KEYS, False)


def _create_case(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
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
        phone_bidx=phone_index(ring, data.get("phone")),
        index_key_id=ring.index_keys.active_id,
        sex=data["sex"],
        birth_year=data["birth_date"].year,
        municipality=data["municipality"],
        disability=data.get("disability"),
    )
    _seal_survivor(cipher, survivor, data)
    seal_at_intake(cipher, survivor, data)
    survivor_codes.set_code(ring, survivor, data)
    code, pin, code_bidx, pin_hash = _new_status_credentials(session, ring)
    case = Case(
        id=uuid.uuid4(),
        number=next_case_number(
            session, opening_department(session, caller, department), local_today().year
        ),
        survivor_id=survivor.id,
        data_key_id=key_row.id,
        opened_by_institution_id=caller.institution_id,
        lead_institution_id=caller.institution_id,
        opened_by_user_id=caller.id,
        status_code_bidx=code_bidx,
        status_pin_hash=pin_hash,
        mandatory_report=age_on(data["birth_date"], local_today()) < 18,
    )
    session.add_all([survivor, case])
    session.flush()
    access.add_party(session, case, caller.institution_id, "opened", policy.FULL, caller.id)
    index_survivor_name(session, ring, survivor, data["given_names"], data["family_names"])
    result = IntakeResult(
        case, matched_existing=False, access=policy.FULL, status_code=code, status_pin=pin
    )
    return result, cipher


def _join_existing(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    match: Match,
    data: dict[str, Any],
    dui_bidx: str | None,
    consent: dict[str, Any],
) -> IntakeResult:
    """She is on file: this institution joins her record, with the whole of it only when
    her recorded consent allows sharing and she gives it here, now (CONTRACT §5)."""
    case = match.case
    already = access.has_live_party(session, case.id, caller.institution_id)
    excluded = access.is_excluded(session, case.id, caller.institution_id)
    granted = policy.join_access(
        case.consent_network, bool(consent.get("share_with_network")), excluded
    )
    access.add_party(session, case, caller.institution_id, "matched_intake", granted, caller.id)
    # A closed case is joined too: the new incident reopens it (`_after_new_incident`).
    view = access.case_for(session, caller, case.id, closed_ok=True).view
    if view == policy.FULL and data["dui"] and match.survivor.dui_enc is None:
        # Found by name and birth date; the DUI she brings now completes the record.
        match.survivor.dui_enc = match.cipher.seal(
            "survivors", match.survivor.id, "dui", data["dui"]
        )
        match.survivor.dui_bidx = dui_bidx
        survivor_codes.set_code(ring, match.survivor, {"dui": data["dui"]})
    _apply_consent(session, ring, caller, case, view, consent, strict=False)
    case.updated_at = utcnow()
    if already:
        audit_change(session, ring.audit_key, caller, case.id, "case", case.id, "matched_intake")
    else:
        _announce_join(session, ring, caller, case, view)
    return IntakeResult(case, matched_existing=True, access=view)


def _announce_join(
    session: DbSession, ring: KeyRing, caller: Caller, case: Case, view: str
) -> None:
    """Every join is audited, told to the live parties and queued for supervisors."""
    for institution_id in access.live_party_institutions(session, case.id):
        if institution_id != caller.institution_id:
            notify_institution(
                session, institution_id, "case_join", case_id=case.id, reference=case.number
            )
    audit(
        session,
        ring.audit_key,
        caller,
        "case_join",
        object_type="case",
        object_id=case.id,
        case_id=case.id,
        detail=f"access={view}",
    )


def record_refusal(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    object_type: str,
    object_id: str,
    detail: str,
) -> None:
    """A signed-in caller refused a case or referral URL: `access_denied`, with the
    URL's argument as the audit row can hold it (no NUL or control characters)."""
    printable = "".join(ch if ch.isprintable() else "?" for ch in object_id)[:40]
    audit(
        session,
        ring.audit_key,
        caller,
        "access_denied",
        object_type=object_type,
        object_id=printable,
        detail=detail,
    )


# URL arguments that name a case or a referral: a refusal there is an `access_denied`.
CASE_SCOPED_ARGS = ("case_id", "referral_id")


def refusal_to_keep(
    ring: KeyRing,
    session: DbSession,
    caller: Caller,
    url_args: dict[str, Any],
    status: int,
    endpoint: str | None,
) -> Callable[[], None] | None:
    """What a signed-in caller refused a case-scoped URL leaves behind (CONTRACT §5)."""
    name = next((arg for arg in CASE_SCOPED_ARGS if arg in url_args), None)
    if name is None:
        return None
    what, which = name.removesuffix("_id"), str(url_args[name])
    detail = f"status={status};endpoint={endpoint}"
    return lambda: record_refusal(session, ring, caller, what, which, detail)


def conflict_to_keep(
    ring: KeyRing, session: DbSession, caller: Caller, error: Exception
) -> Callable[[], None] | None:
    """An identity conflict is told to the supervisors even though the intake is undone;
    so is a read or a write refused by an hourly cap (`report_cap`)."""
    if isinstance(error, CapReached):
        refused = error
        return lambda: report_cap(session, ring, caller, refused)
    if not isinstance(error, IdentityConflict):
        return None
    case_id = error.case_id
    return lambda: report_identity_conflict(session, ring, caller, case_id)


def report_identity_conflict(
    session: DbSession, ring: KeyRing, caller: Caller, case_id: uuid.UUID
) -> None:
    """After the refused intake was rolled back: the supervisors hear of it, and the
    audit log keeps who tried. Nothing of the intake is stored."""
    case = access.case_by_id(session, case_id)
    notify_supervisors(session, "identity_conflict", case_id=case.id, reference=case.number)
    audit(
        session,
        ring.audit_key,
        caller,
        "identity_conflict",
        object_type="case",
        object_id=case.id,
        case_id=case.id,
        detail="dui_birth_date",
    )


def report_cap(session: DbSession, ring: KeyRing, caller: Caller, error: CapReached) -> None:
    """After the refused read or write was rolled back: the audit log keeps each refusal
    (`read_limit`, `write_limit`), and the supervisors hear of the first one of the hour."""
    if error.notify:
        notify_supervisors(
            session, error.action, reference=caller.username, except_user_id=caller.id
        )
    audit(
        session,
        ring.audit_key,
        caller,
        error.action,
        object_type=error.kind,
        detail=f"per_hour={error.per_hour};notified={int(error.notify)}",
    )


# ---- consent ---------------------------------------------------------------------------


def current_consent(case: Case) -> dict[str, bool]:
    return {
        "share_with_network": case.consent_network,
        "statistics": case.consent_statistics,
        "police": case.consent_police,
    }


def change_consent(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    changes: dict[str, Any],
) -> Case:
    """`POST /cases/{id}/consent`: the keys sent change, absent keys stay; a revocation of
    sharing restricts every other party at once; widening needs the whole record. Her
    word counts on a closed case too: a revocation is never refused."""
    found = access.case_for(session, caller, case_id, closed_ok=True)
    _apply_consent(session, ring, caller, found.case, found.view, changes, strict=True)
    _exclude(session, ring, caller, found.case, changes.get("exclude_institutions") or [])
    found.case.updated_at = utcnow()
    session.flush()
    return found.case


def _apply_consent(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case: Case,
    view: str,
    changes: dict[str, Any],
    *,
    strict: bool,
) -> None:
    """Record what changed. An own_parts party cannot widen her consent: refused when
    asked for directly (`strict`), left out of an intake, which only ever narrows it."""
    current = current_consent(case)
    after = policy.consent_after(current, changes)
    if not policy.may_record_consent(view, current, after):
        if strict:
            raise Forbidden("only a party with the whole record may widen her consent")
        after = {key: after[key] and current[key] for key in after}
    if after == current and "given_by" not in changes:
        return
    _record_consent_row(session, caller, case, after, changes.get("given_by"))
    detail = ",".join(f"{key}={int(value)}" for key, value in after.items())
    revoked = current["share_with_network"] and not after["share_with_network"]
    if revoked:
        restricted = access.restrict_other_parties(session, case, caller.institution_id)
        detail += f";restricted={restricted}"
    audit_change(session, ring.audit_key, caller, case.id, "consent", case.id, f"consent:{detail}")


def _record_consent_row(
    session: DbSession, caller: Caller, case: Case, values: dict[str, bool], given_by: str | None
) -> Consent:
    row = Consent(
        case_id=case.id,
        share_with_network=values["share_with_network"],
        statistics=values["statistics"],
        police=values["police"],
        given_by=given_by or "survivor",
        recorded_by_user_id=caller.id,
        recorded_by_institution_id=caller.institution_id,
    )
    session.add(row)
    case.consent_network = row.share_with_network
    case.consent_statistics = row.statistics
    case.consent_police = row.police
    return row


def _exclude(
    session: DbSession, ring: KeyRing, caller: Caller, case: Case, institution_ids: list[int]
) -> None:
    """Institutions she says must never see her record: restricted now, and for any
    later join or referral."""
    for institution_id in sorted(set(institution_ids)):
        if institution_id == caller.institution_id:
            raise InvalidInput(
                "own institution",
                {
                    "exclude_institutions": [
                        gettext(
                            "No puede excluir a su propia institución; pida a otra que registre la "
                            "exclusión."
                        )
                    ]
                },
            )
        if session.get(Institution, institution_id) is None:
            raise InvalidInput(
                "unknown institution",
                {"exclude_institutions": [gettext("Institución desconocida.")]},
            )
        if access.is_excluded(session, case.id, institution_id):
            continue
        session.add(
            CaseExclusion(
                case_id=case.id, institution_id=institution_id, recorded_by_user_id=caller.id
            )
        )
        access.restrict_institution(session, case, institution_id)
        audit_change(
            session,
            ring.audit_key,
            caller,
            case.id,
            "exclusion",
            institution_id,
            "institution_excluded",
        )


def _add_incident_row(
    session: DbSession,
    cipher: FieldCipher,
    user: Caller,
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
        modality=data.get("modality"),
        violence_codes=" ".join(types),
        penetration=data.get("penetration"),
        perpetrator_relationship=data["perpetrator_relationship"],
        weapon=data.get("weapon"),
        strangulation=bool(data.get("strangulation")),
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


@dataclass(frozen=True)
class CaseRead:
    case: Case
    record: dict[str, Any]
    view: str
    others_present: frozenset[str]


def read_case(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    department: str,
    others: dict[str, Any] | None = None,
) -> CaseRead:
    """The record as this caller may see it; the read is audited before it is answered.
    `others`: tables of packages built on cases to check in the same query (see
    `access.case_for`). Each attempt counts against the caller's hourly read cap."""
    charge_read(caller.id, "case")
    from app.cases.aggressor_models import Aggressor
    from app.cases.dependant_models import Dependant
    from app.cases.justice_models import ComplaintMove, Hearing, HearingNotice
    from app.cases.record_models import Correction

    found = access.case_for(
        session,
        caller,
        case_id,
        need=policy.READ,
        whole_record=True,
        department=department,
        others={
            "corrections": Correction,
            "hearing_notices": HearingNotice,
            "complaint_moves": ComplaintMove,
            "hearings": Hearing,
            "aggressors": Aggressor,
            "dependants": Dependant,
            **(others or {}),
        },
        purged_ok=True,
    )
    if found.case.purged_at is not None:
        return _purged_read(session, ring, caller, found.case)
    record = present_case(
        ring, found.case, found.view, caller.institution_id, found.responsible, caller.role
    )
    record["lead_institution"] = lead_record(found.case, found.view, caller.institution_id)
    if found.view != policy.METADATA:
        rows = (
            access.corrections_of(session, found.case.id)
            if "corrections" in found.others_present
            else []
        )
        record["corrections"] = corrections_record(
            ring, found.case, rows, found.view, caller.institution_id, caller.role
        )
        record.update(_justice_parts(session, ring, found, record))
        record.update(
            dependants_part(
                session,
                ring,
                found,
                caller,
                any_recorded="dependants" in found.others_present,
            )
        )
    from app.cases.aggressors import with_aggressors

    # The loader asks after the parts only for the views that show them.
    asked = found.view != policy.METADATA
    present = "aggressors" in found.others_present or not asked
    repeat = with_aggressors(session, ring, found.case, found.view, record, present)
    audit(
        session,
        ring.audit_key,
        caller,
        "case_view",
        object_type="case",
        object_id=found.case.id,
        case_id=found.case.id,
        detail=found.view + (f";repeat_aggressor={repeat}" if repeat else ""),
    )
    return CaseRead(found.case, record, found.view, found.others_present)


def _justice_parts(
    session: DbSession, ring: KeyRing, found: access.CaseAccess, record: dict[str, Any]
) -> dict[str, Any]:
    """The complaints' history and hearings, and her choice about the status lookup."""
    from app.cases.justice_present import pathway_parts

    cipher = cipher_for(ring, found.case.data_key)
    return pathway_parts(session, cipher, found.case.id, record, found.others_present)


def _purged_read(session: DbSession, ring: KeyRing, caller: Caller, case: Case) -> CaseRead:
    """What is left of a purged record: its number, dates and status, and that it was
    purged. Nothing is decrypted; the read is audited as any other."""
    audit(
        session,
        ring.audit_key,
        caller,
        "case_view",
        object_type="case",
        object_id=case.id,
        case_id=case.id,
        detail=policy.PURGED,
    )
    return CaseRead(case, purged_record(case), policy.PURGED, frozenset())


def add_incident(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    data: dict[str, Any],
) -> Incident:
    # A closed case takes a new incident: it reopens it (`_after_new_incident`).
    charge_write(caller.id, "incident")
    case = access.case_for(session, caller, case_id, closed_ok=True).case
    refuse_repeated_incident(session, caller, case, data)
    data = dict(data)
    data["municipality"] = resolve_municipality(session, data["municipality"], "municipality")
    cipher = cipher_for(ring, case.data_key)
    birth = open_survivor(cipher, case.survivor, "birth_date")
    birth_date = date.fromisoformat(birth) if birth else None
    problem = _incident_date_problem(data["occurred_on"], birth_date)
    if problem:
        raise InvalidInput(problem, {"occurred_on": [problem]})
    incident = _add_incident_row(session, cipher, caller, case, data, birth_date)
    case.updated_at = utcnow()
    session.flush()
    audit_change(
        session, ring.audit_key, caller, case.id, "incident", incident.id, "incident_added"
    )
    _after_new_incident(session, ring, caller, case, data)
    session.flush()
    return incident


def verify_status_pin(pin_hash: str, pin: str) -> bool:
    return verify_secret(pin_hash, pin)


# ---- joins: the supervisors' review ----------------------------------------------------


def _require_supervisor(caller: access.Subject) -> None:
    if not (caller.active and caller.role == "supervisor"):
        raise Forbidden("only supervisors review joins")


def pending_joins(session: DbSession, caller: Caller) -> list[dict[str, Any]]:
    """Joins through a matched intake not reviewed yet, oldest first: codes and dates."""
    _require_supervisor(caller)
    return [
        {
            "id": party.id,
            "case_id": str(party.case_id),
            "case_number": number,
            "institution": party.institution.code,
            "institution_name": party.institution.name,
            "access": party.access,
            "since": party.since.isoformat(),
        }
        for party, number in access.pending_joins(session)
    ]


def review_join(
    session: DbSession, ring: KeyRing, caller: Caller, party_id: int, justified: bool
) -> None:
    """A supervisor's word on a join; an unjustified one ends that institution's access."""
    _require_supervisor(caller)
    party = access.join_to_review(session, party_id)
    if party.reviewed_at is not None:
        raise Conflict("already reviewed")
    party.reviewed_at = utcnow()
    party.reviewed_by_user_id = caller.id
    if not justified:
        party.ended_at = party.reviewed_at  # no reason to serve her: the access ends
    audit(
        session,
        ring.audit_key,
        caller,
        "join_review",
        object_type="case_party",
        object_id=party.id,
        case_id=party.case_id,
        detail="justified" if justified else "not_justified",
    )


def exclude_institutions(
    session: DbSession, ring: KeyRing, caller: Caller, case: Case, institution_ids: list[int]
) -> None:
    """The conflict-of-interest exclusion as the survivor records it (`_exclude`), for
    the other parts of the record that know one (the aggressor's workplace)."""
    _exclude(session, ring, caller, case, institution_ids)
