"""The network's work, done in a real browser: sign-in with TOTP, intake, referral,
care, risk, follow-up, the supervisor's access report, and what an outsider gets.

Screenshots of the main pages land in test-output/screenshots/ (1024 px and 375 px).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.auth.models import User
from app.auth.service import issue_token
from app.cases.models import Case
from app.core.time import local_today
from app.directory.models import Institution
from app.extensions import db
from tests.browser.pages import (
    AdminUsersPage,
    AuditPage,
    BasePage,
    CasePage,
    DashboardPage,
    IntakePage,
    LoginPage,
    ReferralInboxPage,
    SearchPage,
)
from tests.factories import intake as intake_body

pytestmark = pytest.mark.browser

SURVIVOR = {
    "given_names": "María José",
    "family_names": "López Hernández",
    "dui": "12345678-4",
    "sex": "Mujer",
    "municipality": "Sonsonate",
    "phone": "7777-1234",
    "address": "Colonia Las Palmeras, pasaje 3, casa 14",
}


def days_from_today(days: int) -> str:
    return (local_today() + timedelta(days=days)).isoformat()


def seed_referred_case(live_server, account, to_institution: str) -> tuple[str, str]:
    """A case opened and referred through the API, the way another office's system would;
    returns the case id and the referral id."""
    app = live_server.app
    with app.app_context():
        user = db.session.execute(select(User).filter_by(username=account.username)).scalar_one()
        token, _ = issue_token(db.session, user, app.config["RUTA_TOKEN_LIFETIME"])
        receiver = db.session.execute(
            select(Institution.id).filter_by(code=to_institution)
        ).scalar_one()
        db.session.commit()
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    case = client.post("/api/v1/cases", json=intake_body(), headers=headers)
    assert case.status_code == 201, case.get_json()
    case_id = case.get_json()["id"]
    referral = client.post(
        f"/api/v1/cases/{case_id}/referrals",
        headers=headers,
        json={
            "to_institution": receiver,
            "service": "medical",
            "reason": "Lesiones.",
            "urgency": "immediate",
            "consent": True,
        },
    )
    assert referral.status_code == 201, referral.get_json()
    return case_id, referral.get_json()["id"]


def accept_referral(live_server, account, referral_id: str) -> None:
    """The receiver accepts through the API: only then does it see her record."""
    app = live_server.app
    with app.app_context():
        user = db.session.execute(select(User).filter_by(username=account.username)).scalar_one()
        token, _ = issue_token(db.session, user, app.config["RUTA_TOKEN_LIFETIME"])
        db.session.commit()
    accepted = app.test_client().post(
        f"/api/v1/referrals/{referral_id}/transition",
        headers={"Authorization": f"Bearer {token}"},
        json={"action": "accept"},
    )
    assert accepted.status_code == 200, accepted.get_json()


def case_count(live_server) -> int:
    with live_server.app.app_context():
        return db.session.execute(select(func.count()).select_from(Case)).scalar_one()


def test_case_goes_round_the_network(browsing, make_account, live_server):
    pnc = make_account("pnc_agent", "PNC-SON", "Agente Rosa Pérez")
    health = make_account("health_staff", "US-SON", "Dra. Carmen Ruiz")
    womens = make_account("womens_office", "UMM-SON", "Licda. Ana Martínez")
    supervisor = make_account("supervisor", "RED-SON", "Supervisora Elena Cruz")
    outsider = make_account("health_staff", "US-ACA", "Personal Acajutla")

    # The PNC agent signs in with her TOTP code and opens the case.
    page = browsing.new_page()
    login = LoginPage(page)
    login.open()
    login.screenshot("login")
    dashboard = login.log_in(pnc)
    assert dashboard.greeting() == "Hola, Agente Rosa Pérez"
    dashboard.screenshot("dashboard-pnc_agent")
    dashboard.nav("Nuevo ingreso")
    intake = IntakePage(page)
    intake.fill_survivor(birth_date="1994-03-15", **SURVIVOR)
    intake.fill_incident(
        violence=("Física", "Psicológica y emocional"),
        occurred_on=days_from_today(-1),
        municipality="Sonsonate",
        relationship="Pareja",
        place="Vivienda",
        narrative="Relato confidencial: la golpeó anoche en la casa.",
    )
    intake.consent()
    assert intake.save().status == 200
    slip = intake.slip()
    assert len(slip["pin"]) == 6
    intake.screenshot("slip")
    case = intake.go_to_case()
    number = case.number()
    assert "María José López Hernández" in case.section("identidad").inner_text()

    # She finds the record again by DUI: the form is posted, the address bar stays bare.
    search = SearchPage(page)
    search.open()
    assert search.search(dui=SURVIVOR["dui"]).status == 200
    assert search.url_path == "/cases/search"
    assert search.result_numbers() == [number]
    search.screenshot("search")
    case = search.open_result(number)

    # She refers the survivor to the health unit and to the women's office.
    sheet = case.refer(
        "Unidad de Salud Sonsonate", "Atención médica", "Lesiones en brazos y rostro."
    )
    assert "Remisión enviada." in sheet.flash()
    assert sheet.heading() == "Hoja de referencia y contrarreferencia"
    assert "María José López Hernández" in sheet.page.locator("article.hoja").inner_text()
    assert "Relato confidencial" not in sheet.page.content()  # the sheet leaves her account out
    case = sheet.back_to_case()
    sheet = case.refer(
        "Unidad Municipal de la Mujer Sonsonate",
        "Asesoría jurídica",
        "Orientación sobre medidas de protección.",
        urgency="Ordinaria (10 días)",
    )
    case = sheet.back_to_case()
    case_id = case.case_id
    assert len(case.referral_rows()) == 2
    case.screenshot("case")

    # The health worker accepts the referral, attends her and completes it.
    page = browsing.new_page()
    dashboard = LoginPage(page).log_in(health)
    assert number in dashboard.card("Tareas de hoy").inner_text()
    dashboard.screenshot("dashboard-health_staff")
    inbox = ReferralInboxPage(page)
    inbox.open()
    assert inbox.status(number) == "Enviada"
    inbox.screenshot("referral-inbox")
    inbox.act(number, "Solo aceptar")
    assert inbox.status(number) == "Aceptada"
    inbox.act(number, "Iniciar atención")
    assert inbox.status(number) == "En atención"
    # The counter-referral is written on the referral's page (test_referral_inbox_flow.py).
    inbox.click_and_wait(inbox.row(number).get_by_role("link", name="Completar…"))
    completing = page.locator("form#completar")
    completing.get_by_label("Qué se hizo").fill("Curación de lesiones; control en 8 días.")
    completing.get_by_label("Próximo paso").fill("Control en la unidad de salud en 8 días.")
    inbox.click_and_wait(completing.get_by_role("button", name="Completar", exact=True))
    assert "Remisión actualizada." in inbox.flash()
    assert inbox.status(number) == "Completada"
    case = inbox.open_case(number)
    assert "Curación de lesiones" in case.section("remisiones").inner_text()

    # The women's office assesses the risk and plans and records a follow-up.
    page = browsing.new_page()
    dashboard = LoginPage(page).log_in(womens)
    dashboard.screenshot("dashboard-womens_office")
    # A receiver sees her record once it has accepted the referral (CONTRACT §3).
    inbox = ReferralInboxPage(page)
    inbox.open()
    inbox.act(number, "Solo aceptar")
    assert inbox.status(number) == "Aceptada"
    case = CasePage(page)
    case.open_case(case_id)
    risk = case.start_risk_assessment()
    risk.answer(q1="yes", q2="yes", q3="yes", q10="yes", q12="no")
    risk.answer_question("¿La ha estrangulado, asfixiado o intentado ahogar?", "Sí")
    # Nothing comes preset: the questions left blank are refused, never read as "no".
    risk.save_refused()
    assert "Preguntas sin responder (18)" in risk.errors()
    risk.answer_the_rest("unknown")
    risk.screenshot("risk")
    case = risk.save()
    assert "Riesgo alto (5 respuestas sí)." in case.flash()
    assert "Riesgo: alto" in case.tags()
    case.schedule_follow_up(days_from_today(7), "Visita")
    assert "Seguimiento agendado." in case.flash()
    case.record_follow_up("Realizado", "Se encuentra en casa de su madre.")
    assert "Resultado registrado." in case.flash()
    assert "Se encuentra en casa de su madre." in case.follow_ups()[0]

    # Someone of a health unit that takes no part in the case finds nothing there.
    page = browsing.new_page()
    LoginPage(page).log_in(outsider)
    outside = CasePage(page)
    response = outside.open_case(case_id)
    assert response.status == 404
    assert outside.heading() == "No encontrado"
    assert "María" not in page.content()
    outside.screenshot("not-found")
    search = SearchPage(page)
    search.open()
    search.search(name="María José López Hernández", birth_date="1994-03-15")
    assert search.nothing_found() and search.result_numbers() == []
    assert search.url_path == "/cases/search"

    # The supervisor reviews who read the case.
    page = browsing.new_page()
    dashboard = LoginPage(page).log_in(supervisor)
    dashboard.screenshot("dashboard-supervisor")
    audit = AuditPage(page)
    audit.open()
    audit.screenshot("audit")
    audit.filter(case_id=number)  # the case filter takes the case's number (issue 12)
    readers = {row[1].splitlines()[-1] for row in audit.events() if row[3] == "case_view"}
    assert {pnc.username, health.username, womens.username} <= readers
    assert outsider.username not in readers
    assert audit.non_party_reads() == ["Ninguna."]


def test_intake_with_errors_shows_them_and_keeps_what_was_typed(
    browsing, make_account, live_server
):
    account = make_account("health_staff", "US-SON", "Dra. Carmen Ruiz")
    page = browsing.new_page()

    # A wrong password: one generic message, the username kept, the password not.
    login = LoginPage(page)
    login.open()
    login.fill(account.username, "not the password", "000000")
    login.submit()
    assert login.error() == "Usuario, contraseña o código incorrectos."
    assert login.values() == {"username": account.username, "password": ""}

    login.log_in(account)
    intake = IntakePage(page)
    intake.open()
    intake.fill_survivor(
        given_names="María José", dui="1234", phone="7777-1234", municipality="Izalco"
    )
    intake.fill_incident(violence=("Sexual",), narrative="Lo que ella contó, palabra por palabra.")
    intake.consent(network=True, statistics=False, police=False)
    assert intake.save().status == 422

    # The summary names the fields in the order of the page, each linked to its field.
    assert [item.split(":")[0] for item in intake.error_summary()] == [
        "Apellidos",
        "DUI (si lo tiene)",
        "Fecha de nacimiento",
        "Sexo",
        "Fecha del hecho",
        "Municipio del hecho",
        "Relación con el agresor",
    ]
    assert "DUI no válido" in intake.field_error("dui")
    assert intake.marked_invalid("dui") and not intake.marked_invalid("given_names")
    assert intake.value("given_names") == "María José"
    assert intake.value("dui") == "1234"
    assert intake.value("phone") == "7777-1234"
    assert intake.value("municipality") == "izalco"
    assert intake.value("narrative") == "Lo que ella contó, palabra por palabra."
    assert intake.checked("#violence_types input[value=sexual]")
    assert intake.checked("#share_with_network") and not intake.checked("#police")
    intake.screenshot("intake-errors")
    assert case_count(live_server) == 0

    # The summary links to each field; correcting them opens the case.
    intake.follow_error("Apellidos: Este dato es obligatorio.")
    assert (intake.focused() or {}).get("id") == "family_names"
    intake.fill_survivor(
        family_names="López Hernández", dui="12345678-4", sex="Mujer", birth_date="1994-03-15"
    )
    intake.fill_incident(
        occurred_on=days_from_today(-3), municipality="Izalco", relationship="Expareja"
    )
    assert intake.save().status == 200
    assert intake.slip()["pin"].isdigit()
    assert case_count(live_server) == 1


def test_post_without_csrf_token_is_refused(browsing, make_account, live_server):
    account = make_account("pnc_agent", "PNC-SON", "Agente Rosa Pérez")
    page = browsing.new_page()
    LoginPage(page).log_in(account)
    intake = IntakePage(page)
    intake.open()
    intake.fill_survivor(birth_date="1994-03-15", **SURVIVOR)
    intake.fill_incident(
        violence=("Física",),
        occurred_on=days_from_today(-1),
        municipality="Sonsonate",
        relationship="Pareja",
    )
    intake.drop_csrf_token()
    response = intake.save()
    assert response.status == 400
    assert intake.heading() == "Solicitud no válida"
    assert case_count(live_server) == 0

    # What a forged form from another site would send: the cookie, but no token.
    assert page.request.post("/logout", form={"next": "/"}).status == 400
    assert page.request.post("/language", form={"lang": "en"}).status == 400
    dashboard = DashboardPage(page)
    assert dashboard.open().status == 200
    assert dashboard.greeting() == "Hola, Agente Rosa Pérez"  # still signed in, in Spanish


def test_login_and_intake_with_the_keyboard_only(browsing, make_account, live_server, date_order):
    account = make_account("womens_office", "UMM-SON", "Licda. Ana Martínez")
    page = browsing.new_page()
    dashboard = LoginPage(page).log_in_with_keyboard(account)
    assert dashboard.greeting() == "Hola, Licda. Ana Martínez"

    # From the menu to the intake, and through it, with Tab, typing, Space and Enter.
    dashboard.tab_to("header nav a[href='/cases/new']")
    dashboard.screenshot("keyboard-focus")
    page.keyboard.press("Enter")
    page.wait_for_url("**/cases/new")
    intake = IntakePage(page)
    intake.fill_with_keyboard(
        date_order,
        given_names="Rosa Elena",
        family_names="Martínez Díaz",
        birth_date="1988-07-02",
        sex="Mujer",
        municipality="Sonsonate",
        occurred_on=days_from_today(-2),
        relationship="Expareja",
        narrative="Relato tomado con el teclado.",
    )
    intake.save_with_keyboard()
    assert "abierto" in intake.flash()
    assert len(intake.slip()["pin"]) == 6
    assert case_count(live_server) == 1

    case = intake.go_to_case_with_keyboard()
    assert "Rosa Elena Martínez Díaz" in case.section("identidad").inner_text()


def test_english_on_the_login_page_and_the_dashboard(browsing, make_account):
    account = make_account("womens_office", "UMM-SON", "Ana Martínez")
    page = browsing.new_page()
    login = LoginPage(page)
    login.open()
    assert (login.lang(), login.heading()) == ("es", "Iniciar sesión")

    login.switch_language()
    assert (login.lang(), login.heading()) == ("en", "Sign in")
    assert login.labels() == ["Username", "Password", "Verification code (6 digits)"]
    login.screenshot("login-en")

    dashboard = login.log_in(account)
    assert dashboard.lang() == "en"
    assert dashboard.greeting() == "Hello, Ana Martínez"
    assert dashboard.menu_links() == ["Home", "Cases", "New intake", "Search", "Referrals"]
    actions = dashboard.page.locator("main p.actions a").all_inner_texts()
    assert len(actions) == 4 and actions[:3] == ["New intake", "My cases", "Find a case"]
    count = actions[3].removeprefix("Referrals (").removesuffix(" to answer)")
    assert count.isdigit(), actions[3]
    # The task list «Tareas de hoy»: a new account has no tasks yet.
    tasks = dashboard.card("Today's tasks")
    assert tasks.is_visible()
    assert tasks.locator("p").first.inner_text() == "No pending tasks."
    assert tasks.get_by_role("link").all_inner_texts() == [
        "See all high-risk cases",
        "See all overdue follow-ups",
    ]
    assert dashboard.card("Notices").is_visible()
    assert dashboard.page.locator("header .who a").inner_text() == "My sessions"
    assert dashboard.sign_out_button().inner_text() == "Sign out"
    dashboard.screenshot("dashboard-en")

    dashboard.switch_language()
    assert (dashboard.lang(), dashboard.greeting()) == ("es", "Hola, Ana Martínez")


def test_no_page_loads_anything_from_outside_the_server(browsing, make_account, live_server):
    pnc = make_account("pnc_agent", "PNC-SON", "Agente Rosa Pérez")
    health = make_account("health_staff", "US-SON", "Dra. Carmen Ruiz")
    supervisor = make_account("supervisor", "RED-SON", "Supervisora Elena Cruz")
    admin = make_account("admin", "SYS", "Administración del sistema")
    case_id, referral_id = seed_referred_case(live_server, pnc, "US-SON")
    accept_referral(live_server, health, referral_id)

    tour = {
        pnc: [
            "/",
            "/cases/new",
            "/cases/search",
            f"/cases/{case_id}",
            "/referrals?box=outgoing",
            f"/referrals/{referral_id}/sheet",
        ],
        health: ["/referrals", f"/cases/{case_id}", f"/cases/{case_id}/risk"],
        supervisor: ["/audit", "/reports", "/reports/monthly", f"/cases/{case_id}"],
        admin: ["/", "/admin/users", "/admin/institutions"],
    }
    for account, paths in tour.items():
        page = browsing.new_page()
        LoginPage(page).log_in(account)
        for path in paths:
            response = BasePage(page).open(path)
            assert response.status == 200, path
            assert not BasePage(page).duplicate_ids(), path
        if account is supervisor:
            BasePage(page).open("/reports")
            BasePage(page).screenshot("reports")
        if account is admin:
            DashboardPage(page).open()
            DashboardPage(page).screenshot("dashboard-admin")
            users = AdminUsersPage(page)
            users.open()
            assert admin.username in users.usernames()
            users.screenshot("admin-users")
    page = browsing.new_page()  # the survivor's public lookup, signed in as nobody
    assert BasePage(page).open("/status").status == 200

    # The pages did load their style sheet, script and icon, all from the server itself.
    paths = {url.removeprefix(live_server.url) for url in browsing.requests}
    assert {"/static/css/ruta.css", "/static/js/ruta.js", "/static/favicon.svg"} <= paths
    assert browsing.outside_requests() == []
    assert browsing.csp_violations == []
