"""English complete or absent: every msgid has its English, and the pages people use
(intake, case, risk, administration) show no Spanish once English is chosen.

The catalogue test extracts the messages in-process with babel, as babel.cfg says, and
compares them with app/translations/en/LC_MESSAGES/messages.po. The page test strips what
is rightly Spanish in English mode — her own data and the proper names of the directory
(institutions, places, people) — and then looks for Spanish function words and for the
letters only Spanish uses (á é í ó ú ñ ¿ ¡).
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from flask import Flask, session
from flask.testing import FlaskClient
from sqlalchemy import select

from app.auth.models import User
from app.cases import risk, vocab
from app.cases.corrections import STALE
from app.core.errors import Conflict
from app.directory.models import Department, District, Institution, Municipality2024
from app.extensions import db
from tests.auth_helpers import csrf_token, otp, post_form, web_login
from tests.conftest import PASSWORD
from tests.factories import intake

ROOT = Path(__file__).resolve().parents[1]
CATALOGUE = ROOT / "app" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
KEYWORDS = {"_l": None, "lazy_gettext": None}  # besides babel's own (_, gettext, N_, …)

# Words that are Spanish and never English (or never in Ruta's English).
SPANISH_WORDS = frozenset(
    (  # noqa: SIM905 - a list of words reads best as words
        "de del la las los el que y en un una unos unas por para con sin su sus se al es está "
        "están este esta estos estas ese esa como más pero ya sí hay ni le les lo muy tiene "
        "puede debe aquí todo toda cuando donde sobre entre otro otra hasta desde fue ser"
    ).split()
)
SPANISH_LETTERS = re.compile(r"[áéíóúñ¿¡ÁÉÍÓÚÑ]")
WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
SHOWN_ATTRIBUTES = ("aria-label", "title", "placeholder", "alt", "aria-description")


# --- the catalogue ---------------------------------------------------------------------
def extracted_msgids() -> dict[str, str]:
    """Every msgid of the sources babel.cfg names, with one place it comes from."""
    method_map = [("app/**.py", "python"), ("app/templates/**.html", "jinja2")]
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, keywords={**_default_keywords(), **KEYWORDS}
    ):
        # A plural message is one catalogue entry, found by its singular msgid; its
        # msgstr then holds every plural form, each checked below.
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def _default_keywords() -> dict[str, Any]:
    from babel.messages.extract import DEFAULT_KEYWORDS

    return dict(DEFAULT_KEYWORDS)


def untranslated(po_path: Path, msgids: dict[str, str]) -> list[str]:
    with po_path.open("rb") as source:
        catalogue = read_po(source)
    gaps = []
    for msgid, where in sorted(msgids.items(), key=lambda item: item[1]):
        entry = catalogue.get(msgid)
        found = () if entry is None else entry.string
        strings = found if isinstance(found, tuple) else (found,)
        if entry is None or entry.fuzzy or not strings or not all(strings):
            gaps.append(f"{where}: {msgid!r}")
    return gaps


def test_babel_finds_the_messages_of_templates_and_code():
    msgids = extracted_msgids()
    assert "Salida rápida" in msgids  # a template
    assert "Agente PNC" in msgids  # a lazy label in Python
    assert risk.QUESTIONS[0] in msgids  # a catalogue text marked with N_
    assert vocab.VIOLENCE_TYPES["physical"] in msgids


def test_every_message_has_its_english(tmp_path):
    gaps = untranslated(CATALOGUE, extracted_msgids())
    assert not gaps, f"{len(gaps)} msgids without English:\n" + "\n".join(gaps)


def test_an_untranslated_or_fuzzy_msgid_is_caught(tmp_path):
    """The check itself: a missing, an empty and a fuzzy entry are each reported."""
    po = tmp_path / "messages.po"
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Hecho"\nmsgstr "Done"\n\n'
        'msgid "Vacío"\nmsgstr ""\n\n'
        '#, fuzzy\nmsgid "Dudoso"\nmsgstr "Doubtful"\n',
        encoding="utf-8",
    )
    wanted = {"Hecho": "a:1", "Vacío": "a:2", "Dudoso": "a:3", "Nuevo": "a:4"}
    assert untranslated(po, wanted) == ["a:2: 'Vacío'", "a:3: 'Dudoso'", "a:4: 'Nuevo'"]


# --- the pages -------------------------------------------------------------------------
class ShownText(HTMLParser):
    """The text a person sees or hears: text nodes and the attributes read aloud, outside
    <script>, <style> and anything marked lang="es" (the "Español" button)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.skipping: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if self.skipping or tag in ("script", "style") or values.get("lang") == "es":
            if tag not in ("input", "meta", "link", "br", "img", "hr"):
                self.skipping.append(tag)
            return
        self.parts += [values[name] or "" for name in SHOWN_ATTRIBUTES if values.get(name)]
        if tag == "input" and values.get("type") in ("submit", "button"):
            self.parts.append(values.get("value") or "")

    def handle_endtag(self, tag: str) -> None:
        if self.skipping and self.skipping[-1] == tag:
            self.skipping.pop()

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def shown_text(html: str) -> list[str]:
    parser = ShownText()
    parser.feed(html)
    return [" ".join(part.split()) for part in parser.parts if part.strip()]


def proper_names(app: Flask) -> list[str]:
    """What stays Spanish in English: the directory's names and the people's."""
    with app.app_context():
        names: list[str] = []
        for column in (
            Institution.name,
            District.name,
            Municipality2024.name,
            Department.name,
            User.display_name,
        ):
            names += [name for name in db.session.execute(select(column)).scalars() if name]
    return names


def her_data() -> list[str]:
    body = intake()
    values = [*body["survivor"].values(), body["incident"]["narrative"]]
    # Longer than a code: her sex is stored as "F", which is no word to strip from a page.
    return [str(value) for value in values if isinstance(value, str) and len(value) > 3]


def spanish_msgids(po_path: Path = CATALOGUE) -> frozenset[str]:
    """The catalogue's Spanish texts whose English differs: one shown as it is, however
    short ("Cerrar", "Sexo"), was not translated."""
    with po_path.open("rb") as source:
        catalogue = read_po(source)
    return frozenset(
        message.id
        for message in catalogue
        if isinstance(message.id, str) and message.id and message.string not in ("", message.id)
    )


def spanish_in(text: str, allowed: list[str], msgids: frozenset[str]) -> list[str]:
    if text.strip(" :*·()") in msgids:
        return [text]
    for name in sorted(allowed, key=len, reverse=True):
        text = text.replace(name, " ")
    words = WORD.findall(text)
    if SPANISH_LETTERS.search(text) or any(word.lower() in SPANISH_WORDS for word in words):
        return [text]
    return []


def spanish_on(html: str, allowed: list[str], msgids: frozenset[str] | None = None) -> list[str]:
    known = spanish_msgids() if msgids is None else msgids
    return [found for part in shown_text(html) for found in spanish_in(part, allowed, known)]


def in_english(client: FlaskClient) -> None:
    page = client.get("/login")
    answer = client.post(
        "/language",
        data={"lang": "en", "next": "/", "csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    assert answer.status_code == 302


def signed_in(app: Flask, person: Any) -> FlaskClient:
    client = app.test_client()
    in_english(client)
    answer = web_login(client, person.username, PASSWORD, otp(person.totp_secret, steps_ahead=1))
    assert answer.status_code == 302, answer.status_code
    return client


@pytest.fixture
def allowed(app: Flask) -> list[str]:
    return proper_names(app) + her_data()


def test_the_checker_sees_spanish_and_lets_names_through():
    allowed = ["Unidad de Salud Sonsonate", "María José"]
    html = (
        '<p>Unidad de Salud Sonsonate</p><p lang="es">Español</p>'
        '<p title="Sexo">María José: <b>Open</b></p><button aria-label="Cerrar">x</button>'
        '<script>var a = "de la";</script><p>Abierto por la agente</p>'
    )
    found = spanish_on(html, allowed, frozenset({"Cerrar"}))
    assert found == ["Cerrar", "Abierto por la agente"]
    assert spanish_on("<p>Case opened by the agent</p>", allowed, frozenset({"Cerrar"})) == []


def open_case(client: FlaskClient, person: Any) -> str:
    answer = client.post("/api/v1/cases", json=intake(), headers=person.headers)
    assert answer.status_code == 201, answer.get_json()
    case_id = answer.get_json()["id"]
    answers = {str(n): n in (2, 3, 15) for n in range(1, 25)}
    assessed = client.post(
        f"/api/v1/cases/{case_id}/risk-assessments",
        json={"answers": answers},
        headers=person.headers,
    )
    assert assessed.status_code == 201, assessed.get_json()
    return str(case_id)


def assert_english(answer: Any, allowed: list[str], what: str) -> None:
    html = answer.get_data(as_text=True)
    assert '<html lang="en">' in html, what
    found = spanish_on(html, allowed)
    assert not found, f"{what}: Spanish in English mode:\n" + "\n".join(found)


def test_intake_case_and_risk_pages_have_no_spanish_in_english(app, pnc, allowed):
    client = signed_in(app, pnc)
    case_id = open_case(app.test_client(), pnc)
    for path in ("/", "/cases/new", f"/cases/{case_id}", f"/cases/{case_id}/risk", "/cases"):
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        assert_english(answer, allowed, path)


def test_a_failed_intake_explains_itself_in_english(app, pnc, allowed):
    client = signed_in(app, pnc)
    answer = post_form(client, "/cases/new", {"given_names": "", "occurred_on": "mañana"})
    import sys

    print(shown_text(answer.get_data(as_text=True)), file=sys.stderr)
    assert_english(answer, allowed, "failed intake")


def test_admin_pages_have_no_spanish_in_english(app, admin, pnc, allowed):
    client = signed_in(app, admin)
    with app.app_context():
        institution_id = db.session.execute(
            select(Institution.id).filter_by(code="US-SON")
        ).scalar_one()
    for path in (
        "/admin/users",
        f"/admin/users/{pnc.id}",
        "/admin/institutions",
        f"/admin/institutions/{institution_id}",
    ):
        answer = client.get(path)
        assert answer.status_code == 200, (path, answer.status_code)
        assert_english(answer, allowed, path)


def test_a_role_that_does_not_fit_is_refused_with_labels_in_either_language(app, admin, allowed):
    client = signed_in(app, admin)
    form = {"username": "nueva.agente", "display_name": "", "institution": "US-SON"}
    english = post_form(client, "/admin/users", {**form, "role": "pnc_agent"})
    assert english.status_code == 422
    text = english.get_data(as_text=True)
    assert "A «PNC officer» role cannot belong to a «Health unit» institution." in text
    assert_english(english, allowed, "refused account")
    spanish = app.test_client()
    web_login(spanish, admin.username, PASSWORD, otp(admin.totp_secret, steps_ahead=1))
    answer = post_form(spanish, "/admin/users", {**form, "role": "pnc_agent"})
    assert (
        "Un rol «Agente PNC» no puede pertenecer a una institución de tipo «Unidad de salud»."
        in answer.get_data(as_text=True)
    )
    assert "pnc_agent" not in answer.get_data(as_text=True).split("<select")[0]


def test_admin_institutions_list_names_the_district_not_its_code(app, admin):
    client = signed_in(app, admin)
    html = client.get("/admin/institutions").get_data(as_text=True)
    with app.app_context():
        code, district = db.session.execute(
            select(Institution.municipality, District.name)
            .join(District, District.code == Institution.municipality)
            .where(Institution.code == "US-SON")
        ).one()
    assert district in html
    assert f">{code}<" not in html


def status_slip(client: FlaskClient, person: Any) -> tuple[str, str]:
    from tests.report_helpers import Seeded, open_cases

    seeded = Seeded()
    open_cases(client, person, seeded, 1, municipality="Sonsonate", types=["physical"])
    return seeded.slips[0]


def test_status_page_answers_her_in_english_and_the_api_stays_spanish(app, pnc, allowed):
    code, pin = status_slip(app.test_client(), pnc)
    browser = app.test_client()
    in_english(browser)
    page = browser.get("/status")
    answer = browser.post(
        "/status",
        data={"code": code, "pin": pin, "csrf_token": csrf_token(page.get_data(as_text=True))},
    )
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert "case open" in html
    assert "Someone from the network will contact you soon. If you are in danger, call 911." in html
    assert_english(answer, allowed, "status found")
    wrong = browser.post(
        "/status",
        data={"code": "ZZZZ-ZZZZ", "pin": pin, "csrf_token": csrf_token(html)},
    )
    assert wrong.status_code == 404
    assert "We found no case with that code and PIN." in wrong.get_data(as_text=True)
    # The same lookup through the API: Spanish, as the contract says, same fields.
    api = app.test_client().post("/api/v1/status", json={"code": code, "pin": pin})
    assert api.get_json() == {
        "status": "caso abierto",
        "next_step": "Una persona de la red se comunicará con usted pronto. "
        "Si está en peligro, llame al 911.",
    }


def test_login_and_error_pages_are_english(app, allowed):
    client = app.test_client()
    in_english(client)
    assert_english(client.get("/login"), allowed, "login")
    assert_english(client.get("/status"), allowed, "status")
    assert_english(client.get("/static/no-such-file.css"), allowed, "404")


def test_the_api_keeps_its_codes_and_spanish_messages(client, pnc):
    """The pages translate; the API answers as before, whatever a browser chose."""
    body = intake(survivor_overrides={"dui": "1234"}, incident_overrides={"violence_types": []})
    answer = client.post("/api/v1/cases", json=body, headers=pnc.headers)
    assert answer.status_code == 422
    error = answer.get_json()
    assert error["error"] == "invalid"
    assert error["fields"]["survivor"]["dui"] == [
        "DUI no válido (########-#, revise el dígito verificador)."
    ]
    assert error["fields"]["incident"]["violence_types"] == [
        "Marque al menos un tipo de violencia."
    ]
    missing = client.post("/api/v1/cases", json={"survivor": {}}, headers=pnc.headers)
    assert missing.get_json()["fields"]["incident"] == ["Este dato es obligatorio."]


def test_a_service_error_is_said_in_the_language_of_the_request(app):
    """A typed error raised with a Spanish text kept in a constant: English for a page
    in English, Spanish for the API and the command line, the same code for both."""
    with app.test_request_context("/api/v1/cases"):
        spanish = Conflict(STALE)
    with app.test_request_context("/cases/new"):
        session["lang"] = "en"
        english = Conflict(STALE)
    with app.app_context():  # the CLI: no request, no session
        command_line = Conflict(STALE)
    assert spanish.message == command_line.message == STALE
    assert (
        english.message == "Someone changed this record while you were editing it. Reload the page."
    )
    assert spanish.code == english.code == "conflict"


def test_changing_to_a_role_that_does_not_fit_says_so_with_labels(app, admin, pnc):
    page = "/admin/users"
    for lang, expected in (
        ("en", "A «Health staff» role cannot belong to a «Police (family unit)» institution."),
        (
            "es",
            "Un rol «Personal de salud» no puede pertenecer a una institución de tipo "
            "«Policía (unidad de familia)».",
        ),
    ):
        client = signed_in(app, admin) if lang == "en" else app.test_client()
        if lang == "es":
            web_login(client, admin.username, PASSWORD, otp(admin.totp_secret, steps_ahead=1))
        token = csrf_token(client.get(page).get_data(as_text=True))
        answer = client.post(
            f"/admin/users/{pnc.id}",
            data={"action": "role", "role": "health_staff", "csrf_token": token},
            follow_redirects=True,
        )
        html = answer.get_data(as_text=True)
        assert expected in html, lang
        assert "health_staff" not in html.split('name="role"')[0], lang


# --- the statistics pages ----------------------------------------------------------------
# Their labels (violence types, GBVIMS types, institution kinds, referral outcomes, contexts,
# days to report, age groups, months, the dimensions' names) are Spanish in the domain; the
# pages translate them, the API and the CSV keep them.
STATS_PERIOD = {"from": "2026-10-01", "to": "2026-10-31"}
DASHBOARD_TABLES = (
    ("violence_type", "municipality"),
    ("gbvims_type", "age_group"),
    ("context", "referral_outcome"),
    ("entry_institution_kind", "days_to_report"),
    ("referral_service", "sex"),
    ("month", "perpetrator_relationship"),
    ("department", "district"),
)


@pytest.fixture
def observatory(client: FlaskClient, pnc: Any, health: Any) -> None:
    """The statistics tests' data set, and medical referrals from five of its cases."""
    from tests.report_helpers import seed_observatory

    seeded = seed_observatory(client, pnc, health)
    items = client.get("/api/v1/institutions", headers=pnc.headers).get_json()["items"]
    unit = next(item["id"] for item in items if item["code"] == "US-SON")
    for case_id in seeded.case_ids[:5]:
        sent = client.post(
            f"/api/v1/cases/{case_id}/referrals",
            headers=pnc.headers,
            json={
                "to_institution": unit,
                "service": "medical",
                "urgency": "routine",
                "consent": True,
            },
        )
        assert sent.status_code == 201, sent.get_json()


def dashboard_query(rows: str, columns: str) -> dict[str, Any]:
    return {**STATS_PERIOD, "by": [rows, columns]}


def test_the_statistics_pages_have_no_spanish_in_english(app, supervisor, observatory, allowed):
    client = signed_in(app, supervisor)
    for rows, columns in DASHBOARD_TABLES:
        answer = client.get("/reports", query_string=dashboard_query(rows, columns))
        assert answer.status_code == 200, (rows, columns)
        assert_english(answer, allowed, f"/reports by {rows} × {columns}")
    by_type = client.get(
        "/reports", query_string=dashboard_query("violence_type", "municipality")
    ).get_data(as_text=True)
    assert '<th scope="row">Physical</th>' in by_type
    assert "<caption>Type of violence (LEIV)</caption>" in by_type
    assert "<title>Incidents by type of violence (LEIV)</title>" in by_type
    assert ">Oct 26</text>" in by_type  # the months' chart
    assert '<option value="days_to_report">Days from the incident to the report</option>' in (
        by_type
    )
    by_month = client.get("/reports", query_string=dashboard_query("month", "sex"))
    assert '<th scope="row">October 2026</th>' in by_month.get_data(as_text=True)
    monthly = client.get("/reports/monthly", query_string={"month": "2026-10"})
    assert monthly.status_code == 200
    assert_english(monthly, allowed, "/reports/monthly")
    html = monthly.get_data(as_text=True)
    for label in (
        "12-17 years",
        "Health",
        "Medical care",
        "More than 30 days",
        "Rape",
        "No referral",
    ):
        assert f'<th scope="row">{label}</th>' in html, label


def test_the_statistics_pages_stay_spanish_in_spanish(app, supervisor, observatory):
    from tests.test_permissions import sign_in_web

    client = app.test_client()
    sign_in_web(app, client, supervisor.username)
    html = client.get(
        "/reports", query_string=dashboard_query("violence_type", "age_group")
    ).get_data(as_text=True)
    assert '<th scope="row">Física</th>' in html
    assert '<th scope="col" class="num">12-17 años</th>' in html
    assert "<title>Hechos por tipo de violencia (LEIV)</title>" in html
    assert ">oct 26</text>" in html
    monthly = client.get("/reports/monthly", query_string={"month": "2026-10"})
    assert '<th scope="row">Atención médica</th>' in monthly.get_data(as_text=True)


def test_the_csv_and_the_api_keep_their_spanish_labels_in_english(
    app, pnc, supervisor, observatory
):
    from tests.report_helpers import get_stats, read_csv

    client = signed_in(app, supervisor)
    query = {**STATS_PERIOD, "by": "violence_type,age_group", "unit": "incidents"}
    answer = client.get("/reports/stats.csv", query_string=query)
    assert answer.status_code == 200
    rows = read_csv(answer.get_data(as_text=True))
    assert rows[0][0] == "Tipo de violencia (LEIV) / Grupo de edad"
    assert "12-17 años" in rows[0] and "30-59 años" in rows[0]
    assert [row[0] for row in rows[1:]] == ["Física", "Psicológica y emocional", "Sexual", "Total"]
    for by, labels in (
        ("violence_type", {"Física", "Psicológica y emocional", "Sexual"}),
        ("month", {"octubre 2026"}),
        ("referral_service", {"Atención médica", "Sin remisión"}),
        ("entry_institution_kind", {"Policía (unidad de familia)", "Salud"}),
        ("days_to_report", {"Más de 30 días"}),
    ):
        payload = get_stats(client, pnc, by=by)
        assert labels <= {row["label"] for row in payload["rows"]}, by
    payload = get_stats(client, pnc, by="gbvims_type,age_group")
    assert "Violación" in {row["label"] for row in payload["rows"]}
    assert "Sin dato" not in {column["label"] for column in payload["columns"]}
    assert {"12-17 años", "30-59 años"} <= {column["label"] for column in payload["columns"]}


def test_the_retention_page_names_the_legal_basis_in_english(app, client, pnc, supervisor, allowed):
    from tests.test_retention import ask_erasure, close, new_case

    case_id = new_case(client, pnc)
    close(client, pnc, case_id)
    assert ask_erasure(client, pnc, case_id).status_code == 202
    answer = signed_in(app, supervisor).get("/audit/retention")
    assert answer.status_code == 200
    assert "She withdrew her consent and asks for erasure" in answer.get_data(as_text=True)
    # "El Salvador" is the country's name, not Spanish left untranslated.
    assert_english(answer, [*allowed, "El Salvador"], "/audit/retention")
