"""Her contact rules in Chromium: on the case page the banner comes before her phone in the
document (what a screen reader reads first) and on the screen, and a phone she may not
be called on stays behind "Ver teléfono" until a worker opens it on purpose."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.auth.models import User
from app.auth.service import issue_token
from app.extensions import db
from tests.browser.pages import CasePage, LoginPage
from tests.factories import intake

pytestmark = pytest.mark.browser

PHONE = "7777-1234"
CODE_WORD = "Mango-Violeta-2290"
# Whether the first node holds the second or comes before it (Node.DOCUMENT_POSITION_FOLLOWING).
BEFORE = """([first, second]) => {
  const a = document.querySelector(first), b = document.querySelector(second);
  return Boolean(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING);
}"""


class ContactCase(CasePage):
    def banner(self) -> Any:
        return self.page.locator("#reglas-contacto")

    def phone(self) -> Any:
        return self.page.locator("#identidad .phone")

    def comes_before(self, first: str, second: str) -> bool:
        return bool(self.page.evaluate(BEFORE, [first, second]))


def case_with_protocol(live_server: Any, username: str) -> str:
    app = live_server.app
    with app.app_context():
        user = db.session.execute(select(User).filter_by(username=username)).scalar_one()
        token, _ = issue_token(db.session, user, app.config["RUTA_TOKEN_LIFETIME"])
        db.session.commit()
    api, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    created = api.post("/api/v1/cases", json=intake(), headers=headers).get_json()
    record = api.get(f"/api/v1/cases/{created['id']}", headers=headers).get_json()
    protocol = {
        "may_call": False,
        "may_leave_message": False,
        "phone_watched_by_aggressor": "yes",
        "code_word": CODE_WORD,
        "version": record["survivor"]["version"],
    }
    put = api.put(f"/api/v1/cases/{created['id']}/safe-contact", json=protocol, headers=headers)
    assert put.status_code == 200, put.get_json()
    return str(created["id"])


def test_the_banner_is_read_before_the_phone_which_waits_behind_a_disclosure(
    browsing, make_account, live_server
):
    pnc = make_account("pnc_agent", "PNC-SON", "Agente Rosa Pérez")
    case_id = case_with_protocol(live_server, pnc.username)
    page = browsing.new_page()
    LoginPage(page).open()
    LoginPage(page).log_in(pnc)
    case = ContactCase(page)
    case.open_case(case_id)

    banner = case.banner()
    assert banner.is_visible()
    text = banner.inner_text()
    assert "NO LLAMAR" in text and "no dejar mensajes" in text and CODE_WORD in text
    assert case.comes_before("#reglas-contacto", "#identidad .phone")
    assert banner.bounding_box()["y"] < page.locator("#ver-telefono").bounding_box()["y"]

    # Closed until she chooses to open it: the number is not on the screen.
    assert not case.phone().is_visible()
    page.get_by_text("Ver teléfono").click()
    assert case.phone().is_visible() and case.phone().inner_text() == PHONE
    case.screenshot("contact-banner")
