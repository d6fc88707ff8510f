"""The case page's forms and the intake as she uses them in Chromium: a refused form comes
back in view with the focus on its errors, at a GET address that a reload never posts
again; the slip is a page of its own that Back leaves without a resubmission page.

Screenshots land in test-output/screenshots/ (the page objects' `screenshot`).
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from sqlalchemy import func, select, update

from app.auth.models import User
from app.auth.service import issue_token
from app.cases.models import Case
from app.crypto.models import FormStash
from app.directory.models import Institution
from app.extensions import db
from tests.browser.pages import CasePage, IntakePage, LoginPage
from tests.factories import intake as intake_body

pytestmark = pytest.mark.browser

OFFICE_PHONE = "2451-3300"
# One pixel of slack: scrolled to its top, a box under content of fractional height sits
# a fraction of a pixel above the viewport (-0.39 px seen), and is still in view.
IN_VIEW = """el => { const r = el.getBoundingClientRect();
  return r.top >= -1 && r.top < window.innerHeight && r.bottom > 0; }"""


class CaseForms(CasePage):
    """The case page's status form, and what a refused form leaves on the screen."""

    def close_without_reason(self) -> None:
        box = self.open_form("estado", "Cambiar el estado del caso")
        box.get_by_label("Nuevo estado").select_option(value="closed")
        self.click_and_wait(box.get_by_role("button", name="Cambiar estado"))

    def title(self) -> str:
        return str(self.page.title())

    def in_view(self, selector: str) -> bool:
        return bool(self.page.locator(selector).evaluate(IN_VIEW))

    def focused_id(self) -> str:
        return str(self.page.evaluate("() => document.activeElement && document.activeElement.id"))


class Slip(IntakePage):
    def text(self) -> str:
        return str(self.page.locator(".slip").inner_text())

    def pages_when_printed(self, paper: str) -> int:
        pdf = self.page.pdf(format=paper, print_background=False)
        return len(re.findall(rb"/Type\s*/Page[^s]", pdf))


def api_case(live_server: Any, username: str) -> str:
    app = live_server.app
    with app.app_context():
        user = db.session.execute(select(User).filter_by(username=username)).scalar_one()
        token, _ = issue_token(db.session, user, app.config["RUTA_TOKEN_LIFETIME"])
        db.session.commit()
    created = app.test_client().post(
        "/api/v1/cases", json=intake_body(), headers={"Authorization": f"Bearer {token}"}
    )
    assert created.status_code == 201, created.get_json()
    return str(created.get_json()["id"])


def count(live_server: Any, model: Any) -> int:
    with live_server.app.app_context():
        return int(db.session.execute(select(func.count()).select_from(model)).scalar_one())


def posts_while(page: Any, action: Any) -> list[str]:
    seen: list[str] = []

    def note(request: Any) -> None:
        if request.method == "POST":
            seen.append(request.url)

    page.on("request", note)
    action()
    page.remove_listener("request", note)
    return seen


def agent_on_her_case(browsing: Any, make_account: Any, live_server: Any) -> tuple:
    """A PNC agent signed in, on the page of a case her unit opened."""
    pnc = make_account("pnc_agent", "PNC-SON", "Agente Rosa Pérez")
    case_id = api_case(live_server, pnc.username)
    page = browsing.new_page()
    LoginPage(page).open()
    LoginPage(page).log_in(pnc)
    case = CaseForms(page)
    case.open_case(case_id)
    return page, case, case_id


def test_a_failed_close_shows_its_error_in_view_and_a_reload_posts_nothing(
    browsing, make_account, live_server
):
    page, case, case_id = agent_on_her_case(browsing, make_account, live_server)

    case.close_without_reason()
    assert case.url_path == f"/cases/{case_id}#estado"  # the GET address, at the section
    assert case.title().startswith("Error:")
    assert "Indique por qué se cierra el caso." in case.section("estado").inner_text()
    assert case.in_view("#estado-errores")
    assert case.focused_id() == "estado-errores"
    case.screenshot("case-close-refused")
    with live_server.app.app_context():
        status = db.session.get(Case, uuid.UUID(case_id)).status
    assert status != "closed"

    # The summary's link takes her to the field.
    case.section("estado").locator("#estado-errores a").click()
    assert case.focused_id() == "close_reason"

    # A reload asks again by GET: nothing posted, the refusal was shown once.
    assert posts_while(page, lambda: page.reload()) == []
    assert not case.title().startswith("Error:")
    assert page.locator("#estado-errores").count() == 0
    assert count(live_server, FormStash) == 0


def test_a_failed_intake_keeps_what_was_typed_and_focuses_the_summary(
    browsing, make_account, live_server
):
    account = make_account("health_staff", "US-SON", "Dra. Carmen Ruiz")
    page = browsing.new_page()
    LoginPage(page).open()
    LoginPage(page).log_in(account)
    intake = IntakePage(page)
    intake.open()
    intake.fill_survivor(given_names="María José", address="Cantón El Zope, casa 4")
    intake.fill_incident(violence=("Sexual",), narrative="Lo que ella contó, palabra por palabra.")
    intake.save()
    assert str(page.title()).startswith("Error:")
    assert (intake.focused() or {}).get("id") == "errores"
    assert intake.value("given_names") == "María José"
    assert intake.value("address") == "Cantón El Zope, casa 4"
    assert intake.value("narrative") == "Lo que ella contó, palabra por palabra."
    assert page.locator("#family_names").get_attribute("aria-required") == "true"
    assert page.locator("#address").get_attribute("aria-required") is None
    mark = "el => getComputedStyle(el, '::after').content"
    assert "*" in page.locator("label[for=family_names]").evaluate(mark)
    assert page.locator("label[for=address]").evaluate(mark) == "none"
    intake.screenshot("intake-refused-focus")
    assert count(live_server, Case) == 0


def test_the_slip_says_where_to_look_and_back_shows_no_resubmission(
    browsing, make_account, live_server
):
    with live_server.app.app_context():
        db.session.execute(
            update(Institution).where(Institution.code == "PNC-SON").values(phone=OFFICE_PHONE)
        )
        db.session.commit()
    pnc = make_account("pnc_agent", "PNC-SON", "Agente Rosa Pérez")
    page = browsing.new_page()
    LoginPage(page).open()
    LoginPage(page).log_in(pnc)
    slip = Slip(page)
    slip.open()
    slip.fill_survivor(
        given_names="Rosa Amelia",
        family_names="López Hernández",
        birth_date="1994-03-15",
        sex="Mujer",
        municipality="Sonsonate",
    )
    slip.fill_incident(
        violence=("Física",),
        occurred_on="2026-10-30",
        municipality="Sonsonate",
        relationship="Pareja",
    )
    slip.consent()
    assert slip.save().status == 200
    assert re.fullmatch(r"/cases/[0-9a-f-]{36}/slip", slip.url_path)
    codes = slip.slip()
    assert codes["pin"].isdigit() and codes["pin"] not in page.url
    text = slip.text()
    assert f"{live_server.url}/status" in text
    assert OFFICE_PHONE in text and "126" in text and "911" in text
    slip.screenshot("slip-with-lookup")
    page.emulate_media(media="print")
    assert not page.locator("header.top").is_visible()
    assert slip.pages_when_printed("A4") == 1 and slip.pages_when_printed("Letter") == 1
    page.emulate_media(media="screen")

    # Back: the empty intake form by GET, never Chromium's "confirm form resubmission".
    assert posts_while(page, lambda: page.go_back()) == []
    assert slip.url_path == "/cases/new"
    assert slip.value("given_names") == ""
    assert count(live_server, Case) == 1
    # Forward again: the slip no longer shows the PIN.
    page.go_forward()
    assert codes["pin"] not in page.content()
    assert "ya se mostraron una vez" in page.locator("main").inner_text()
    slip.screenshot("slip-already-shown")


def test_the_referral_form_offers_only_those_who_give_the_service(
    browsing, make_account, live_server
):
    _page, case, _case_id = agent_on_her_case(browsing, make_account, live_server)
    box = case.open_form("remisiones", "Remitir a otra institución")
    receivers = box.locator("select[name=to_institution]")
    assert receivers.locator("option", has_text="UNIMUJER-ODAC Sonsonate").count() == 0  # her own
    box.locator("select[name=service]").select_option(value="medical")
    offered = receivers.locator("option:not([disabled])").all_inner_texts()
    assert "Unidad de Salud Sonsonate" in offered and "Hospital Nacional de Sonsonate" in offered
    assert not [name for name in offered if name.startswith("PNC") or "Fiscalía" in name]
    case.screenshot("case-referral-filtered")


def test_a_form_opens_from_the_case_page_by_keyboard_and_its_page_is_accessible(
    browsing, make_account, live_server
):
    page, case, case_id = agent_on_her_case(browsing, make_account, live_server)
    case.screenshot("case-page-forms-closed")  # axe, ids, widths: the page as she reads it
    number = case.number()

    case.tab_to(f'a[href="/cases/{case_id}/forms/notas"]')
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert case.url_path == f"/cases/{case_id}/forms/notas"
    assert case.heading() == f"Expediente {number}"
    case.screenshot("case-note-form-page")
    box = case.section("notas")
    box.get_by_label("Nota", exact=True).fill("Pidió que no la llamen de noche")
    case.click_and_wait(box.get_by_role("button", name="Guardar nota"))
    assert case.url_path == f"/cases/{case_id}#notas"
    assert "Pidió que no la llamen de noche" in case.section("notas").inner_text()
