"""The aggressor as a record of his own, and the repeat-aggressor signal (issue 14, item 2).

His identity is sealed; his DUI, and his normalised name with birth date, are blind
indexes of purposes of his own. The signal on a case counts the OTHER live records with
an aggressor of the same index, and tells nothing else of them: not their numbers, ids,
institutions or dates. His workplace in the network is excluded from her record.
"""

from __future__ import annotations

import json

from sqlalchemy import select, update

from app.audit.models import AuditEvent
from app.cases.aggressor_models import Aggressor
from app.cases.models import Case, CaseExclusion
from app.extensions import db
from tests.auth_helpers import csrf_token
from tests.factories import OTHER_DUI, VALID_DUI
from tests.test_database_plaintext import database_bytes, leaked
from tests.test_permissions import RISK_ANSWERS
from tests.test_referral_inbox import API, institution_id, open_case, web

HIM = {
    "given_names": "Carlos Ernesto",
    "family_names": "Ramírez Pineda",
    "dui": OTHER_DUI,
    "birth_date": "1985-06-02",
    "alias": "El Zope Pintado",
    "notes": "Trabaja de vigilante nocturno en el mercado central",
    "relationship": "partner",
    "has_firearm": True,
    "firearm_licence": False,
    "lives_with_her": True,
    "previous_complaints": "yes",
}
# The same man at another desk: no DUI, his name typed otherwise (accents, case, spaces).
HIM_BY_NAME = {
    "given_names": "carlos  ERNESTO",
    "family_names": "Ramirez Pineda",
    "birth_date": "1985-06-02",
    "relationship": "former_partner",
}
WOMEN = (
    {"dui": None, "given_names": "Rosa Elena", "birth_date": "1990-01-01"},
    {"dui": None, "given_names": "Carmen Lucía", "birth_date": "1991-02-02"},
    {"dui": None, "given_names": "Julia Beatriz", "birth_date": "1992-03-03"},
)


# ---- helpers ---------------------------------------------------------------------------


def her_case(client, person, n: int) -> dict:
    case_id = open_case(client, person, **WOMEN[n])
    record = read(client, person, case_id)
    return {"id": case_id, "number": record["number"], "incident": record["incidents"][0]["id"]}


def read(client, person, case_id: str) -> dict:
    response = client.get(f"{API}/cases/{case_id}", headers=person.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def add(client, person, case: dict, **body):
    path = f"{API}/cases/{case['id']}/incidents/{case['incident']}/aggressors"
    return client.post(path, json=body, headers=person.headers)


def added(client, person, case: dict, **body) -> dict:
    response = add(client, person, case, **body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def signal(client, person, case: dict) -> int:
    return read(client, person, case["id"])["repeat_aggressor"]["other_cases"]


def set_case(app, case_id: str, **values) -> None:
    import uuid

    with app.app_context():
        db.session.execute(update(Case).where(Case.id == uuid.UUID(case_id)).values(**values))
        db.session.commit()


def stored_aggressors(app) -> list[tuple]:
    with app.app_context():
        stmt = select(Aggressor.dui_bidx, Aggressor.name_dob_bidx, Aggressor.index_key_id)
        return [tuple(row) for row in db.session.execute(stmt.order_by(Aggressor.id)).all()]


def nothing_of(case: dict, text: str, *others: str) -> list[str]:
    """What of the other record shows in `text`: its number, id, others given."""
    return [value for value in (case["number"], case["id"], *others) if value in text]


# ---- his record ------------------------------------------------------------------------


def test_the_aggressor_is_recorded_on_the_incident_sealed_and_read_back(app, client, pnc):
    case = her_case(client, pnc, 0)
    shown = added(client, pnc, case, **HIM)
    assert shown["dui"] == OTHER_DUI and shown["alias"] == HIM["alias"]
    assert shown["institution"] == "PNC-SON" and shown["incident_id"] == case["incident"]
    assert shown["age_group"] == "30-59"  # from his birth date on the day of the incident
    record = read(client, pnc, case["id"])
    assert [a["id"] for a in record["aggressors"]] == [shown["id"]]
    assert record["aggressors"][0]["family_names"] == "Ramírez Pineda"
    assert record["repeat_aggressor"] == {"other_cases": 0}
    secrets = {"Carlos Ernesto", "Ramírez Pineda", OTHER_DUI, HIM["alias"], HIM["notes"]}
    assert leaked(database_bytes(app), secrets) == []


def test_bad_input_is_refused_with_its_fields(client, pnc):
    case = her_case(client, pnc, 0)
    response = add(client, pnc, case, relationship="neighbour", dui="12345678-0")
    assert response.status_code in (400, 422)
    assert set(response.get_json()["fields"]) == {"relationship", "dui"}
    assert add(client, pnc, case, given_names="Sin relación").status_code in (400, 422)


def test_a_correction_carries_the_version_and_his_indexes_follow(app, client, pnc):
    case = her_case(client, pnc, 0)
    first = added(client, pnc, case, **HIM)
    path = f"{API}/cases/{case['id']}/aggressors/{first['id']}"
    before = stored_aggressors(app)
    fixed = client.patch(path, json={"dui": VALID_DUI, "version": 1}, headers=pnc.headers)
    assert fixed.status_code == 200 and fixed.get_json()["dui"] == VALID_DUI
    after = stored_aggressors(app)
    assert after[0][0] != before[0][0] and after[0][1] == before[0][1]
    stale = client.patch(path, json={"alias": "Otro", "version": 1}, headers=pnc.headers)
    assert stale.status_code == 409


# ---- who may --------------------------------------------------------------------------


def test_roles_that_do_not_work_on_cases_get_403_and_other_institutions_404(
    client, pnc, make_person, supervisor, admin
):
    case = her_case(client, pnc, 0)
    elsewhere = make_person("pnc_agent", "PNC-ACA")
    assert add(client, supervisor, case, **HIM).status_code == 403
    assert add(client, admin, case, **HIM).status_code == 403
    assert add(client, elsewhere, case, **HIM).status_code == 404
    shown = added(client, pnc, case, **HIM)
    path = f"{API}/cases/{case['id']}/aggressors/{shown['id']}"
    body = {"alias": "Otro", "version": 1}
    assert client.patch(path, json=body, headers=elsewhere.headers).status_code == 404
    assert client.patch(path, json=body, headers=supervisor.headers).status_code == 403


def test_an_own_parts_party_reads_and_adds_aggressors_of_its_own_incidents_only(
    client, pnc, health
):
    case = her_case(client, pnc, 0)
    added(client, pnc, case, **HIM)
    # US-SON joins without her consent given now: its own parts only.
    joined = client.post(
        f"{API}/cases",
        json={
            "survivor": {**_survivor_of(0)},
            "incident": {**_incident(), "occurred_on": "2026-10-20"},
            "consent": {"share_with_network": False},
        },
        headers=health.headers,
    )
    assert joined.status_code == 201 and joined.get_json()["access"] == "own_parts"
    record = read(client, health, case["id"])
    assert record["aggressors"] == []
    assert add(client, health, case, **HIM_BY_NAME).status_code == 404
    own = {**case, "incident": record["incidents"][0]["id"]}
    assert added(client, health, own, **HIM_BY_NAME)["institution"] == "US-SON"


def _survivor_of(n: int) -> dict:
    from tests.factories import survivor

    return survivor(**WOMEN[n])


def _incident() -> dict:
    from tests.factories import incident

    return incident()


# ---- the repeat-aggressor signal --------------------------------------------------------


def test_the_signal_on_the_second_case_counts_one_and_reveals_nothing_of_the_first(
    app, client, pnc, health
):
    first = her_case(client, pnc, 0)
    added(client, pnc, first, **HIM)
    second = her_case(client, health, 1)
    added(client, health, second, **HIM_BY_NAME)

    answer = client.get(f"{API}/cases/{second['id']}", headers=health.headers)
    record = answer.get_json()
    assert record["repeat_aggressor"] == {"other_cases": 1}
    text = json.dumps(record, ensure_ascii=False)
    assert nothing_of(first, text, "PNC-SON", OTHER_DUI, HIM["alias"], HIM["notes"]) == []
    page = web(app, health).get(f"/cases/{second['id']}").get_data(as_text=True)
    assert "Este agresor aparece en otro expediente: revise la valoración de riesgo." in page
    assert nothing_of(first, page, "PNC-SON", OTHER_DUI, HIM["alias"], HIM["notes"]) == []
    # The first record sees the second the same way, and each read is audited with it.
    assert signal(client, pnc, first) == 1
    with app.app_context():
        details = db.session.execute(
            select(AuditEvent.case_id, AuditEvent.detail)
            .where(AuditEvent.action == "case_view")
            .order_by(AuditEvent.id)
        ).all()
    assert (second["id"], "full;repeat_aggressor=1") in [(str(c), d) for c, d in details]


def test_a_third_case_counts_two_and_a_survivor_of_his_name_counts_nothing(
    client, pnc, health, womens
):
    cases = [her_case(client, person, n) for n, person in enumerate((pnc, health, womens))]
    added(client, pnc, cases[0], **HIM)
    added(client, health, cases[1], **HIM_BY_NAME)
    added(client, womens, cases[2], **{**HIM, "alias": None, "notes": None})
    assert [signal(client, p, c) for p, c in zip((pnc, health, womens), cases, strict=True)] == [
        2,
        2,
        2,
    ]
    # A survivor whose name, birth date and DUI are his: her indexes are of other purposes.
    him_as_her = {k: HIM[k] for k in ("given_names", "family_names", "dui", "birth_date")}
    open_case(client, pnc, **him_as_her)
    assert signal(client, pnc, cases[0]) == 2


def test_a_merged_away_or_purged_record_is_not_counted(app, client, pnc, health, womens):
    cases = [her_case(client, person, n) for n, person in enumerate((pnc, health, womens))]
    added(client, pnc, cases[0], **HIM)
    added(client, health, cases[1], **HIM_BY_NAME)
    added(client, womens, cases[2], **HIM_BY_NAME)
    assert signal(client, pnc, cases[0]) == 2
    set_case(app, cases[1]["id"], merged_into_id=Case.id)  # absorbed (by itself, for the test)
    assert signal(client, pnc, cases[0]) == 1
    set_case(app, cases[2]["id"], purged_at=Case.created_at)
    assert signal(client, pnc, cases[0]) == 0


def test_a_purge_forgets_his_indexes(app, client, pnc):
    import uuid

    from app.cases.aggressors import forget_indexes

    case = her_case(client, pnc, 0)
    added(client, pnc, case, **HIM)
    with app.app_context():
        forget_indexes(db.session, uuid.UUID(case["id"]))
        db.session.commit()
    assert [row[:2] for row in stored_aggressors(app)] == [(None, None)]


def test_supervisors_read_the_signal_without_his_identity(client, pnc, health, supervisor):
    first = her_case(client, pnc, 0)
    added(client, pnc, first, **HIM)
    second = her_case(client, health, 1)
    added(client, health, second, **HIM_BY_NAME)
    record = read(client, supervisor, second["id"])
    assert record["access"] == "metadata"
    assert record["repeat_aggressor"] == {"other_cases": 1}
    assert "aggressors" not in record or not record["aggressors"]
    assert nothing_of(first, json.dumps(record, ensure_ascii=False), OTHER_DUI, "Carlos") == []


def test_the_task_list_asks_a_reassessment_until_the_risk_is_assessed_again(
    app, client, pnc, health
):
    first = her_case(client, pnc, 0)
    added(client, pnc, first, **HIM)
    second = her_case(client, health, 1)

    def repeat_tasks() -> list:
        items = client.get(f"{API}/tasks", headers=health.headers).get_json()["items"]
        return [task for task in items if task["kind"] == "repeat_aggressor"]

    assert repeat_tasks() == []
    added(client, health, second, **HIM_BY_NAME)
    tasks = repeat_tasks()
    assert [task["case_number"] for task in tasks] == [second["number"]]
    assert nothing_of(first, json.dumps(tasks)) == []
    risk = client.post(
        f"{API}/cases/{second['id']}/risk-assessments",
        json={"answers": RISK_ANSWERS},
        headers=health.headers,
    )
    assert risk.status_code == 201, risk.get_json()
    assert repeat_tasks() == []
    page = web(app, health).get(f"/cases/{second['id']}/risk").get_data(as_text=True)
    assert "Este agresor aparece en otro expediente: revise la valoración de riesgo." in page


# ---- his workplace: a conflict of interest ---------------------------------------------


def test_his_workplace_is_excluded_from_her_record_as_she_would_exclude_it(
    app, client, pnc, health
):
    case_id = open_case(client, pnc, **WOMEN[0])
    client.post(f"{API}/cases", json=_joined_with_consent(), headers=health.headers)
    assert read(client, health, case_id)["access"] == "full"
    record = read(client, pnc, case_id)
    own = next(i for i in record["incidents"] if i["entry_institution"] == "PNC-SON")
    case = {"id": case_id, "incident": own["id"]}
    us_son = institution_id(client, pnc, "US-SON")
    shown = added(client, pnc, case, **HIM, works_at_institution_id=us_son)
    assert shown["works_at_institution"] == "US-SON"
    restricted = read(client, health, case_id)
    assert restricted["access"] == "own_parts" and restricted["survivor"] is None
    assert restricted["aggressors"] == []
    with app.app_context():
        excluded = db.session.execute(select(CaseExclusion.institution_id)).scalars().all()
    assert excluded == [us_son]


def test_his_workplace_cannot_be_the_recording_institution_or_unknown(client, pnc):
    case = her_case(client, pnc, 0)
    own = add(
        client, pnc, case, **HIM, works_at_institution_id=institution_id(client, pnc, "PNC-SON")
    )
    assert own.status_code == 422 and "works_at_institution_id" in own.get_json()["fields"]
    unknown = add(client, pnc, case, **HIM, works_at_institution_id=999_999)
    assert unknown.status_code == 422 and "works_at_institution_id" in unknown.get_json()["fields"]


def _joined_with_consent() -> dict:
    return {
        "survivor": _survivor_of(0),
        "incident": {**_incident(), "occurred_on": "2026-10-21"},
        "consent": {"share_with_network": True, "statistics": True, "police": True},
    }


# ---- measures against him ----------------------------------------------------------------


def test_a_measure_names_the_aggressor_of_its_own_case_only(client, pnc, health):
    case = her_case(client, pnc, 0)
    him = added(client, pnc, case, **HIM)
    other = her_case(client, health, 1)
    stranger = added(client, health, other, **HIM_BY_NAME)
    path = f"{API}/cases/{case['id']}/complaints"
    measure = {"measure": "keep_away", "aggressor_id": stranger["id"]}
    refused = client.post(
        path, json={"number": "DEN-7", "measures": [measure]}, headers=pnc.headers
    )
    assert refused.status_code == 422, refused.get_json()
    measure["aggressor_id"] = him["id"]
    filed = client.post(path, json={"number": "DEN-7", "measures": [measure]}, headers=pnc.headers)
    assert filed.status_code == 201, filed.get_json()
    assert filed.get_json()["measures"][0]["aggressor_id"] == him["id"]
    measure_id = filed.get_json()["measures"][0]["id"]
    update = f"{API}/cases/{case['id']}/measures/{measure_id}"
    wrong = client.patch(update, json={"aggressor_id": stranger["id"]}, headers=pnc.headers)
    assert wrong.status_code == 422


# ---- index rotation and re-keying ----------------------------------------------------------


def test_rotate_index_recomputes_his_indexes_and_the_signal_survives(app, client, pnc, health):
    first = her_case(client, pnc, 0)
    added(client, pnc, first, **HIM)
    second = her_case(client, health, 1)
    added(client, health, second, **HIM_BY_NAME)
    before = stored_aggressors(app)
    result = app.test_cli_runner().invoke(args=["keys", "rotate-index", "--settle", "0"])
    assert result.exit_code == 0, result.output
    after = stored_aggressors(app)
    assert all(old[0] != new[0] for old, new in zip(before, after, strict=True) if old[0])
    assert all(old[1] != new[1] for old, new in zip(before, after, strict=True))
    assert len({row[2] for row in after}) == 1 and after[0][2] != before[0][2]
    assert signal(client, health, second) == 1


def test_rekey_reseals_him_and_he_reads_the_same(app, client, pnc):
    case = her_case(client, pnc, 0)
    added(client, pnc, case, **HIM)
    result = app.test_cli_runner().invoke(args=["keys", "rekey-cases", "--case", case["number"]])
    assert result.exit_code == 0, result.output
    assert read(client, pnc, case["id"])["aggressors"][0]["dui"] == OTHER_DUI


# ---- the page ---------------------------------------------------------------------------


def test_the_case_page_records_him_and_a_refused_form_keeps_what_was_typed(app, client, pnc):
    case = her_case(client, pnc, 0)
    browser = web(app, pnc)
    page = browser.get(f"/cases/{case['id']}").get_data(as_text=True)
    form = {
        "csrf_token": csrf_token(page),
        "ag-incident_id": case["incident"],
        "ag-given_names": "Carlos Ernesto",
        "ag-dui": "12345678-0",
        "ag-relationship": "partner",
        "ag-previous_complaints": "unknown",
    }
    refused = browser.post(f"/cases/{case['id']}/aggressors", data=form)
    assert refused.status_code == 303 and refused.location.endswith("#agresores")
    again = browser.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "DUI no válido" in again and 'value="Carlos Ernesto"' in again
    form["ag-dui"] = OTHER_DUI
    saved = browser.post(f"/cases/{case['id']}/aggressors", data=form)
    assert saved.status_code == 303
    shown = browser.get(f"/cases/{case['id']}").get_data(as_text=True)
    assert "Agresor registrado." in shown and OTHER_DUI in shown
    assert read(client, pnc, case["id"])["aggressors"][0]["given_names"] == "Carlos Ernesto"
