"""The permission matrix again, for callers whose rights changed (issue 9).

A receiver that declined, a receiver whose referral was cancelled, a party after she
revoked sharing, an `own_parts` joiner, a supervisor whose break-glass expired: each is
tried on every case and referral URL of both faces, and gets what its new rights allow,
derived from the main matrix (tests/test_permissions.py) with the differences spelt out.
"""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import update

from app.audit.models import BreakGlass
from app.core.time import utcnow
from app.extensions import db
from tests.conftest import PASSWORD
from tests.factories import intake
from tests.kept_world import world_fixtures
from tests.test_permissions import (
    MATRIX,
    PDF,
    _institution_id,
    csrf_token_for,
    request_args,
    sign_in_web,
)

API = "/api/v1"
CASE_RULES = sorted(rule for rule in MATRIX if "<case_id>" in rule[0] or "<referral_id>" in rule[0])
FORMER = ("declined", "cancelled")
RESTRICTED = ("revoked", "own_parts")
ROLE = {
    "declined": "health_staff",
    "cancelled": "womens_office",
    "revoked": "health_staff",
    "own_parts": "womens_office",
}

# What an own_parts party may not do, that a full party may (CONTRACT §5).
WHOLE_RECORD_ONLY = {
    "/api/v1/cases/<case_id>/safety-plan": 403,
    "/api/v1/cases/<case_id>/status": 403,
    "/api/v1/cases/<case_id>/referrals": 403,
    "/cases/<case_id>/safety-plan": 403,
    "/cases/<case_id>/status": 403,
    "/cases/<case_id>/referrals": 403,
    # Her other records are looked for by her name, which an own_parts party is not told;
    # a merge needs the whole of both records.
    "/api/v1/cases/<case_id>/duplicates": 403,
    "/cases/<case_id>/duplicates": 403,
    "/api/v1/cases/<case_id>/merge": 403,
    "/cases/<case_id>/merge": 403,
    # Her erasure is asked by a party with the whole record (docs/retention.md).
    "/api/v1/cases/<case_id>/erasure": 403,
    "/cases/<case_id>/erasure": 403,
    # Another institution's follow-up and attachment are not among its own parts.
    "/api/v1/cases/<case_id>/follow-ups/<follow_up_id>/outcome": 404,
    "/api/v1/cases/<case_id>/attachments/<attachment_id>": 404,
    "/cases/<case_id>/follow-ups/<follow_up_id>/outcome": 404,
    "/cases/<case_id>/attachments/<attachment_id>": 404,
    # Her identity is corrected with the whole record; another's incident is not its own.
    "/api/v1/cases/<case_id>/survivor": 403,
    "/cases/<case_id>/survivor": 403,
    # So are her contact protocol and access needs.
    "/api/v1/cases/<case_id>/safe-contact": 403,
    "/api/v1/cases/<case_id>/access-needs": 403,
    "/cases/<case_id>/safe-contact": 403,
    "/cases/<case_id>/access-needs": 403,
    "/api/v1/cases/<case_id>/incidents/<incident_id>": 404,
    "/api/v1/cases/<case_id>/incidents/<incident_id>/void": 404,
    "/cases/<case_id>/incidents/<incident_id>/edit": 404,
    "/cases/<case_id>/incidents/<incident_id>/void": 404,
    # An aggressor goes on an incident it reads: another's is not among its own parts.
    "/api/v1/cases/<case_id>/incidents/<incident_id>/aggressors": 404,
    "/cases/<case_id>/aggressors": 404,
    # Linking her reports of one event needs the whole record (app/cases/repeats.py).
    "/api/v1/cases/<case_id>/incidents/<incident_id>/repeat-of": 403,
    "/cases/<case_id>/incidents/<incident_id>/repeat-of": 403,
}


def expected(actor: str, rule: str, method: str) -> int:
    statuses = MATRIX[(rule, method)]
    role = ROLE.get(actor)
    if actor == "expired":
        return statuses["supervisor"]
    if actor in FORMER:
        # Not a party any more: like an institution that never was, except that its own
        # referral row still answers (codes and dates), and the sender's moves are not its.
        if rule == "/api/v1/referrals/<referral_id>":
            return 200
        if rule.endswith("/transition"):
            return 403
        return statuses[f"{role}@other"]
    if "<referral_id>" in rule:
        return 404  # the world's referral is PNC-SON's to HOSP-SON: not theirs
    return WHOLE_RECORD_ONLY.get(rule, statuses[f"{role}@party"])


def build_changed(app, client, make_person, _people=None) -> dict:
    """A case and callers whose rights changed in each way, and its parts' ids."""
    pnc = make_person("pnc_agent", "PNC-SON")
    people = {
        "declined": make_person("health_staff", "US-ACA"),
        "cancelled": make_person("womens_office", "UMM-SZC"),
        "revoked": make_person("health_staff", "US-SON"),
        "own_parts": make_person("womens_office", "UMM-ACA"),
        "expired": make_person("supervisor", "RED-SON"),
    }
    case_id = client.post(f"{API}/cases", json=intake(), headers=pnc.headers).get_json()["id"]
    base = f"{API}/cases/{case_id}"
    assert client.post(f"{API}/cases", json=intake(), headers=people["revoked"].headers)
    refused = client.post(
        f"{API}/cases",
        headers=people["own_parts"].headers,
        json=intake(consent={"statistics": True}),
    )
    assert refused.get_json()["access"] == "own_parts"
    # She revokes sharing at the PNC and gives it again there: the others stay restricted.
    for share in (False, True):
        client.post(f"{base}/consent", headers=pnc.headers, json={"share_with_network": share})

    def referral(to: str, service: str) -> str:
        body = {
            "to_institution": _institution_id(app, to),
            "service": service,
            "urgency": "routine",
            "reason": "Atención",
            "consent": True,
        }
        sent = client.post(f"{base}/referrals", headers=pnc.headers, json=body)
        assert sent.status_code == 201, sent.get_json()
        return sent.get_json()["id"]

    def moved(person, referral_id, action, note=None):
        response = client.post(
            f"{API}/referrals/{referral_id}/transition",
            headers=person.headers,
            json={"action": action, "note": note},
        )
        assert response.status_code == 200, response.get_json()

    declined = referral("US-ACA", "medical")
    moved(people["declined"], declined, "decline", "Sin cupo")
    cancelled = referral("UMM-SZC", "psychological")
    moved(people["cancelled"], cancelled, "accept")
    moved(pnc, cancelled, "cancel")
    main = referral("HOSP-SON", "medical")

    grant = client.post(
        f"{base}/break-glass",
        headers=people["expired"].headers,
        json={"reason": "Orden judicial urgente del juzgado", "password": PASSWORD},
    )
    assert grant.status_code == 201
    with app.app_context():
        db.session.execute(update(BreakGlass).values(expires_at=utcnow() - timedelta(minutes=1)))
        db.session.commit()

    follow_up = client.post(
        f"{base}/follow-ups", headers=pnc.headers, json={"due_on": "2026-12-01", "channel": "phone"}
    ).get_json()
    complaint = client.post(
        f"{base}/complaints",
        headers=pnc.headers,
        json={"number": "DEN-9", "measures": [{"measure": "keep_away"}]},
    )
    attachment = client.post(
        f"{base}/attachments", headers=pnc.headers, data={"file": (io.BytesIO(PDF), "informe.pdf")}
    )
    hospital = _institution_id(app, "HOSP-SON")
    read = client.get(base, headers=pnc.headers).get_json()
    ids = {
        "case_id": case_id,
        "incident_id": read["incidents"][0]["id"],
        "first_incident_id": read["incidents"][0]["id"],
        "survivor_version": read["survivor"]["version"],
        "complaint_id": complaint.get_json()["id"],
        "follow_up_id": follow_up["id"],
        "measure_id": complaint.get_json()["measures"][0]["id"],
        "attachment_id": attachment.get_json()["id"],
        "referral_id": main,
        "grant_id": grant.get_json()["id"],
        "notification_id": 0,
        "user_id": pnc.id,
        "institution_id": hospital,
        "hospital_id": hospital,
        "party_id": 0,
    }
    own_referral = {"declined": declined, "cancelled": cancelled}
    return {"people": people, "ids": ids, "own_referral": own_referral}


# Built once per module and worker (tests/kept_world.py).
kept_changed, settings, changed = world_fixtures("changed", build_changed)


@pytest.mark.parametrize(("rule", "method"), CASE_RULES)
def test_changed_rights(app, changed, rule, method):
    for actor, person in changed["people"].items():
        world = dict(changed["ids"])
        world["referral_id"] = changed["own_referral"].get(actor, world["referral_id"])
        path, kwargs = request_args(rule, world)
        client = app.test_client()
        headers = {}
        if rule.startswith("/api/"):
            headers = person.headers
        else:
            sign_in_web(app, client, person.username)
        if method == "GET":
            kwargs = {k: v for k, v in kwargs.items() if k not in ("json", "data")}
        elif not rule.startswith("/api/"):
            kwargs["data"]["csrf_token"] = csrf_token_for(client, True)
        response = client.open(path, method=method, headers=headers, **kwargs)
        response.close()
        assert response.status_code == expected(actor, rule, method), f"{method} {rule} as {actor}"


def test_what_each_changed_caller_reads_of_the_case(app, client, changed):
    case_id = changed["ids"]["case_id"]
    people = changed["people"]
    for actor, view in (
        ("revoked", "own_parts"),
        ("own_parts", "own_parts"),
        ("expired", "metadata"),
    ):
        record = client.get(f"{API}/cases/{case_id}", headers=people[actor].headers).get_json()
        assert record["access"] == view, actor
        assert record.get("survivor") is None, actor
    for actor in FORMER:
        referral_id = changed["own_referral"][actor]
        seen = client.get(f"{API}/referrals/{referral_id}", headers=people[actor].headers)
        assert seen.get_json()["reason"] is None and seen.get_json()["text_withheld"] is True
