"""The country's map of 2024 (Decreto 762): the data file, `catalogue load`, finding a
district by what a person typed, case numbers by the opening institution's department,
supervisors scoped to theirs, statistics by the three levels, and the names shown."""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.directory.catalogue import load_catalogues, municipality_code
from app.directory.models import Department, District, Institution, Municipality2024
from app.directory.territory import MapError, parse_map, read_map
from app.extensions import db
from app.web.labels import municipality_label
from config import Settings
from tests import factories
from tests.auth_helpers import start_web_session
from tests.conftest import migrate_to_head
from tests.report_helpers import PERIOD, Seeded, get_stats, grid, lines_of, open_cases, read_csv
from tests.test_cli import cli_env, flask, scalar

# Ruta's codes for Sonsonate's 16 municipalities before 2024 (app/directory/catalogue.py
# until this change): the districts must keep them, or stored rows would point nowhere.
SONSONATE_BEFORE_2024 = (
    "Acajutla", "Armenia", "Caluco", "Cuisnahuat", "Izalco", "Juayúa", "Nahuizalco",
    "Nahulingo", "Salcoatitán", "San Antonio del Monte", "San Julián",
    "Santa Catarina Masahuat", "Santa Isabel Ishuatán", "Santo Domingo de Guzmán",
    "Sonsonate", "Sonzacate",
)  # fmt: skip

# Decreto 762, art. 1 and its list: department → (municipalities, districts).
SIZES = {
    "Ahuachapán": (3, 12), "Santa Ana": (4, 13), "Sonsonate": (4, 16),
    "Chalatenango": (3, 33), "La Libertad": (6, 22), "San Salvador": (5, 19),
    "Cuscatlán": (2, 16), "La Paz": (3, 22), "Cabañas": (2, 9), "San Vicente": (2, 13),
    "Usulután": (3, 23), "San Miguel": (3, 20), "Morazán": (2, 26), "La Unión": (2, 18),
}  # fmt: skip
ISO_CODES = {"AH", "SA", "SO", "CH", "LI", "SS", "CU", "PA", "CA", "SV", "US", "SM", "MO", "UN"}

MEMBERS = {
    "Sonsonate Centro": {
        "Sonsonate", "Nahulingo", "San Antonio del Monte", "Sonzacate", "Santo Domingo de Guzmán",
    },
    "Sonsonate Este": {
        "Izalco", "Armenia", "Caluco", "San Julián", "Cuisnahuat", "Santa Isabel Ishuatán",
    },
    "Sonsonate Norte": {"Juayúa", "Nahuizalco", "Salcoatitán", "Santa Catarina Masahuat"},
    "Sonsonate Oeste": {"Acajutla"},
    # As the decree's text reads for these two.
    "Ahuachapán Norte": {"Atiquizaya", "El Refugio", "San Lorenzo", "Turín"},
    "San Salvador Centro": {
        "Ayutuxtepeque", "Mejicanos", "San Salvador", "Cuscatancingo", "Ciudad Delgado",
    },
    "Santa Ana Centro": {"Santa Ana"},
    "La Libertad Costa": {"Chiltiupán", "Jicalapa", "La Libertad", "Tamanique", "Teotepeque"},
}  # fmt: skip


def members(territory, municipality_name: str) -> set[str]:
    [code] = [c for c, m in territory.municipalities.items() if m["name"] == municipality_name]
    return {d["name"] for d in territory.districts.values() if d["municipality_2024"] == code}


# ---- the data file ---------------------------------------------------------------------


def test_the_map_has_14_departments_44_municipalities_and_262_districts():
    territory = read_map()
    assert len(territory.departments) == 14
    assert len(territory.municipalities) == 44
    assert len(territory.districts) == 262
    assert set(territory.departments) == ISO_CODES
    names = {d["code"]: d["name"] for d in territory.departments.values()}
    for department, (municipalities, districts) in SIZES.items():
        [code] = [c for c, name in names.items() if name == department]
        mine = [m for m in territory.municipalities.values() if m["department_code"] == code]
        assert len(mine) == municipalities, department
        assert sum(d["department"] == code for d in territory.districts.values()) == districts


@pytest.mark.parametrize("municipality", sorted(MEMBERS))
def test_known_municipalities_hold_their_districts(municipality):
    assert members(read_map(), municipality) == MEMBERS[municipality]


def test_sonsonates_districts_keep_the_codes_ruta_stored_before_2024():
    districts = read_map().districts
    for name in SONSONATE_BEFORE_2024:
        district = districts[municipality_code(name)]
        assert (district["name"], district["department"]) == (name, "SO")


def test_every_district_is_in_a_municipality_of_its_own_department():
    territory = read_map()
    for district in territory.districts.values():
        municipality = territory.municipalities[district["municipality_2024"]]
        assert municipality["department_code"] == district["department"], district
        assert municipality["code"].startswith(district["department"] + "-")


def test_case_prefixes_are_three_letters_and_sonsonate_keeps_son():
    prefixes = {d["code"]: d["case_prefix"] for d in read_map().departments.values()}
    assert prefixes["SO"] == "SON" and prefixes["SS"] == "SSA"  # DOMAIN.md's examples
    assert all(re.fullmatch(r"[A-Z]{3}", prefix) for prefix in prefixes.values())
    assert len(set(prefixes.values())) == 14


ROW = {
    "department_code": "SO",
    "department": "Sonsonate",
    "case_prefix": "SON",
    "municipality_code": "SO-OESTE",
    "municipality": "Sonsonate Oeste",
    "district_code": "acajutla",
    "district": "Acajutla",
    "aliases": "",
}


@pytest.mark.parametrize(
    "second",
    [
        {"district_code": "izalco", "department": "Sonsonatë"},  # a department, two names
        {"district_code": "izalco", "municipality_code": "SO-OESTE", "department_code": "SA"},
        {},  # the same district twice
        {"district_code": "metapan", "department_code": "SA", "municipality_code": "SA-NORTE"},
    ],
    ids=["two-names", "two-departments", "district-twice", "shared-prefix"],
)
def test_a_map_that_contradicts_itself_is_refused(second):
    with pytest.raises(MapError):
        parse_map([ROW, {**ROW, **second}])


def test_a_data_file_with_other_columns_is_refused(tmp_path):
    path = tmp_path / "map.csv"
    path.write_text("departamento,municipio,distrito\nSonsonate,Sonsonate Oeste,Acajutla\n")
    with pytest.raises(MapError):
        read_map(path)


# ---- catalogue load ----------------------------------------------------------------------


def table_rows(model) -> list[tuple]:
    columns = [c for c in model.__table__.columns]
    return [tuple(r) for r in db.session.execute(select(*columns).order_by(columns[0]))]


def test_catalogue_load_fills_the_tables_and_a_second_run_changes_nothing(app):
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Department)) == 14
        assert db.session.scalar(select(func.count()).select_from(Municipality2024)) == 44
        assert db.session.scalar(select(func.count()).select_from(District)) == 262
        before = [table_rows(m) for m in (Department, Municipality2024, District)]
        report = load_catalogues(db.session)
        db.session.commit()
        assert not report.changed
        assert [table_rows(m) for m in (Department, Municipality2024, District)] == before


def test_catalogue_load_mends_districts_in_place_and_deletes_nothing(app):
    with app.app_context():
        izalco = db.session.get_one(District, "izalco")
        izalco.name, izalco.department, izalco.municipality_2024 = "IZALCO", "Sonsonate", None
        db.session.get_one(Department, "SO").case_prefix = "SSS"
        # A district an administrator added: not on the map, and an institution there.
        db.session.add(District(code="isla_demo", name="Isla", department="SO"))
        db.session.flush()
        db.session.add(Institution(code="UMM-ISLA", name="UMM Isla", kind="womens_office",
                                   municipality="isla_demo"))  # fmt: skip
        db.session.commit()

        report = load_catalogues(db.session)
        db.session.commit()
        assert report.updated == {"departments": 1, "municipalities": 0, "districts": 1}
        assert report.added == {"departments": 0, "municipalities": 0, "districts": 0}
        izalco = db.session.get_one(District, "izalco")
        assert (izalco.name, izalco.department, izalco.municipality_2024) == (
            "Izalco",
            "SO",
            "SO-ESTE",
        )
        assert db.session.get_one(Department, "SO").case_prefix == "SON"
        assert db.session.get(District, "isla_demo") is not None
        assert db.session.scalar(select(func.count()).select_from(District)) == 263


def test_the_catalogue_command_loads_the_map_once(tmp_path):
    env = cli_env(tmp_path)
    env["RUTA_SECRET_KEY"] = secrets.token_hex(16)
    assert flask(env, "keys", "init").returncode == 0
    migrate_to_head(Settings.from_env(env))

    first = flask(env, "catalogue", "load")
    assert first.returncode == 0, first.stderr
    assert "districts: 262 added, 0 updated" in first.stdout
    assert "municipalities: 44 added" in first.stdout and "departments: 14 added" in first.stdout
    again = flask(env, "catalogue", "load")
    assert again.returncode == 0, again.stderr
    for level in ("departments", "municipalities", "districts"):
        assert f"{level}: 0 added, 0 updated" in again.stdout
    assert scalar(env, "SELECT count(*) FROM municipalities") == 262
    assert scalar(env, "SELECT count(*) FROM municipalities_2024") == 44
    assert scalar(env, "SELECT count(*) FROM departments") == 14
    assert scalar(env, "SELECT case_prefix FROM departments WHERE code = 'SA'") == "STA"
    assert Path(env["DATABASE_URL"].removeprefix("sqlite:///")).exists()


# ---- municipality in the API: a district by code or name ---------------------------------


def open_case(client, person, survivor_place, incident_place, dui=factories.VALID_DUI):
    return client.post(
        "/api/v1/cases",
        json=factories.intake(
            survivor_overrides={"municipality": survivor_place, "dui": dui},
            incident_overrides={"municipality": incident_place},
        ),
        headers=person.headers,
    )


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("IZALCO", "izalco"),
        ("santo domingo de guzman", "santo_domingo_de_guzman"),
        ("Juayua", "juayua"),
        ("san_antonio_del_monte", "san_antonio_del_monte"),
        ("San Lorenzo, San Vicente", "san_lorenzo_sv"),
        ("san_lorenzo_ah", "san_lorenzo_ah"),
        ("Cancasque", "san_jose_cancasque"),  # an alias: the name many records use
        ("Sonsonate Oeste", "acajutla"),  # a 2024 municipality of one district
    ],
)
def test_a_district_is_found_by_code_name_or_alias_any_case_or_accents(client, pnc, typed, code):
    created = open_case(client, pnc, "Sonsonate", typed)
    assert created.status_code == 201, created.get_json()
    record = client.get(f"/api/v1/cases/{created.get_json()['id']}", headers=pnc.headers)
    assert [i["municipality"] for i in record.get_json()["incidents"]] == [code]


def test_an_unknown_district_is_422_with_suggestions(client, pnc):
    response = open_case(client, pnc, "Sonsonat", "Sonsonate")
    assert response.status_code == 422
    [message] = response.get_json()["fields"]["survivor"]["municipality"]
    assert "Sonsonat" in message and "Sonsonate, Sonsonate Centro, Sonsonate" in message


def test_a_2024_municipality_of_several_districts_asks_for_the_district(client, pnc):
    response = open_case(client, pnc, "Sonsonate", "Sonsonate Centro")
    assert response.status_code == 422
    [message] = response.get_json()["fields"]["incident"]["municipality"]
    assert "distrito" in message
    assert all(name in message for name in MEMBERS["Sonsonate Centro"])


def test_a_district_name_two_departments_share_asks_which(client, pnc):
    response = open_case(client, pnc, "San Lorenzo", "Sonsonate")
    assert response.status_code == 422
    [message] = response.get_json()["fields"]["survivor"]["municipality"]
    assert "san_lorenzo_ah" in message and "san_lorenzo_sv" in message
    assert "Ahuachapán Norte" in message and "San Vicente Norte" in message


# ---- case numbers and supervisors by department --------------------------------------------


@pytest.fixture
def santa_ana(app, make_person):
    """The demo network's PNC unit and coordination office in the district of Santa Ana
    (issue 13's second department), with users."""
    with app.app_context():
        for code in ("PNC-STA", "RED-STA"):
            institution = db.session.execute(
                select(Institution).where(Institution.code == code)
            ).scalar_one()
            assert institution.municipality == "santa_ana"
    return make_person("pnc_agent", "PNC-STA"), make_person("supervisor", "RED-STA")


def test_a_case_is_numbered_by_the_department_of_the_institution_that_opens_it(
    client, pnc, santa_ana
):
    agent, _ = santa_ana
    there = open_case(client, agent, "Santa Ana", "Santa Ana")
    here = open_case(client, pnc, "Sonsonate", "Sonsonate", dui=factories.OTHER_DUI)
    assert there.status_code == here.status_code == 201
    year = there.get_json()["number"].split("-")[1]
    assert there.get_json()["number"] == f"STA-{year}-000001"
    assert here.get_json()["number"] == f"SON-{year}-000001"  # each department counts alone


def test_an_institution_whose_department_is_unknown_numbers_with_ruta_department(
    app, client, make_person
):
    with app.app_context():
        db.session.add(District(code="isla_demo", name="Isla", department="XX"))
        db.session.flush()
        db.session.add(Institution(code="PNC-ISLA", name="PNC Isla", kind="pnc_family_unit",
                                   municipality="isla_demo"))  # fmt: skip
        db.session.commit()
    agent = make_person("pnc_agent", "PNC-ISLA")
    created = open_case(client, agent, "Sonsonate", "Sonsonate")
    assert created.status_code == 201
    assert created.get_json()["number"].startswith(app.config["RUTA_DEPARTMENT"] + "-")


def test_supervisors_see_the_cases_of_their_own_department_only(client, pnc, supervisor, santa_ana):
    agent, santa_ana_supervisor = santa_ana
    there = open_case(client, agent, "Santa Ana", "Santa Ana").get_json()["id"]
    here = open_case(client, pnc, "Izalco", "Izalco", dui=factories.OTHER_DUI).get_json()["id"]

    def status(person, case_id):
        return client.get(f"/api/v1/cases/{case_id}", headers=person.headers).status_code

    assert status(santa_ana_supervisor, there) == 200
    assert status(santa_ana_supervisor, here) == 404
    assert status(supervisor, here) == 200
    assert status(supervisor, there) == 404


# ---- statistics by district, municipality and department ------------------------------------


def assert_protected_counts(shown: dict[str, list], truth: dict[str, int]) -> None:
    """Each cell is its true count, "<5" for 1–4, or "*" hiding a count of 5 or more."""
    assert set(shown) == set(truth)
    for label, [value] in shown.items():
        if 0 < truth[label] < 5:
            assert value == "<5", label
        else:
            assert value in (truth[label], "*"), label


def test_statistics_count_by_each_level_of_the_map_and_protect_small_cells(client, pnc, santa_ana):
    agent, _ = santa_ana
    seeded = Seeded()
    open_cases(client, pnc, seeded, 6, municipality="Izalco", types=["physical"])
    open_cases(client, pnc, seeded, 5, municipality="Armenia", types=["physical"])
    open_cases(client, pnc, seeded, 7, municipality="Acajutla", types=["physical"])
    open_cases(client, agent, seeded, 3, municipality="Chalchuapa", types=["physical"])

    truth = {
        "district": {"Acajutla": 7, "Armenia": 5, "Chalchuapa": 3, "Izalco": 6},
        "municipality": {"Santa Ana Oeste": 3, "Sonsonate Este": 11, "Sonsonate Oeste": 7},
        "department": {"Santa Ana": 3, "Sonsonate": 18},
    }
    for level, counts in truth.items():
        payload = get_stats(client, pnc, by=level)
        assert_protected_counts(grid(payload), {**counts, "Total": sum(counts.values())})
        for line in lines_of(payload):
            assert sum(isinstance(v, str) for v in line) != 1, (level, line)
    crossed = get_stats(client, pnc, by="department,municipality")
    for line in lines_of(crossed):
        assert sum(isinstance(v, str) for v in line) != 1, line
    only_izalco = get_stats(client, pnc, by="municipality", municipality="Izalco")
    assert grid(only_izalco) == {"Sonsonate Este": [6], "Total": [6]}


def test_a_district_outside_the_2024_map_counts_as_unknown_municipality(app, client, pnc):
    with app.app_context():
        db.session.add(District(code="isla_demo", name="Isla", department="SO"))
        db.session.commit()
    open_cases(client, pnc, Seeded(), 5, municipality="isla_demo", types=["physical"])
    assert grid(get_stats(client, pnc, by="municipality")) == {"Sin dato": [5], "Total": [5]}
    assert grid(get_stats(client, pnc, by="department")) == {"Sonsonate": [5], "Total": [5]}


def test_the_incident_export_gives_district_municipality_and_department(
    app, client, pnc, supervisor
):
    open_cases(client, pnc, Seeded(), 1, municipality="Izalco", types=["physical"])
    web = app.test_client()
    start_web_session(app, web, supervisor.username)
    text = web.get("/reports/incidents.csv", query_string=PERIOD).get_data(as_text=True)
    header, _labels, row = read_csv(text)
    place = dict(zip(header, row, strict=True))
    assert place["Incident location (district)"] == "Izalco"
    assert place["Incident location (municipality 2024)"] == "Sonsonate Este"
    assert place["Incident location (department)"] == "Sonsonate"


# ---- names, not codes ------------------------------------------------------------------------


def test_pages_show_district_municipality_and_department(app, client, pnc, admin):
    created = open_case(client, pnc, "Izalco", "san_lorenzo_sv").get_json()
    web = app.test_client()
    start_web_session(app, web, pnc.username)
    page = web.get(f"/cases/{created['id']}").get_data(as_text=True)
    assert "Izalco, Sonsonate Este, Sonsonate" in page
    assert "San Lorenzo, San Vicente Norte, San Vicente" in page
    admin_web = app.test_client()
    start_web_session(app, admin_web, admin.username)
    listing = admin_web.get("/admin/institutions").get_data(as_text=True)
    assert "Acajutla, Sonsonate Oeste, Sonsonate" in listing
    assert ">acajutla<" not in listing


def test_a_district_the_map_does_not_know_is_shown_by_its_code(app):
    with app.test_request_context():
        assert municipality_label("nowhere") == "nowhere"
        assert municipality_label(None) == "—"
