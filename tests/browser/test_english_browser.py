"""Done when: English mode has no Spanish string on the intake, case and risk pages.

She switches with the header's language button, as anyone would, and every page she
then opens (the intake, a failed intake, the case, the risk assessment) is read for
Spanish the way tests/test_english.py reads it: her own data and the directory's proper
names are allowed, nothing else.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.auth.models import User
from app.auth.service import issue_token
from app.extensions import db
from tests.browser.pages import CasePage, IntakePage, LoginPage
from tests.factories import intake as intake_body
from tests.test_english import her_data, proper_names, spanish_on


class EnglishIntakePage(IntakePage):
    """The intake, driven by its selectors: its button says "Save intake" now."""

    def save_in_english(self) -> Any:
        with self.page.expect_navigation() as navigation:
            self.page.locator("form.steps button[type=submit].primary").click()
        return navigation.value


def open_case_for(live_server: Any, username: str) -> str:
    """Her case, opened and assessed through the API by the agent's own office system."""
    app = live_server.app
    with app.app_context():
        user = db.session.execute(select(User).filter_by(username=username)).scalar_one()
        token, _ = issue_token(db.session, user, app.config["RUTA_TOKEN_LIFETIME"])
        db.session.commit()
    client, headers = app.test_client(), {"Authorization": f"Bearer {token}"}
    opened = client.post("/api/v1/cases", json=intake_body(), headers=headers)
    assert opened.status_code == 201, opened.get_json()
    case_id = opened.get_json()["id"]
    answers = {str(n): n in (2, 3, 14) for n in range(1, 25)}
    assessed = client.post(
        f"/api/v1/cases/{case_id}/risk-assessments", json={"answers": answers}, headers=headers
    )
    assert assessed.status_code == 201, assessed.get_json()
    return str(case_id)


@pytest.fixture
def allowed(live_server: Any) -> list[str]:
    return proper_names(live_server.app) + her_data()


def assert_no_spanish(page: Any, allowed: list[str], what: str) -> None:
    assert page.locator("html").get_attribute("lang") == "en", what
    found = spanish_on(page.content(), allowed)
    assert not found, f"{what}: Spanish in English mode:\n" + "\n".join(found)


def test_english_mode_has_no_spanish_on_intake_case_and_risk_pages(
    browsing, live_server, make_account, allowed
):
    agent = make_account("pnc_agent", "PNC-SON", "Agente Rivera")
    case_id = open_case_for(live_server, agent.username)
    page = browsing.new_page()
    dashboard = LoginPage(page).log_in(agent)
    assert dashboard.lang() == "es"
    dashboard.switch_language()  # the header's button, on the page she is on
    assert dashboard.lang() == "en"
    assert_no_spanish(page, allowed, "dashboard")

    intake = EnglishIntakePage(page)
    intake.open()
    assert_no_spanish(page, allowed, "intake")
    intake.screenshot("english-intake")

    intake.fill_survivor(given_names="María José", dui="1234", municipality="Izalco")
    intake.fill_incident(violence=("Sexual",))
    assert intake.save_in_english().status == 422
    assert any("Invalid DUI" in item for item in intake.error_summary())
    assert_no_spanish(page, allowed, "failed intake")
    intake.screenshot("english-intake-errors")

    case = CasePage(page)
    assert case.open_case(case_id).status == 200
    assert "Risk: high" in case.tags()
    assert_no_spanish(page, allowed, "case")
    case.screenshot("english-case")

    assert case.open(f"/cases/{case_id}/risk").status == 200
    assert page.get_by_text("Are you injured right now?").count() == 1
    assert_no_spanish(page, allowed, "risk")
    case.screenshot("english-risk")

    case.switch_language()  # and back: the same page, in Spanish again
    assert case.lang() == "es"
    assert page.get_by_text("¿Está lesionada en este momento?").count() == 1
