"""Counting women (issue 14, item 6): one pseudonymous code per woman in the incident
export, the same at every institution and department; `unit=survivors`; an event
reported again counted once; the statistics key replaced breaks the linkage."""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

import pytest
from sqlalchemy import select

from app.audit.models import AuditEvent
from app.cases.models import Incident, Survivor
from app.crypto.blind_index import blind_index
from app.crypto.keyring import KeyMaterial, KeyRing, read_key_file, write_key_file
from app.crypto.service import StartupError
from app.crypto.startup import give_statistics_key
from app.crypto.survivor_code import canonical_identity, survivor_code
from app.extensions import db
from tests import factories
from tests.auth_helpers import csrf_token
from tests.report_helpers import Seeded, open_cases, read_csv, valid_dui
from tests.test_permissions import sign_in_web

EXPORT = "/api/v1/exports/incidents.csv"
PERIOD = {"from": "2026-01-01", "to": "2026-12-31"}  # a published period: a whole year
CODE = "Survivor code"
HER = {
    "given_names": "Rosa Amelia",
    "family_names": "Guardado Menjívar",
    "dui": valid_dui(47_000_001),
    "birth_date": "1991-06-21",
    "phone": "7456-0192",
    "address": "Cantón El Castaño, casa 9",
}


def intake_of_her(
    client, person, occurred_on: str, municipality: str = "Sonsonate", **consent: bool
) -> dict[str, Any]:
    body = factories.intake(
        survivor_overrides=HER,
        incident_overrides={
            "occurred_on": occurred_on,
            "violence_types": ["physical"],
            "municipality": municipality,
        },
        consent={"share_with_network": True, "statistics": True, "police": True, **consent},
    )
    response = client.post("/api/v1/cases", json=body, headers=person.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def four_other_women(client, pnc) -> Seeded:
    seeded = Seeded()
    open_cases(client, pnc, seeded, 4, municipality="Sonsonate", types=["physical"])
    return seeded


def her_three_reports(client, pnc, health, sta_pnc) -> str:
    """Her first report at PNC-SON, a second incident there, a third told at the
    health unit and a fourth at Santa Ana's PNC (another department): one record."""
    # All in October: a year whose one other month held a small count would hide its
    # total (the months would give that month back).
    case = intake_of_her(client, pnc, "2026-10-05")
    again = client.post(
        f"/api/v1/cases/{case['id']}/incidents",
        headers=pnc.headers,
        json=factories.incident(occurred_on="2026-10-08", violence_types=["physical"]),
    )
    assert again.status_code == 201, again.get_json()
    assert intake_of_her(client, health, "2026-10-02")["matched_existing"] is True
    assert intake_of_her(client, sta_pnc, "2026-10-12", "Santa Ana")["matched_existing"] is True
    return case["id"]


@pytest.fixture
def sta_pnc(make_person):
    return make_person("pnc_agent", "PNC-STA")


def stats_total(client, person, unit: str) -> Any:
    query = {**PERIOD, "by": "sex", "unit": unit}
    response = client.get("/api/v1/stats", query_string=query, headers=person.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["total"]


def exported(client, supervisor) -> list[dict[str, str]]:
    response = client.get(EXPORT, headers=supervisor.headers, query_string=PERIOD)
    assert response.status_code == 200
    header, _labels, *rows = read_csv(response.get_data(as_text=True))
    return [dict(zip(header, row, strict=True)) for row in rows]


def stored_survivors(app) -> list[Survivor]:
    with app.app_context():
        rows = list(db.session.execute(select(Survivor)).scalars())
        db.session.expunge_all()
    return rows


# ---- unit=survivors ---------------------------------------------------------------------


def test_one_woman_with_several_reports_counts_once_through_the_api(client, pnc, health, sta_pnc):
    four_other_women(client, pnc)
    her_three_reports(client, pnc, health, sta_pnc)
    assert stats_total(client, pnc, "incidents") == 8  # 4 + her 4
    assert stats_total(client, pnc, "survivors") == 5
    assert stats_total(client, pnc, "cases") == 5


def test_one_woman_with_several_reports_counts_once_on_the_pages(
    app, client, pnc, health, sta_pnc, supervisor
):
    four_other_women(client, pnc)
    her_three_reports(client, pnc, health, sta_pnc)
    web = app.test_client()
    sign_in_web(app, web, supervisor.username)
    query = {**PERIOD, "by": "sex", "unit": "survivors"}
    page = web.get("/reports", query_string=query)
    assert page.status_code == 200
    assert 'value="survivors" selected' in page.get_data(as_text=True)
    csv_rows = read_csv(web.get("/reports/stats.csv", query_string=query).get_data(as_text=True))
    assert csv_rows[-1][-1] == "5"


def test_women_without_statistics_consent_are_not_counted(client, pnc):
    seeded = four_other_women(client, pnc)
    open_cases(client, pnc, seeded, 2, municipality="Sonsonate", types=["physical"])
    open_cases(client, pnc, seeded, 3, municipality="Sonsonate", types=["sexual"], statistics=False)
    assert stats_total(client, pnc, "survivors") == 6


# ---- her code in the export -------------------------------------------------------------


def test_her_code_is_the_same_at_two_institutions_and_two_departments(
    app, client, pnc, health, sta_pnc, supervisor
):
    four_other_women(client, pnc)
    her_three_reports(client, pnc, health, sta_pnc)
    rows = exported(client, supervisor)
    assert len(rows) == 8
    assert all(re.fullmatch(r"[A-Z2-7]{16}", row[CODE]) for row in rows)
    by_code: dict[str, set[str]] = {}
    for row in rows:
        by_code.setdefault(row[CODE], set()).add(row["Entry institution type"])
    assert sorted(len(kinds) for kinds in by_code.values()) == [1, 1, 1, 1, 2]
    [hers] = [
        code for code, kinds in by_code.items() if kinds == {"pnc_family_unit", "health_unit"}
    ]
    assert sum(row[CODE] == hers for row in rows) == 4
    departments = {row["Incident location (department)"] for row in rows if row[CODE] == hers}
    assert departments == {"Sonsonate", "Santa Ana"}
    ring = app.extensions["ruta.keyring"]
    identity = canonical_identity(HER["dui"], "", "", None)
    assert hers == survivor_code(ring.statistics_key, identity)


def test_the_code_depends_on_her_identity_only():
    key = bytes(range(32))
    by_dui = canonical_identity("12345678-4", "María", "López", "1994-03-15")
    assert by_dui == canonical_identity("12345678-4", "Otra", "Persona", "2000-01-01")
    by_name = canonical_identity(None, "María  José", "López", "1994-03-15")
    assert by_name == canonical_identity(None, "maria jose", "LOPEZ", "1994-03-15")
    assert survivor_code(key, by_name) != survivor_code(key, by_dui)
    assert survivor_code(key, by_dui) != survivor_code(bytes(32), by_dui)


def test_two_women_get_two_codes_and_neither_is_an_index_value(app, client, pnc, supervisor):
    four_other_women(client, pnc)
    survivors = stored_survivors(app)
    codes = {s.stat_code for s in survivors}
    assert len(codes) == 4 and None not in codes
    ring = app.extensions["ruta.keyring"]
    assert ring.statistics_key not in (ring.index_key, ring.audit_key)
    for survivor in survivors:
        assert survivor.stat_code != survivor.dui_bidx
        assert survivor.stat_key_id == ring.statistics_key_id
    for number in range(1, 5):
        dui = valid_dui(31_000_000 + number)
        under_index = survivor_code(ring.index_key, canonical_identity(dui, "", "", None))
        assert under_index not in codes
        assert blind_index(ring.index_key, "dui", dui) not in codes


def test_the_export_carries_no_plaintext_identity(app, client, pnc, health, sta_pnc, supervisor):
    seeded = four_other_women(client, pnc)
    her_three_reports(client, pnc, health, sta_pnc)
    text = client.get(EXPORT, headers=supervisor.headers, query_string=PERIOD).get_data(
        as_text=True
    )
    for secret in [*seeded.secrets, *HER.values(), "Rosa", "Guardado", "21/06/1991"]:
        assert secret.lower() not in text.lower(), secret


def test_a_corrected_identity_gets_the_code_of_the_new_identity(app, client, pnc):
    case = intake_of_her(client, pnc, "2026-09-10")
    [before] = stored_survivors(app)
    record = client.get(f"/api/v1/cases/{case['id']}", headers=pnc.headers).get_json()
    new_dui = valid_dui(47_000_002)
    fixed = client.patch(
        f"/api/v1/cases/{case['id']}/survivor",
        headers=pnc.headers,
        json={
            "dui": new_dui,
            "reason": "DUI mal copiado",
            "version": record["survivor"]["version"],
        },
    )
    assert fixed.status_code == 200, fixed.get_json()
    [after] = stored_survivors(app)
    ring = app.extensions["ruta.keyring"]
    assert after.stat_code != before.stat_code
    assert after.stat_code == survivor_code(
        ring.statistics_key, canonical_identity(new_dui, "", "", None)
    )


# ---- the export's new columns -----------------------------------------------------------


def test_the_export_gains_disability_previous_reports_perpetrators_and_modality(
    client, pnc, health, supervisor
):
    body = factories.intake(
        survivor_overrides={**HER, "disability": True},
        incident_overrides={"occurred_on": "2026-09-10", "modality": "workplace"},
    )
    case = client.post("/api/v1/cases", json=body, headers=pnc.headers).get_json()
    later = client.post(
        f"/api/v1/cases/{case['id']}/incidents",
        headers=pnc.headers,
        json=factories.incident(occurred_on="2026-10-01", perpetrator_relationship="stranger"),
    )
    assert later.status_code == 201, later.get_json()
    first, second = exported(client, supervisor)
    assert first["Survivor has a disability"] == "yes"
    assert (first["Previously reported"], second["Previously reported"]) == ("no", "yes")
    assert first["Number of alleged perpetrators"] == "1"
    assert first["Alleged perpetrator relationships"] == "partner"
    assert second["Alleged perpetrator relationships"] == "stranger"
    assert (first["Modality (LEIV art. 10)"], second["Modality (LEIV art. 10)"]) == (
        "workplace",
        "",
    )


def test_the_second_header_row_gives_spanish_labels(client, pnc, supervisor):
    four_other_women(client, pnc)
    response = client.get(EXPORT, headers=supervisor.headers, query_string=PERIOD)
    header, labels, *_rows = read_csv(response.get_data(as_text=True))
    spanish = dict(zip(header, labels, strict=True))
    assert spanish["Survivor code"] == "Código seudónimo de la sobreviviente"
    assert spanish["Modality (LEIV art. 10)"] == "Modalidad (LEIV art. 10)"
    assert spanish["Incident ID"] == "Código del hecho"


def test_an_unknown_modality_is_422_with_the_field(client, pnc):
    body = factories.intake(incident_overrides={"modality": "domestic"})
    response = client.post("/api/v1/cases", json=body, headers=pnc.headers)
    assert response.status_code == 422
    assert "modality" in response.get_json()["fields"]["incident"]


# ---- the same event reported again ------------------------------------------------------


def incidents_of(client, person, case_id: str) -> list[dict[str, Any]]:
    record = client.get(f"/api/v1/cases/{case_id}", headers=person.headers).get_json()
    return sorted(record["incidents"], key=lambda i: i["occurred_on"])


def link(client, person, case_id: str, incident: dict[str, Any], original: str | None):
    return client.post(
        f"/api/v1/cases/{case_id}/incidents/{incident['id']}/repeat-of",
        headers=person.headers,
        json={"repeat_of": original, "version": incident["version"]},
    )


def her_event_told_twice(client, pnc, health) -> tuple[str, dict, dict]:
    case = intake_of_her(client, pnc, "2026-09-10")
    intake_of_her(client, health, "2026-09-11")  # the same beating, told at the clinic
    first, second = incidents_of(client, pnc, case["id"])
    return case["id"], first, second


def test_an_event_reported_again_counts_once(app, client, pnc, health, supervisor):
    four_other_women(client, pnc)
    case_id, first, second = her_event_told_twice(client, pnc, health)
    assert stats_total(client, pnc, "incidents") == 6
    assert len(exported(client, supervisor)) == 6

    linked = link(client, pnc, case_id, second, first["id"])

    assert linked.status_code == 200, linked.get_json()
    assert linked.get_json()["repeat_of"] == first["id"]
    assert stats_total(client, pnc, "incidents") == 5
    assert len(exported(client, supervisor)) == 5
    [again] = [i for i in incidents_of(client, pnc, case_id) if i["id"] == second["id"]]
    assert again["repeat_of"] == first["id"]
    with app.app_context():
        details = db.session.execute(
            select(AuditEvent.action, AuditEvent.detail)
            .where(AuditEvent.object_id == second["id"])
            .order_by(AuditEvent.id)
        ).all()
    assert ("case_update", "repeat_of:set") in [tuple(d) for d in details]


def test_undoing_the_link_counts_both_again(client, pnc, health):
    four_other_women(client, pnc)
    case_id, first, second = her_event_told_twice(client, pnc, health)
    assert link(client, pnc, case_id, second, first["id"]).status_code == 200
    [again] = [i for i in incidents_of(client, pnc, case_id) if i["id"] == second["id"]]
    assert link(client, pnc, case_id, again, None).status_code == 200
    assert stats_total(client, pnc, "incidents") == 6


def test_only_an_earlier_incident_of_the_same_case_is_an_original(client, pnc, health):
    case_id, first, second = her_event_told_twice(client, pnc, health)
    later_first = link(client, pnc, case_id, first, second["id"])
    assert later_first.status_code == 422
    assert "repeat_of" in later_first.get_json()["fields"]
    [other] = open_cases(client, pnc, Seeded(), 1, municipality="Sonsonate", types=["physical"])
    [elsewhere] = incidents_of(client, pnc, other)
    assert link(client, pnc, case_id, second, elsewhere["id"]).status_code == 422
    assert link(client, pnc, case_id, second, str(uuid.uuid4())).status_code == 422


def test_a_stale_version_is_409(client, pnc, health):
    case_id, first, second = her_event_told_twice(client, pnc, health)
    assert link(client, pnc, case_id, second, first["id"]).status_code == 200
    assert link(client, pnc, case_id, second, None).status_code == 409  # version read before


def test_a_party_without_the_whole_record_cannot_link(client, pnc, health):
    case = intake_of_her(client, pnc, "2026-09-10", share_with_network=False)
    joined = intake_of_her(client, health, "2026-09-11", share_with_network=False)
    assert joined["access"] == "own_parts"
    first, second = incidents_of(client, pnc, case["id"])
    assert link(client, health, case["id"], second, first["id"]).status_code == 403
    assert link(client, pnc, case["id"], second, first["id"]).status_code == 200


def test_the_case_page_links_a_repeat(app, client, pnc, health):
    case_id, first, second = her_event_told_twice(client, pnc, health)
    web = app.test_client()
    sign_in_web(app, web, pnc.username)
    page = web.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f"/cases/{case_id}/incidents/{second['id']}/repeat-of" in page
    sent = web.post(
        f"/cases/{case_id}/incidents/{second['id']}/repeat-of",
        data={
            "repeat_of": first["id"],
            "version": str(second["version"]),
            "csrf_token": csrf_token(page),
        },
    )
    assert sent.status_code == 303
    with app.app_context():
        stored = db.session.get(Incident, uuid.UUID(second["id"]))
        assert stored is not None and str(stored.repeat_of_id) == first["id"]
    shown = web.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "nueva denuncia del mismo hecho" in shown


# ---- the statistics key -----------------------------------------------------------------


def rotate_statistics(app, *extra: str) -> Any:
    result = app.test_cli_runner().invoke(
        args=["keys", "rotate-statistics", "--settle", "0", *extra]
    )
    assert result.exit_code == 0, result.output
    return result


def test_rotating_the_statistics_key_changes_every_code_and_breaks_linkage(
    app, client, pnc, health, sta_pnc, supervisor
):
    four_other_women(client, pnc)
    her_three_reports(client, pnc, health, sta_pnc)
    key_file = app.config["RUTA_KEY_FILE"]
    old = read_key_file(key_file)
    before = {row[CODE] for row in exported(client, supervisor)}

    result = rotate_statistics(app)

    after = {row[CODE] for row in exported(client, supervisor)}
    assert len(before) == len(after) == 5
    assert before.isdisjoint(after)  # an older export links to nothing new
    assert stats_total(client, pnc, "survivors") == 5
    material = read_key_file(key_file)
    assert material.statistics_key != old.statistics_key
    assert material.retiring_statistics_keys == ()
    assert old.statistics_key is not None
    old_text = base64.b64encode(old.statistics_key).decode("ascii")
    assert old_text not in key_file.read_text()  # destroyed: nowhere in the file
    assert other_keys(material) == other_keys(old)
    assert "1 old keys destroyed" in result.output


def other_keys(material: KeyMaterial) -> tuple[Any, ...]:
    return (material.keks, material.index_key, material.audit_key)


def test_a_stopped_rotation_goes_on_where_it_was(app, client, pnc):
    four_other_women(client, pnc)
    first = rotate_statistics(app, "--limit", "1")
    assert "left under the old key" in first.output
    assert read_key_file(app.config["RUTA_KEY_FILE"]).retiring_statistics_keys != ()
    rotate_statistics(app)
    ring = app.extensions["ruta.keyring"]
    assert {s.stat_key_id for s in stored_survivors(app)} == {ring.statistics_key_id}
    assert read_key_file(app.config["RUTA_KEY_FILE"]).retiring_statistics_keys == ()


def test_keys_init_gives_an_old_key_file_its_statistics_key_and_keeps_the_others(app):
    key_file = app.config["RUTA_KEY_FILE"]
    old = old_key_file(key_file)
    result = app.test_cli_runner().invoke(args=["keys", "init"])
    assert result.exit_code == 0, result.output
    upgraded = read_key_file(key_file)
    assert upgraded.statistics_key is not None
    assert upgraded.statistics_key not in (old.index_key, old.audit_key)
    assert other_keys(upgraded) == other_keys(old)
    assert "added the statistics key" in result.output


def test_missing_codes_are_made_by_keys_statistics_codes(app, client, pnc):
    four_other_women(client, pnc)
    with app.app_context():
        db.session.execute(Survivor.__table__.update().values(stat_code=None, stat_key_id=None))
        db.session.commit()
    assert stats_total(client, pnc, "survivors") == "<5"  # each counted by her case: 4
    result = app.test_cli_runner().invoke(args=["keys", "statistics-codes"])
    assert result.exit_code == 0, result.output
    assert None not in {s.stat_code for s in stored_survivors(app)}


def old_key_file(path) -> KeyMaterial:
    """The key file as it was before survivor codes: no statistics key."""
    old = read_key_file(path)
    write_key_file(
        path,
        KeyMaterial(
            keks=old.keks,
            active_kek_id=old.active_kek_id,
            index_key=old.index_key,
            audit_key=old.audit_key,
        ),
    )
    return old


def test_the_start_adds_the_statistics_key_or_refuses_under_credentials(app, tmp_path):
    key_file = app.config["RUTA_KEY_FILE"]
    old_key_file(key_file)
    with pytest.raises(StartupError, match="no statistics key"):
        give_statistics_key(KeyRing(key_file), tmp_path)  # a read-only systemd credential
    assert read_key_file(key_file).statistics_key is None
    give_statistics_key(KeyRing(key_file), None)
    assert read_key_file(key_file).statistics_key is not None


def test_the_incident_forms_offer_the_modality(app, client, pnc):
    case = intake_of_her(client, pnc, "2026-09-10")
    web = app.test_client()
    sign_in_web(app, web, pnc.username)
    page = web.get(f"/cases/{case['id']}/incidents/new").get_data(as_text=True)
    assert 'name="modality"' in page and "Laboral" in page
