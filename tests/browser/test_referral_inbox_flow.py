"""The receiver's referral inbox and the printed hoja de referencia y contrarreferencia,
in a real browser (issue 12, items 3 and 4): a health worker filters her inbox, accepts
and starts a referral in one step, completes it with the counter-referral, and the sheet
prints on one page of A4 and of letter with the fields the network's form has.
"""

from __future__ import annotations

import re
import uuid
from io import BytesIO
from typing import Any

import pikepdf
import pytest
from sqlalchemy import select, update

from app.auth.models import User
from app.auth.service import issue_token
from app.directory.models import Institution
from app.extensions import db
from tests.browser.pages import BasePage, LoginPage
from tests.factories import intake

pytestmark = pytest.mark.browser

REASON = "Golpes en el brazo izquierdo; posible fractura. Viene acompañada de su hermana."
COUNTER = {
    "done": "Radiografía e inmovilización del brazo; analgesia.",
    "next_step": "Control en ortopedia del Hospital Nacional el lunes a las 8:00.",
    "contact": "Dra. Carmen Ruiz, consultorio 4, teléfono 2451-2000.",
}
# Page sizes in PDF points (1/72 in): the network prints on both.
SIZES = {"A4": (595, 842), "Letter": (612, 792)}


# ---- page objects of these pages (tests/browser/pages.py belongs to the whole suite) ----


class InboxPage(BasePage):
    path = "/referrals"

    def row(self, case_number: str) -> Any:
        return self.page.locator("main table.inbox tbody tr", has_text=case_number)

    def cell(self, case_number: str, column: str) -> str:
        """The text of a row's cell by its column's label (the phone layout shows it)."""
        return self.row(case_number).locator(f"td[data-label='{column}']").inner_text()

    def press(self, case_number: str, label: str) -> None:
        row = self.row(case_number)
        target = row.get_by_role("button", name=label, exact=True)
        if not target.count():
            target = row.get_by_role("link", name=label, exact=True)
        self.click_and_wait(target)

    def filter_by(self, **labels: str) -> None:
        """Choose filter values by their labels (which carry the counts) and apply."""
        for field, label in labels.items():
            self.page.locator(f"#f-{field}").select_option(label=label)
        self.click_and_wait(self.page.get_by_role("button", name="Filtrar"))

    def options(self, field: str) -> list[str]:
        return self.page.locator(f"#f-{field} option").all_inner_texts()

    def tab(self, name: str) -> str:
        tabs = self.page.get_by_role("navigation", name="Bandejas")
        return tabs.get_by_role("link", name=re.compile(name)).inner_text()


class ReferralPage(BasePage):
    def complete(self, **values: str) -> None:
        form = self.page.locator("form#completar")
        for name, value in values.items():
            form.locator(f"textarea[name={name}]").fill(value)
        self.click_and_wait(form.get_by_role("button", name="Completar", exact=True))

    def value(self, name: str) -> str:
        return self.page.locator(f"form#completar textarea[name={name}]").input_value()

    def focused_id(self) -> str:
        return str(self.page.evaluate("() => document.activeElement && document.activeElement.id"))


class SheetPage(BasePage):
    def text(self) -> str:
        """The sheet's words as written (the headings are shown in capitals)."""
        return " ".join((self.page.locator("article.hoja").text_content() or "").split())

    def counter_referral(self) -> str:
        return " ".join((self.page.locator(".hoja-contra").text_content() or "").split())

    def printed_pages(self, paper: str) -> pikepdf.Pdf:
        """The PDF Chromium prints of the page, on this paper, with the print stylesheet."""
        self.page.emulate_media(media="print")
        return pikepdf.open(BytesIO(self.page.pdf(format=paper, print_background=True)))

    def visible_in_print(self, selector: str) -> bool:
        self.page.emulate_media(media="print")
        try:
            return bool(self.page.locator(selector).first.is_visible())
        finally:
            self.page.emulate_media(media="screen")


# ---- the world: a case the PNC referred to the health unit, through the API -------------


def _token(app, username: str) -> dict[str, str]:
    with app.app_context():
        user = db.session.execute(select(User).filter_by(username=username)).scalar_one()
        token, _ = issue_token(db.session, user, app.config["RUTA_TOKEN_LIFETIME"])
        db.session.commit()
    return {"Authorization": f"Bearer {token}"}


def referred_case(live_server, sender) -> tuple[str, str]:
    """A case of PNC-SON referred to US-SON; the directory gives both an address and a
    phone. Returns the case number and the referral id."""
    app = live_server.app
    with app.app_context():
        for code, address, phone in (
            ("PNC-SON", "Final 6a calle oriente, Sonsonate", "2451-1000"),
            ("US-SON", "Barrio El Ángel, Sonsonate", "2451-2000"),
        ):
            db.session.execute(
                update(Institution)
                .where(Institution.code == code)
                .values(address=address, phone=phone)
            )
        receiver = db.session.execute(select(Institution.id).filter_by(code="US-SON")).scalar()
        db.session.commit()
    client, headers = app.test_client(), _token(app, sender.username)
    case = client.post("/api/v1/cases", json=intake(), headers=headers).get_json()
    body = {
        "to_institution": receiver,
        "service": "medical",
        "reason": REASON,
        "urgency": "immediate",
        "consent": True,
    }
    sent = client.post(f"/api/v1/cases/{case['id']}/referrals", json=body, headers=headers)
    assert sent.status_code == 201, sent.get_json()
    # A second, routine one, for the filters to tell apart.
    other = client.post(
        "/api/v1/cases",
        json=intake({"dui": None, "given_names": "Rosa", "birth_date": "1990-01-01"}),
        headers=headers,
    ).get_json()
    routine = {**body, "urgency": "routine", "reason": "Control"}
    assert (
        client.post(f"/api/v1/cases/{other['id']}/referrals", json=routine, headers=headers)
    ).status_code == 201
    return case["number"], sent.get_json()["id"]


def test_health_worker_accepts_and_starts_in_one_step_completes_and_prints_the_sheet(
    browsing, make_account, live_server
):
    pnc = make_account("pnc_agent", "PNC-SON", "Agente Rosa Pérez")
    health = make_account("health_staff", "US-SON", "Dra. Carmen Ruiz")
    number, referral_id = referred_case(live_server, pnc)

    page = browsing.new_page()
    LoginPage(page).log_in(health)
    BasePage(page).nav("Remisiones")
    inbox = InboxPage(page)
    # What she needs to triage: who sends it, why, how urgent, by when.
    assert "PNC — UNIMUJER-ODAC Sonsonate" in inbox.cell(number, "De")
    assert inbox.cell(number, "Motivo").strip() == REASON
    assert inbox.cell(number, "Urgencia") == "Inmediata"
    assert inbox.cell(number, "Estado") == "Enviada"
    assert "María José" not in inbox.cell(number, "Expediente")  # not a party yet
    assert "Enviada (2)" in inbox.options("status")
    assert inbox.tab("Recibidas") == "Recibidas 2"
    inbox.screenshot("referral-inbox-incoming")

    inbox.filter_by(urgency="Inmediata (1)")
    assert "urgency=immediate" in inbox.url_path
    assert inbox.page.locator("main table.inbox tbody tr").count() == 1
    assert "Enviada (1)" in inbox.options("status")  # the counts follow the other filters
    inbox.screenshot("referral-inbox-filtered")

    # One click: accepted and started, both recorded.
    inbox.press(number, "Aceptar y atender")
    assert "Remisión actualizada." in inbox.flash()
    assert inbox.url_path.endswith(f"#r-{referral_id}")
    assert inbox.cell(number, "Estado") == "En atención"
    assert "María José López Hernández" in inbox.cell(number, "Expediente")  # a party now
    with live_server.app.app_context():
        from app.referrals.models import ReferralEvent

        actions = db.session.execute(
            select(ReferralEvent.action).where(ReferralEvent.referral_id == uuid.UUID(referral_id))
        ).scalars()
        assert sorted(actions) == ["accept", "send", "start"]

    # The counter-referral: a missing next step is refused, nothing she typed is lost.
    inbox.press(number, "Completar…")
    referral = ReferralPage(page)
    referral.screenshot("referral-complete-form")
    referral.complete(done=COUNTER["done"], contact=COUNTER["contact"])
    assert referral.page.title().startswith("Error:")
    assert referral.focused_id() == "complete-next_step"
    assert referral.value("done") == COUNTER["done"]
    assert referral.value("contact") == COUNTER["contact"]
    referral.screenshot("referral-complete-error")
    referral.complete(next_step=COUNTER["next_step"])
    assert "Remisión actualizada." in inbox.flash()
    assert inbox.cell(number, "Estado") == "Completada"
    assert COUNTER["done"] in inbox.cell(number, "Motivo")

    # The sheet, with the counter-referral filled in, prints on one page.
    inbox.press(number, "Hoja")
    sheet = SheetPage(page)
    text = sheet.text()
    for expected in (
        "Red Interinstitucional de Atención de Sonsonate",
        number,
        "PNC — UNIMUJER-ODAC Sonsonate",
        "2451-1000",
        "Agente Rosa Pérez",
        "Unidad de Salud Sonsonate",
        "Barrio El Ángel, Sonsonate",
        "24 horas",
        "Atención médica",
        "Inmediata",
        REASON,
        "María José López Hernández",
        "La sobreviviente autorizó compartir su información con la red el",
        "Firma y sello de quien remite",
        "Firma y sello de quien recibe",
    ):
        assert expected in text, expected
    contra = sheet.counter_referral()
    for value in COUNTER.values():
        assert value in contra
    assert "Dra. Carmen Ruiz" in contra
    sheet.screenshot("referral-sheet")
    for selector in (".hoja-head", ".hoja-firmas", ".hoja-contra", ".cut"):
        assert sheet.visible_in_print(selector), selector
    assert not sheet.visible_in_print("header.top")
    for paper, (width, height) in SIZES.items():
        printed = sheet.printed_pages(paper)
        assert len(printed.pages) == 1, f"{paper}: {len(printed.pages)} pages"
        box = [float(v) for v in printed.pages[0].mediabox]
        assert abs(box[2] - width) < 2 and abs(box[3] - height) < 2, (paper, box)


def test_the_blank_sheet_the_sender_prints_fits_one_page_with_lines_to_write_on(
    browsing, make_account, live_server
):
    pnc = make_account("pnc_agent", "PNC-SON", "Agente Rosa Pérez")
    number, referral_id = referred_case(live_server, pnc)
    page = browsing.new_page()
    LoginPage(page).log_in(pnc)
    sheet = SheetPage(page)
    assert sheet.open(f"/referrals/{referral_id}/sheet").status == 200
    assert sheet.page.locator(".hoja-contra .write-in.line").count() == 5
    assert number in sheet.text()
    sheet.screenshot("referral-sheet-blank")
    for paper in SIZES:
        assert len(sheet.printed_pages(paper).pages) == 1, paper
