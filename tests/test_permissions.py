"""The permission matrix: every route × method × kind of caller, with the status each gets.

A route added without an entry here fails `test_every_route_has_an_entry`, so no endpoint
can ship without someone deciding who may call it.
"""

from __future__ import annotations

import io
import re
import tempfile
from pathlib import Path

import pytest

from app import create_app
from app.auth.models import User
from app.auth.sessions import start_session
from app.directory.models import Institution
from app.extensions import db
from tests.conftest import PASSWORD, make_settings
from tests.factories import intake, one_page_pdf
from tests.kept_world import world_fixtures

ANON = "anonymous"
PARTY = {"pnc_agent": "PNC-SON", "health_staff": "US-SON", "womens_office": "UMM-SON"}
OTHER = {"pnc_agent": "PNC-ACA", "health_staff": "US-ACA", "womens_office": "UMM-ACA"}
CASE_ROLES = tuple(PARTY)
ACTORS = (
    ANON,
    *(f"{role}@party" for role in CASE_ROLES),
    *(f"{role}@other" for role in CASE_ROLES),
    "supervisor",
    "admin",
)


def expect(anonymous: int, party: int, other: int, supervisor: int, admin: int) -> dict[str, int]:
    statuses = {ANON: anonymous, "supervisor": supervisor, "admin": admin}
    for role in CASE_ROLES:
        statuses[f"{role}@party"] = party
        statuses[f"{role}@other"] = other
    return statuses


def same_for_all(status: int) -> dict[str, int]:
    return expect(status, status, status, status, status)


def web_page(anonymous: int, logged_in: int) -> dict[str, int]:
    return expect(anonymous, logged_in, logged_in, logged_in, logged_in)


def case_write(created: int) -> dict[str, int]:
    """Parties add to the case; anyone else's institution cannot see it; other roles never."""
    return expect(401, created, 404, 403, 403)


def police_only(anonymous: int, ok: int) -> dict[str, int]:
    """PNC agents of a party institution get `ok`; other PNC units 404; other roles 403."""
    statuses = {actor: 403 for actor in ACTORS}
    statuses.update({ANON: anonymous, "pnc_agent@party": ok, "pnc_agent@other": 404})
    return statuses


def only(statuses: dict[str, int], **overrides: int) -> dict[str, int]:
    return {**statuses, **{actor.replace("__", "@"): code for actor, code in overrides.items()}}


def page_of_case(ok: int) -> dict[str, int]:
    """A case page: parties get `ok`, other institutions 404, other roles 403."""
    return expect(302, ok, 404, 403, 403)


PDF = one_page_pdf()
NO_SUCH_ID = "00000000-0000-4000-8000-000000000000"  # a world without a record to absorb
RISK_ANSWERS = {str(n): n <= 2 for n in range(1, 25)}  # all 24: a missing one is 422


# (rule, method) -> what each caller gets. Case routes use the shared case of the fixture.
MATRIX: dict[tuple[str, str], dict[str, int]] = {
    ("/api/v1/auth/token", "POST"): same_for_all(401),  # wrong credentials for everyone
    ("/api/v1/auth/token", "DELETE"): expect(401, 204, 204, 204, 204),  # her own token
    ("/api/v1/openapi.json", "GET"): same_for_all(200),
    ("/api/v1/institutions", "GET"): expect(401, 200, 200, 200, 200),
    ("/api/v1/cases", "POST"): expect(401, 201, 201, 403, 403),
    ("/api/v1/cases", "GET"): expect(401, 200, 200, 403, 403),  # the work list
    ("/api/v1/cases/search", "POST"): expect(401, 200, 200, 403, 403),  # others: no match
    ("/api/v1/cases/duplicates", "POST"): expect(401, 200, 200, 403, 403),  # others: none
    ("/api/v1/cases/<case_id>/duplicates", "GET"): expect(401, 200, 404, 403, 403),
    # The record to absorb was opened by PNC-SON alone: the other parties cannot see it.
    ("/api/v1/cases/<case_id>/merge", "POST"): only(
        expect(401, 404, 404, 403, 403), pnc_agent__party=202
    ),
    # Retention: supervisors hold (the case is open: a hold is fine) and decide; a party
    # asks her erasure, refused while the case is open (409); the review names no request.
    ("/api/v1/cases/<case_id>/legal-hold", "POST"): expect(401, 403, 403, 200, 403),
    ("/api/v1/cases/<case_id>/erasure", "POST"): expect(401, 409, 404, 403, 403),
    ("/api/v1/erasures", "GET"): expect(401, 403, 403, 200, 403),
    ("/api/v1/erasures/<erasure_id>/review", "POST"): expect(401, 403, 403, 404, 403),
    ("/cases/<case_id>/legal-hold", "POST"): expect(302, 403, 403, 302, 403),
    ("/cases/<case_id>/erasure", "POST"): expect(302, 302, 404, 403, 403),
    ("/audit/retention", "GET"): expect(302, 403, 403, 200, 403),
    ("/audit/erasures/<erasure_id>/review", "POST"): expect(302, 403, 403, 302, 403),
    ("/api/v1/merges", "GET"): expect(401, 403, 403, 200, 403),
    ("/api/v1/merges/<merge_id>/review", "POST"): expect(401, 403, 403, 200, 403),
    # The fixture's merge is pending: nothing to revert yet (409).
    ("/api/v1/merges/<merge_id>/revert", "POST"): expect(401, 403, 403, 409, 403),
    ("/api/v1/cases/<case_id>", "GET"): expect(401, 200, 404, 200, 403),
    ("/api/v1/cases/<case_id>/incidents", "POST"): expect(401, 201, 404, 403, 403),
    # Corrections carry the version read: the first party's goes through, the next ones
    # sent the same (now stale) version, or void what is voided already: 409.
    ("/api/v1/cases/<case_id>/survivor", "PATCH"): only(case_write(409), pnc_agent__party=200),
    ("/api/v1/cases/<case_id>/safe-contact", "PUT"): only(case_write(409), pnc_agent__party=200),
    ("/api/v1/cases/<case_id>/access-needs", "PUT"): only(case_write(409), pnc_agent__party=200),
    ("/api/v1/cases/<case_id>/incidents/<incident_id>", "PATCH"): only(
        case_write(409), pnc_agent__party=200
    ),
    ("/api/v1/cases/<case_id>/incidents/<incident_id>/void", "POST"): only(
        case_write(409), pnc_agent__party=200
    ),
    ("/api/v1/cases/<case_id>/incidents/<incident_id>/repeat-of", "POST"): only(
        case_write(409), pnc_agent__party=200
    ),
    ("/api/v1/cases/<case_id>/complaints/<complaint_id>", "PATCH"): police_only(401, 200),
    # The aggressor (tests/test_aggressors.py): recorded on an incident a party reads; the
    # matrix's aggressor id is of no record, so even a party gets 404 correcting it.
    ("/api/v1/cases/<case_id>/incidents/<incident_id>/aggressors", "POST"): case_write(201),
    ("/api/v1/cases/<case_id>/aggressors/<aggressor_id>", "PATCH"): case_write(404),
    ("/cases/<case_id>/aggressors", "POST"): page_of_case(303),
    ("/api/v1/cases/<case_id>/break-glass", "POST"): expect(401, 403, 403, 201, 403),
    ("/api/v1/audit", "GET"): expect(401, 403, 403, 200, 403),
    ("/api/v1/audit/reports", "GET"): expect(401, 403, 403, 200, 403),
    ("/api/v1/break-glass", "GET"): expect(401, 403, 403, 200, 403),
    ("/api/v1/joins", "GET"): expect(401, 403, 403, 200, 403),
    ("/api/v1/joins/<int:party_id>/review", "POST"): expect(401, 403, 403, 200, 403),
    ("/api/v1/break-glass/<int:grant_id>/review", "POST"): expect(401, 403, 403, 200, 403),
    ("/api/v1/accounts/pending", "GET"): expect(401, 403, 403, 200, 403),
    # The fixture's accounts were made by an operator: approved already, so 409.
    ("/api/v1/accounts/<int:user_id>/approve", "POST"): expect(401, 403, 403, 409, 403),
    ("/api/v1/recoveries/pending", "GET"): expect(401, 403, 403, 200, 403),
    # The fixture's recovery was asked by the administrator: any supervisor may decide.
    ("/api/v1/recoveries/<int:recovery_id>/approve", "POST"): expect(401, 403, 403, 200, 403),
    ("/api/v1/cases/<case_id>/notes", "POST"): case_write(201),
    ("/api/v1/cases/<case_id>/follow-ups", "POST"): case_write(201),
    ("/api/v1/cases/<case_id>/follow-ups/<follow_up_id>/outcome", "POST"): case_write(200),
    ("/api/v1/cases/<case_id>/risk-assessments", "POST"): case_write(201),
    ("/api/v1/cases/<case_id>/safety-plan", "PUT"): case_write(200),
    # The case is in follow-up already: parties get past the check and meet the state (409).
    ("/api/v1/cases/<case_id>/status", "POST"): case_write(409),
    ("/api/v1/cases/<case_id>/consent", "POST"): case_write(201),
    ("/api/v1/cases/<case_id>/complaints", "POST"): police_only(401, 201),
    ("/api/v1/cases/<case_id>/measures/<measure_id>", "PATCH"): police_only(401, 200),
    ("/api/v1/cases/<case_id>/attachments", "POST"): case_write(201),
    ("/api/v1/cases/<case_id>/attachments/<attachment_id>", "GET"): case_write(200),
    ("/api/v1/cases/<case_id>/referrals", "POST"): case_write(201),
    ("/api/v1/cases/<case_id>/dependants", "POST"): case_write(201),
    # No dependant of that id: a party gets past the case and finds none (404).
    ("/api/v1/cases/<case_id>/dependants/<dependant_id>", "PATCH"): case_write(404),
    # Each party's opener holds the case already: taking it again changes nothing (200).
    ("/api/v1/cases/<case_id>/assignment", "POST"): case_write(200),
    # Nobody in the fixture is a lead (tests/test_caseload.py has the leads).
    ("/api/v1/caseload/move", "POST"): expect(401, 403, 403, 403, 403),
    ("/api/v1/caseload", "GET"): expect(401, 200, 200, 403, 403),
    ("/api/v1/tasks", "GET"): expect(401, 200, 200, 403, 403),
    ("/api/v1/follow-ups", "GET"): expect(401, 200, 200, 403, 403),
    ("/api/v1/measures/expiring", "GET"): expect(401, 200, 200, 403, 403),
    # The matrix's supervisor sits at RED-SON, which has no case workers: she answers the
    # referrals it receives (issue 13), so its incoming box opens to her (codes only).
    ("/api/v1/referrals", "GET"): expect(401, 200, 200, 200, 403),
    # Only the sending and receiving institutions know the referral.
    ("/api/v1/referrals/<referral_id>", "GET"): only(case_write(404), pnc_agent__party=200),
    ("/api/v1/referrals/<referral_id>/transition", "POST"): only(
        case_write(404), pnc_agent__party=200
    ),
    # Transfers of the lead: PNC-SON opened the case and leads it; the other parties are
    # not the lead (403). The matrix's transfer id names none (404); RED-SON's supervisor
    # stands in for her institution, which has no case workers.
    ("/api/v1/cases/<case_id>/transfers", "POST"): only(
        expect(401, 403, 404, 403, 403), pnc_agent__party=201
    ),
    ("/api/v1/transfers", "GET"): expect(401, 200, 200, 200, 403),
    ("/api/v1/transfers/<transfer_id>/transition", "POST"): expect(401, 404, 404, 404, 403),
    ("/cases/<case_id>/transfer", "GET"): only(
        expect(302, 403, 404, 403, 403), pnc_agent__party=200
    ),
    ("/cases/<case_id>/transfer", "POST"): only(
        expect(302, 403, 404, 403, 403), pnc_agent__party=303
    ),
    ("/referrals/transfers", "GET"): expect(302, 200, 200, 200, 403),
    ("/transfers/<transfer_id>/transition", "POST"): expect(302, 404, 404, 404, 403),
    ("/api/v1/notifications", "GET"): expect(401, 200, 200, 200, 200),
    ("/api/v1/notifications/<int:notification_id>/read", "POST"): expect(401, 404, 404, 204, 404),
    ("/api/v1/stats", "GET"): expect(401, 200, 200, 200, 200),
    ("/api/v1/stats/indicators", "GET"): expect(401, 200, 200, 200, 200),
    ("/api/v1/exports/incidents.csv", "GET"): expect(401, 403, 403, 200, 403),
    ("/api/v1/status", "POST"): same_for_all(400),  # public; no body here: 400 for everyone
    # Web pages. POSTs carry a valid CSRF token, so what is tested is the permission.
    ("/", "GET"): web_page(302, 200),
    ("/login", "GET"): web_page(200, 302),
    ("/login", "POST"): web_page(401, 302),  # wrong credentials; a logged-in user is sent home
    ("/logout", "POST"): same_for_all(302),
    ("/language", "POST"): same_for_all(302),
    ("/account/password", "GET"): web_page(302, 200),
    ("/account/password", "POST"): web_page(302, 200),  # wrong current password: form again
    ("/account/totp", "GET"): web_page(302, 302),  # enrolled already: back to the dashboard
    ("/account/totp", "POST"): web_page(302, 302),
    ("/account/sessions", "GET"): web_page(302, 200),
    # A page's keep-alive and its session's time left: JSON, 401 once the session is over.
    ("/session/ping", "POST"): web_page(401, 200),
    ("/session/status", "GET"): web_page(401, 200),
    # The fixture's session and token are the supervisor's: anyone else's ids are unknown.
    ("/account/sessions/<int:session_id>/end", "POST"): expect(302, 404, 404, 302, 404),
    ("/account/tokens/<int:token_id>/revoke", "POST"): expect(302, 404, 404, 302, 404),
    ("/healthz", "GET"): same_for_all(200),
    ("/favicon.ico", "GET"): same_for_all(301),
    ("/robots.txt", "GET"): same_for_all(200),
    ("/static/<path:filename>", "GET"): same_for_all(200),
    ("/status", "GET"): same_for_all(200),
    ("/status", "POST"): same_for_all(200),  # public; empty form: the form again
    ("/reports", "GET"): expect(302, 403, 403, 200, 403),
    ("/reports/monthly", "GET"): expect(302, 403, 403, 200, 403),
    ("/reports/stats.csv", "GET"): expect(302, 403, 403, 200, 403),
    ("/reports/incidents.csv", "GET"): expect(302, 403, 403, 200, 403),
    ("/cases/new", "GET"): expect(302, 200, 200, 403, 403),
    ("/cases/new", "POST"): expect(302, 422, 422, 403, 403),  # incomplete: the form again
    ("/cases", "GET"): expect(302, 200, 200, 403, 403),  # the work list
    ("/caseload/move", "POST"): expect(302, 403, 403, 403, 403),  # leads only
    ("/cases/<case_id>/assignment", "POST"): page_of_case(302),
    ("/cases/search", "GET"): expect(302, 200, 200, 403, 403),
    ("/cases/search", "POST"): expect(302, 200, 200, 403, 403),  # results on the page
    ("/cases/<case_id>/duplicates", "GET"): page_of_case(200),
    ("/cases/<case_id>/merge", "POST"): only(page_of_case(404), pnc_agent__party=302),
    ("/audit/merges/<merge_id>/review", "POST"): expect(302, 403, 403, 302, 403),
    ("/audit/merges/<merge_id>/revert", "POST"): expect(302, 403, 403, 302, 403),
    ("/cases/<case_id>", "GET"): expect(302, 200, 404, 200, 403),  # supervisor: metadata
    ("/cases/<case_id>/incidents/new", "GET"): page_of_case(200),
    ("/cases/<case_id>/slip", "GET"): page_of_case(200),  # the PIN only once, to its session
    ("/cases/<case_id>/incidents/new", "POST"): page_of_case(303),  # post/redirect/get
    ("/cases/<case_id>/survivor", "POST"): page_of_case(303),  # a refusal too: back to the page
    ("/cases/<case_id>/safe-contact", "POST"): page_of_case(303),
    ("/cases/<case_id>/access-needs", "POST"): page_of_case(303),
    ("/cases/<case_id>/incidents/<incident_id>/edit", "GET"): page_of_case(200),
    ("/cases/<case_id>/incidents/<incident_id>/edit", "POST"): page_of_case(303),
    ("/cases/<case_id>/incidents/<incident_id>/void", "POST"): page_of_case(303),
    ("/cases/<case_id>/incidents/<incident_id>/repeat-of", "POST"): page_of_case(303),
    ("/cases/<case_id>/risk", "GET"): page_of_case(200),
    ("/cases/<case_id>/forms/<section>", "GET"): page_of_case(200),
    ("/cases/<case_id>/risk", "POST"): page_of_case(303),
    ("/cases/<case_id>/notes", "POST"): page_of_case(303),
    ("/cases/<case_id>/follow-ups", "POST"): page_of_case(303),
    ("/cases/<case_id>/follow-ups/<follow_up_id>/outcome", "POST"): page_of_case(303),
    ("/cases/<case_id>/safety-plan", "POST"): page_of_case(303),
    ("/cases/<case_id>/status", "POST"): page_of_case(303),
    ("/cases/<case_id>/consent", "POST"): page_of_case(303),
    ("/cases/<case_id>/complaints", "POST"): police_only(302, 303),
    ("/cases/<case_id>/measures/<measure_id>", "POST"): police_only(302, 303),
    ("/cases/<case_id>/attachments", "POST"): page_of_case(303),
    ("/cases/<case_id>/attachments/<attachment_id>", "GET"): page_of_case(200),
    ("/cases/<case_id>/referrals", "POST"): page_of_case(303),
    ("/cases/<case_id>/dependants", "POST"): page_of_case(303),
    ("/cases/<case_id>/refer", "GET"): expect(302, 200, 404, 200, 403),  # as the case page
    ("/cases/<case_id>/break-glass", "POST"): expect(302, 403, 403, 303, 403),
    ("/referrals", "GET"): expect(302, 200, 200, 403, 403),
    ("/referrals/<referral_id>", "GET"): only(page_of_case(404), pnc_agent__party=200),
    ("/referrals/<referral_id>/transition", "POST"): only(page_of_case(404), pnc_agent__party=302),
    ("/referrals/<referral_id>/sheet", "GET"): only(page_of_case(404), pnc_agent__party=200),
    ("/audit", "GET"): expect(302, 403, 403, 200, 403),
    ("/audit/break-glass/<int:grant_id>/review", "POST"): expect(302, 403, 403, 302, 403),
    ("/audit/joins/<int:party_id>/review", "POST"): expect(302, 403, 403, 302, 403),
    ("/audit/accounts/<int:user_id>/approve", "POST"): expect(302, 403, 403, 302, 403),
    ("/audit/recoveries/<int:recovery_id>/decide", "POST"): expect(302, 403, 403, 302, 403),
    ("/admin/users", "GET"): expect(302, 403, 403, 403, 200),
    ("/admin/users", "POST"): expect(302, 403, 403, 403, 200),
    ("/admin/users/<int:user_id>", "POST"): expect(302, 403, 403, 403, 302),
    ("/admin/users/<int:user_id>", "GET"): expect(302, 403, 403, 403, 200),
    ("/admin/users/<int:user_id>/recovery", "POST"): expect(302, 403, 403, 403, 302),
    # Ends everyone's sessions, hers too: to the login page (the admin comes last).
    ("/admin/users/end-sessions", "POST"): expect(302, 403, 403, 403, 302),
    # An account in use gets a one-time password only through an approved recovery.
    ("/admin/users/<int:user_id>/password", "POST"): expect(302, 403, 403, 403, 409),
    ("/admin/institutions", "GET"): expect(302, 403, 403, 403, 200),
    ("/admin/institutions/<int:institution_id>", "GET"): expect(302, 403, 403, 403, 200),
    ("/admin/institutions/<int:institution_id>", "POST"): expect(302, 403, 403, 403, 302),
    ("/admin/institutions/new", "GET"): expect(302, 403, 403, 403, 200),
    ("/admin/institutions/new", "POST"): expect(302, 403, 403, 403, 302),
    ("/admin/services", "GET"): expect(302, 403, 403, 403, 200),
    ("/admin/services", "POST"): expect(302, 403, 403, 403, 302),
    ("/admin/services/<service_code>", "GET"): expect(302, 403, 403, 403, 200),
    ("/admin/services/<service_code>", "POST"): expect(302, 403, 403, 403, 302),
    ("/admin/measures", "GET"): expect(302, 403, 403, 403, 200),
    ("/admin/measures", "POST"): expect(302, 403, 403, 403, 302),
    ("/admin/measures/<measure_code>", "GET"): expect(302, 403, 403, 403, 200),
    ("/admin/measures/<measure_code>", "POST"): expect(302, 403, 403, 403, 302),
    ("/admin/territory", "GET"): expect(302, 403, 403, 403, 200),
    ("/admin/territory/<district_code>", "GET"): expect(302, 403, 403, 403, 200),
    ("/admin/territory/<district_code>", "POST"): expect(302, 403, 403, 403, 302),
}

# The justice pathway (tests/test_justice_pathway.py has the justice roles): the front
# line forwards a complaint it may see (PNC only); no role of this matrix sets a file
# number or schedules a hearing; her choice about the status lookup is any party's.
NO_JUSTICE_ROLE = expect(401, 403, 403, 403, 403)
NO_JUSTICE_PAGE = expect(302, 403, 403, 403, 403)
MATRIX |= {
    ("/api/v1/cases/<case_id>/complaints/<complaint_id>/transition", "POST"): police_only(401, 200),
    ("/api/v1/cases/<case_id>/complaints/<complaint_id>/file-numbers", "POST"): NO_JUSTICE_ROLE,
    ("/api/v1/cases/<case_id>/complaints/<complaint_id>/hearings", "POST"): NO_JUSTICE_ROLE,
    ("/api/v1/cases/<case_id>/hearings/<hearing_id>", "PATCH"): NO_JUSTICE_ROLE,
    ("/api/v1/cases/<case_id>/hearing-notice", "POST"): case_write(201),
    ("/cases/<case_id>/complaints/<complaint_id>/transition", "POST"): police_only(302, 303),
    ("/cases/<case_id>/complaints/<complaint_id>/file-numbers", "POST"): NO_JUSTICE_PAGE,
    ("/cases/<case_id>/complaints/<complaint_id>/hearings", "POST"): NO_JUSTICE_PAGE,
    ("/cases/<case_id>/hearings/<hearing_id>", "POST"): NO_JUSTICE_PAGE,
    ("/cases/<case_id>/hearing-notice", "POST"): page_of_case(303),
}


def registered_routes() -> set[tuple[str, str]]:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(make_settings(Path(tmp), f"sqlite:///{tmp}/routes.db"), for_cli=True)
        return {
            (rule.rule, method)
            for rule in app.url_map.iter_rules()
            for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
        }


def test_every_route_has_an_entry():
    routes = registered_routes()
    assert routes - set(MATRIX) == set(), "routes without a permission entry"
    assert set(MATRIX) - routes == set(), "entries for routes that no longer exist"


def build_world(app, client, make_person, _people=None) -> dict:
    """A case shared by PNC-SON, US-SON and UMM-SON; callers of every kind."""
    people = {f"{role}@party": make_person(role, inst) for role, inst in PARTY.items()}
    people |= {f"{role}@other": make_person(role, inst) for role, inst in OTHER.items()}
    people["supervisor"] = make_person("supervisor", "RED-SON")
    people["admin"] = make_person("admin", "SYS")
    second_supervisor = make_person("supervisor", "RED-SON")
    body = intake()
    case_id = None
    for role in CASE_ROLES:
        response = client.post("/api/v1/cases", json=body, headers=people[f"{role}@party"].headers)
        assert response.status_code == 201
        case_id = response.get_json()["id"]
    grant = client.post(
        f"/api/v1/cases/{case_id}/break-glass",
        headers=second_supervisor.headers,
        json={"reason": "Orden judicial urgente del juzgado", "password": PASSWORD},
    )
    assert grant.status_code == 201
    ids = {"case_id": case_id, "grant_id": grant.get_json()["id"]}
    ids.update(_case_work(app, client, people, case_id))
    ids["hospital_id"] = _institution_id(app, "HOSP-SON")
    ids["institution_id"] = ids["hospital_id"]
    ids["user_id"] = people["pnc_agent@other"].id
    ids["party_id"] = _first_join(app, case_id)
    lost = make_person("health_staff", "US-SON")  # no caller: her recovery may be approved
    ids.update(_logins_and_recovery(app, people, lost.id))
    ids.update(_merges(client, people["pnc_agent@party"]))
    return {"people": people, **ids}


# The world, built once per module and worker (tests/kept_world.py).
kept_world, settings, world = world_fixtures("world", build_world)


def _logins_and_recovery(app, people, lost_id: int) -> dict[str, int]:
    """A web session and the token of the supervisor; a recovery the admin asked for."""
    from app.auth.caller import Caller
    from app.auth.models import ApiToken
    from app.auth.recovery import start_recovery
    from app.auth.service import token_digest

    with app.app_context():
        supervisor = db.session.get_one(User, people["supervisor"].id)
        start_session(db.session, supervisor, "10.1.1.1", restricted=False)
        session_id = max(row.id for row in _sessions_of(supervisor))
        digest = token_digest(people["supervisor"].token)
        token_id = db.session.query(ApiToken.id).filter_by(token_hash=digest).one()[0]
        admin = Caller(db.session.get_one(User, people["admin"].id), "127.0.0.1", "web")
        asked = start_recovery(
            db.session,
            app.extensions["ruta.keyring"].audit_key,
            admin,
            lost_id,
            "Perdió el teléfono con la aplicación",
        )
        db.session.commit()
        return {"session_id": session_id, "token_id": token_id, "recovery_id": asked.id}


def _sessions_of(user):
    from app.auth.models import UserSession

    return db.session.query(UserSession).filter_by(user_id=user.id).all()


def _merges(client, pnc) -> dict[str, str]:
    """Records opened by PNC-SON alone: one to absorb, and a pair with a pending merge."""
    ids = []
    for n, given in enumerate(("Absorbida", "Primera", "Segunda")):
        body = intake(
            survivor_overrides={
                "dui": None,
                "given_names": given,
                "birth_date": f"1990-01-0{n + 1}",
            }
        )
        response = client.post("/api/v1/cases", json=body, headers=pnc.headers)
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["id"])
    asked = client.post(
        f"/api/v1/cases/{ids[1]}/merge",
        json={"absorb": ids[2], "reason": "Misma persona registrada dos veces"},
        headers=pnc.headers,
    )
    assert asked.status_code == 202, asked.get_json()
    return {"absorb_id": ids[0], "merge_id": asked.get_json()["id"]}


def _first_join(app, case_id: str) -> int:
    from app.cases.models import CaseParty

    with app.app_context():
        return (
            db.session.query(CaseParty.id)
            .filter_by(reason="matched_intake")
            .order_by(CaseParty.id)
            .first()[0]
        )


def _case_work(app, client, people, case_id) -> dict[str, str]:
    """A follow-up, a complaint with a measure, an attachment, a referral, a notification."""
    base = f"/api/v1/cases/{case_id}"
    follow_up = client.post(
        f"{base}/follow-ups",
        headers=people["womens_office@party"].headers,
        json={"due_on": "2026-12-01", "channel": "phone"},
    )
    complaint = client.post(
        f"{base}/complaints",
        headers=people["pnc_agent@party"].headers,
        json={"number": "DEN-1", "measures": [{"measure": "keep_away"}]},
    )
    attachment = client.post(
        f"{base}/attachments",
        headers=people["health_staff@party"].headers,
        data={"file": (io.BytesIO(PDF), "informe.pdf")},
    )
    hospital = _institution_id(app, "HOSP-SON")
    referral = client.post(
        f"{base}/referrals",
        headers=people["pnc_agent@party"].headers,
        json={
            "to_institution": hospital,
            "service": "medical",
            "urgency": "immediate",
            "consent": True,
        },
    )
    notes = client.get("/api/v1/notifications", headers=people["supervisor"].headers)
    # A second incident of its own day, for the corrections and the voiding.
    second = client.post(
        f"{base}/incidents",
        headers=people["pnc_agent@party"].headers,
        json={**intake()["incident"], "occurred_on": "2026-10-05"},
    )
    for response in (follow_up, complaint, attachment, referral, second):
        assert response.status_code == 201, response.get_json()
    read = client.get(base, headers=people["pnc_agent@party"].headers).get_json()
    return {
        "incident_id": second.get_json()["id"],
        "first_incident_id": next(
            i["id"] for i in read["incidents"] if i["id"] != second.get_json()["id"]
        ),
        "survivor_version": read["survivor"]["version"],
        "complaint_id": complaint.get_json()["id"],
        "follow_up_id": follow_up.get_json()["id"],
        "measure_id": complaint.get_json()["measures"][0]["id"],
        "attachment_id": attachment.get_json()["id"],
        "referral_id": referral.get_json()["id"],
        "notification_id": notes.get_json()["items"][0]["id"],
    }


def _institution_id(app, code: str) -> int:
    with app.app_context():
        return db.session.query(Institution).filter_by(code=code).one().id


def request_args(rule: str, world: dict) -> tuple[str, dict]:
    path = rule.replace("<path:filename>", "css/ruta.css")
    for name in (
        "case_id",
        "follow_up_id",
        "measure_id",
        "attachment_id",
        "referral_id",
        "merge_id",
        "incident_id",
        "complaint_id",
    ):
        if f"<{name}>" in path:
            path = path.replace(f"<{name}>", str(world[name]))
    path = path.replace("<erasure_id>", NO_SUCH_ID).replace("<aggressor_id>", NO_SUCH_ID)
    path = path.replace("<hearing_id>", NO_SUCH_ID).replace("<section>", "notas")
    path = path.replace("<transfer_id>", NO_SUCH_ID)
    path = path.replace("<dependant_id>", NO_SUCH_ID)
    # The catalogues administrators keep, by their stable codes.
    path = path.replace("<service_code>", "medical").replace("<measure_code>", "keep_away")
    path = path.replace("<district_code>", "sonsonate")
    for name in (
        "grant_id",
        "notification_id",
        "user_id",
        "institution_id",
        "party_id",
        "recovery_id",
        "session_id",
        "token_id",
    ):
        if f"<int:{name}>" in path:  # tests/test_changed_rights.py's world has fewer ids
            path = path.replace(f"<int:{name}>", str(world[name]))
    if not rule.startswith("/api/"):
        return path, {"data": web_form(rule, world)}
    bodies = {
        "/api/v1/auth/token": {"username": "nobody", "password": "not the password"},
        "/api/v1/cases": intake(survivor_overrides={"dui": None, "given_names": "Rosa"}),
        "/api/v1/cases/search": {"dui": "12345678-4"},
        "/api/v1/cases/duplicates": {"given_names": "Rosa", "family_names": "Ayala"},
        "/api/v1/cases/<case_id>/merge": {
            "absorb": world.get("absorb_id", NO_SUCH_ID),
            "reason": "Misma persona registrada dos veces",
        },
        "/api/v1/merges/<merge_id>/review": {"approve": False},
        "/api/v1/cases/<case_id>/legal-hold": {"hold": True, "reason": "Proceso judicial en curso"},
        "/api/v1/cases/<case_id>/erasure": {
            "legal_basis": "consent_withdrawn",
            "reason": "Ella pidió suprimir sus datos",
        },
        "/api/v1/erasures/<erasure_id>/review": {"approve": False},
        "/api/v1/cases/<case_id>/incidents": intake()["incident"],
        "/api/v1/cases/<case_id>/break-glass": {
            "reason": "Revisión por denuncia de acceso indebido",
            "password": PASSWORD,
        },
        "/api/v1/break-glass/<int:grant_id>/review": {"justified": True},
        "/api/v1/joins/<int:party_id>/review": {"justified": True},
        "/api/v1/accounts/<int:user_id>/approve": {"approve": True},
        "/api/v1/recoveries/<int:recovery_id>/approve": {"approve": True},
        "/api/v1/cases/<case_id>/notes": {"kind": "medical", "text": "Atención brindada"},
        "/api/v1/cases/<case_id>/follow-ups": {"due_on": "2026-12-05", "channel": "visit"},
        "/api/v1/cases/<case_id>/follow-ups/<follow_up_id>/outcome": {"outcome": "done"},
        "/api/v1/cases/<case_id>/risk-assessments": {"answers": RISK_ANSWERS},
        "/api/v1/cases/<case_id>/survivor": {
            "phone": "7000-0000",
            "reason": "Cambió de número",
            "version": world["survivor_version"],
        },
        "/api/v1/cases/<case_id>/safe-contact": {
            "may_call": False,
            "code_word": "Palabra",
            "version": world["survivor_version"],
        },
        "/api/v1/cases/<case_id>/access-needs": {
            "language": "nah",
            "interpreter_needed": True,
            "version": world["survivor_version"],
        },
        "/api/v1/cases/<case_id>/incidents/<incident_id>": {
            "place_type": "street",
            "reason": "Fue en la calle",
            "version": 1,
        },
        "/api/v1/cases/<case_id>/incidents/<incident_id>/void": {"reason": "Registrado dos veces"},
        "/api/v1/cases/<case_id>/incidents/<incident_id>/repeat-of": {
            "repeat_of": world["first_incident_id"],
            "version": 1,
        },
        "/api/v1/cases/<case_id>/complaints/<complaint_id>": {
            "number": "DEN-0001",
            "reason": "Número mal copiado",
            "version": 1,
        },
        "/api/v1/cases/<case_id>/safety-plan": {"plan": "Plan de seguridad acordado"},
        "/api/v1/cases/<case_id>/status": {"status": "follow_up"},
        "/api/v1/cases/<case_id>/consent": {"share_with_network": True, "statistics": True},
        "/api/v1/cases/<case_id>/complaints": {"number": "DEN-2"},
        "/api/v1/cases/<case_id>/complaints/<complaint_id>/transition": {
            "action": "forward",
            "version": 1,
        },
        "/api/v1/cases/<case_id>/complaints/<complaint_id>/file-numbers": {
            "fgr_number": "FGR-1",
            "version": 1,
        },
        "/api/v1/cases/<case_id>/complaints/<complaint_id>/hearings": {
            "starts_at": "2027-01-12T09:00",
            "court_id": world["hospital_id"],
            "kind": "initial",
        },
        "/api/v1/cases/<case_id>/hearings/<hearing_id>": {"outcome": "held", "version": 1},
        "/api/v1/cases/<case_id>/hearing-notice": {"show_hearings_in_status": True},
        "/api/v1/cases/<case_id>/measures/<measure_id>": {"status": "active", "granted": True},
        "/api/v1/cases/<case_id>/incidents/<incident_id>/aggressors": {"relationship": "partner"},
        "/api/v1/cases/<case_id>/aggressors/<aggressor_id>": {"alias": "El Toro", "version": 1},
        "/api/v1/cases/<case_id>/referrals": {
            "to_institution": world["hospital_id"],
            "service": "medical",
            "consent": True,
        },
        "/api/v1/cases/<case_id>/dependants": {
            "given_names": "Ana",
            "age": 5,
            "relationship": "daughter",
        },
        "/api/v1/cases/<case_id>/dependants/<dependant_id>": {"version": 1},
        "/api/v1/referrals/<referral_id>/transition": {"action": "cancel"},
        "/api/v1/cases/<case_id>/transfers": {
            "to_institution": world["hospital_id"],
            "reason": "better_placed",
        },
        "/api/v1/transfers/<transfer_id>/transition": {"action": "cancel"},
        "/api/v1/cases/<case_id>/assignment": {"action": "take"},
        # Refused before the ids are looked at: nobody in the fixture is a lead.
        "/api/v1/caseload/move": {"from_user_id": world["user_id"], "to_user_id": world["user_id"]},
    }
    query = {"/api/v1/cases": {"status": "open", "page": "1"}}  # never an identifier
    if rule == "/api/v1/cases/<case_id>/attachments":
        return path, {"data": {"file": (io.BytesIO(PDF), "informe.pdf")}}
    return path, {"json": bodies.get(rule), "query_string": query.get(rule)}


def web_form(rule: str, world: dict) -> dict:
    """A form each web POST accepts, so the answer shows the permission, not bad input."""
    incident = {
        "occurred_on": "2026-10-01",
        "incident_municipality": "sonsonate",
        "violence_types": ["physical"],
        "perpetrator_relationship": "partner",
        "confirm_new": "y",  # each caller adds another incident of that day
    }
    forms = {
        "/login": {"username": "nobody", "password": "not the password"},
        "/language": {"lang": "en"},
        "/account/password": {
            "current_password": "not the password",
            "new_password": "otra frase bastante larga",
            "confirm": "otra frase bastante larga",
        },
        "/account/totp": {"otp": "123456"},
        "/cases/new": {"given_names": "Rosa"},  # incomplete on purpose
        "/cases/search": {"dui": "12345678-4"},
        "/cases/<case_id>/merge": {
            "absorb": world.get("absorb_id", NO_SUCH_ID),
            "reason": "Misma persona registrada dos veces",
        },
        "/audit/merges/<merge_id>/review": {"approve": "no"},
        "/cases/<case_id>/legal-hold": {"hold": "yes", "reason": "Proceso judicial en curso"},
        "/cases/<case_id>/erasure": {
            "legal_basis": "consent_withdrawn",
            "reason": "Ella pidió suprimir sus datos",
        },
        "/audit/erasures/<erasure_id>/review": {"approve": "no"},
        "/cases/<case_id>/incidents/new": incident,
        "/cases/<case_id>/risk": {
            f"q{key}": "yes" if v else "no" for key, v in RISK_ANSWERS.items()
        },
        "/cases/<case_id>/survivor": {
            "fix-phone": "7000-0000",
            "fix-reason": "Cambió de número",
            "fix-version": str(world["survivor_version"]),
        },
        "/cases/<case_id>/safe-contact": {
            "sc-may_call": "no",
            "sc-version": str(world["survivor_version"]),
        },
        "/cases/<case_id>/access-needs": {
            "an-language": "nah",
            "an-version": str(world["survivor_version"]),
        },
        "/cases/<case_id>/incidents/<incident_id>/edit": {
            **incident,
            "reason": "La fecha se anotó mal",
            "version": "1",
        },
        "/cases/<case_id>/incidents/<incident_id>/void": {"reason": "Registrado dos veces"},
        "/cases/<case_id>/incidents/<incident_id>/repeat-of": {
            "repeat_of": world["first_incident_id"],
            "version": "1",
        },
        "/cases/<case_id>/notes": {"kind": "medical", "text": "Atención brindada"},
        "/cases/<case_id>/follow-ups": {"due_on": "2026-12-05", "channel": "visit"},
        "/cases/<case_id>/follow-ups/<follow_up_id>/outcome": {"outcome": "done"},
        "/cases/<case_id>/safety-plan": {"plan": "Plan acordado"},
        "/cases/<case_id>/status": {"status": "follow_up"},
        "/cases/<case_id>/consent": {"statistics": "y"},
        "/cases/<case_id>/complaints": {"number": "DEN-3"},
        "/cases/<case_id>/complaints/<complaint_id>/transition": {
            "action": "forward",
            "version": "1",
        },
        "/cases/<case_id>/complaints/<complaint_id>/file-numbers": {
            "fgr_number": "F-1",
            "version": "1",
        },
        "/cases/<case_id>/complaints/<complaint_id>/hearings": {
            "starts_at": "2027-01-12T09:00",
            "court_id": str(world["hospital_id"]),
            "kind": "initial",
        },
        "/cases/<case_id>/hearings/<hearing_id>": {"outcome": "held", "version": "1"},
        "/cases/<case_id>/hearing-notice": {"show_hearings_in_status": "y"},
        "/cases/<case_id>/measures/<measure_id>": {"status": "active"},
        "/cases/<case_id>/aggressors": {
            "ag-incident_id": world["incident_id"],
            "ag-relationship": "partner",
            "ag-previous_complaints": "unknown",
        },
        "/cases/<case_id>/attachments": {"file": (io.BytesIO(PDF), "informe.pdf")},
        "/cases/<case_id>/dependants": {"given_names": "Ana", "age": "5", "relationship": "son"},
        "/cases/<case_id>/referrals": {
            "to_institution": str(world["hospital_id"]),
            "service": "medical",
            "urgency": "routine",
            "consent": "y",
        },
        "/cases/<case_id>/transfer": {
            "to_institution": str(world["hospital_id"]),
            "reason": "better_placed",
        },
        "/transfers/<transfer_id>/transition": {"action": "cancel"},
        "/cases/<case_id>/break-glass": {
            "reason": "Revisión por denuncia de acceso indebido",
            "password": PASSWORD,
        },
        "/referrals/<referral_id>/transition": {"action": "cancel"},
        "/cases/<case_id>/assignment": {"action": "take"},
        "/caseload/move": {
            "from_user_id": str(world["user_id"]),
            "to_user_id": str(world["user_id"]),
        },
        "/audit/break-glass/<int:grant_id>/review": {"justified": "yes"},
        "/audit/joins/<int:party_id>/review": {"justified": "yes"},
        "/audit/accounts/<int:user_id>/approve": {"approve": "yes"},
        "/audit/recoveries/<int:recovery_id>/decide": {"approve": "yes"},
        "/admin/users/<int:user_id>/recovery": {"reason": "Perdió su contraseña y pidió otra"},
        "/admin/users": {
            "username": "nueva.usuaria",
            "display_name": "Nueva",
            "institution": "US-SON",
            "role": "health_staff",
        },
        "/admin/users/<int:user_id>": {"action": "end_sessions"},
        # Ending another login asks for her password again (ASVS 7.5.2).
        "/account/sessions/<int:session_id>/end": {"password": PASSWORD},
        "/account/tokens/<int:token_id>/revoke": {"password": PASSWORD},
        "/admin/users/end-sessions": {"password": PASSWORD},
        "/admin/institutions/new": {
            "code": "NUEVA-SON",
            "name": "Nueva institución",
            "kind": "shelter",
            "municipality": "sonsonate",
            "services": ["shelter"],
        },
        "/admin/services": {"code": "nuevo", "name_es": "Nuevo", "name_en": "New"},
        "/admin/services/<service_code>": {"name_es": "Atención médica", "name_en": "Medical"},
        "/admin/measures": {"code": "nueva", "name_es": "Nueva", "name_en": "New"},
        "/admin/measures/<measure_code>": {"name_es": "Alejarse", "name_en": "Keep away"},
        "/admin/territory/<district_code>": {"aliases": "Sonso"},
        "/admin/institutions/<int:institution_id>": {
            "name": "Hospital Nacional de Sonsonate",
            "hours": "24 horas",
            "active": "y",
            "services": ["medical"],
        },
    }
    return dict(forms.get(rule, {}))


def csrf_token_for(client, signed_in: bool) -> str:
    page = client.get("/account/password" if signed_in else "/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def sign_in_web(app, client, username: str) -> None:
    with app.app_context():
        user = db.session.query(User).filter_by(username=username).one()
        token = start_session(db.session, user, "127.0.0.1", restricted=False)
        db.session.commit()
    with client.session_transaction() as session:
        session["_user_id"] = token
        session["_fresh"] = True


@pytest.mark.parametrize(("rule", "method"), sorted(MATRIX))
def test_permission_matrix(app, world, rule, method):
    for actor, expected in MATRIX[(rule, method)].items():
        path, kwargs = request_args(rule, world)  # fresh bodies: uploads are read once
        client = app.test_client()
        headers = {}
        if actor != ANON:
            person = world["people"][actor]
            if rule.startswith("/api/"):
                headers = person.headers
            else:
                sign_in_web(app, client, person.username)
        if method == "GET":
            kwargs = {k: v for k, v in kwargs.items() if k not in ("json", "data")}
        elif not rule.startswith("/api/"):
            kwargs["data"]["csrf_token"] = csrf_token_for(client, actor != ANON)
        if rule == "/api/v1/auth/token":  # one account per caller, below the lockout
            kwargs["json"] = {**kwargs["json"], "username": f"nobody-{actor}"}
        response = client.open(path, method=method, headers=headers, **kwargs)
        response.close()  # static files are streamed from an open file
        assert response.status_code == expected, f"{method} {rule} as {actor}"
