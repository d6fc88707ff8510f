"""A supervisor walks her pages at 1024 px (issue 12, item 5): three nights of reads are
three rows she can open, people have names, she finds a case by its number (and a typo
tells her so at the field), the lists page by 50 keeping her filters, her own emergency
access says nobody else may review it, and the charts hatch what they hide, with labels
she can read.

Screenshots of each state land in test-output/screenshots/supervisor-*.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import select

from app.audit.service import Actor, record_event
from app.auth.models import User
from app.auth.service import issue_token
from app.core.time import LOCAL_TZ
from app.crypto.service import get_keyring
from app.extensions import db
from app.retention.models import ErasureRequest
from tests.browser.pages import BasePage, LoginPage
from tests.conftest import PASSWORD
from tests.factories import intake
from tests.report_helpers import seed_observatory

pytestmark = pytest.mark.browser

NIGHTS = 3
READS_A_NIGHT = 20

_SMALLEST_CHART_TEXT = """() => Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
  const sizes = Array.from(svg.querySelectorAll('text'))
    .map(t => parseFloat(getComputedStyle(t).fontSize) * scale);
  return Math.min.apply(null, sizes);
})"""
_IN_VIEW = """el => { const r = el.getBoundingClientRect();
  return r.top >= 0 && r.bottom <= window.innerHeight; }"""


class SupervisorAuditPage(BasePage):
    """/audit as the supervisor reads it: its cards by their headings."""

    path = "/audit"

    def card(self, card_id: str) -> Any:
        return self.page.locator(f"section#{card_id}")

    def rows(self, card_id: str) -> list[str]:
        return self.card(card_id).locator("tbody tr").all_inner_texts()

    def open_group(self, reads: int, username: str) -> None:
        row = self.card("fuera-de-horario").locator("tbody tr", has_text=username).first
        self.click_and_wait(row.get_by_role("link", name=re.compile(f"Ver las {reads} lecturas")))

    def filter_case(self, number: str) -> None:
        self.page.get_by_label("Número de expediente").fill(number)
        self.click_and_wait(self.page.get_by_role("button", name="Filtrar"))

    def next_page(self, card_id: str) -> None:
        self.click_and_wait(self.card(card_id).get_by_role("link", name="Siguiente »"))

    def pager_text(self, card_id: str) -> str:
        return self.card(card_id).locator(".pager-count").inner_text()


def _api(live_server: Any, username: str) -> tuple[Any, dict[str, str]]:
    app = live_server.app
    with app.app_context():
        user = db.session.execute(select(User).filter_by(username=username)).scalar_one()
        token, _ = issue_token(db.session, user, app.config["RUTA_TOKEN_LIFETIME"])
        db.session.commit()
    return app.test_client(), {"Authorization": f"Bearer {token}"}


def _night(days_ago: int, minute: int) -> datetime:
    day = datetime.now(LOCAL_TZ).date() - timedelta(days=days_ago)
    local = datetime(day.year, day.month, day.day, 22, minute, tzinfo=LOCAL_TZ)
    return local.astimezone(UTC)


def _night_reads(live_server: Any, username: str, case_id: str) -> None:
    """READS_A_NIGHT reads of her case at 22:00-22:19 on each of NIGHTS nights."""
    with live_server.app.app_context():
        user = db.session.execute(select(User).filter_by(username=username)).scalar_one()
        actor = Actor(user.id, user.username, "PNC-SON", user.role, "10.1.1.9")
        for night in range(2, 2 + NIGHTS):
            for minute in range(READS_A_NIGHT):
                record_event(
                    db.session,
                    get_keyring().audit_key,
                    actor,
                    "case_view",
                    object_type="case",
                    case_id=uuid.UUID(case_id),
                    detail="full",
                    at=_night(night, minute),
                )
        db.session.commit()


def _erasure_asked_by(live_server: Any, username: str, case_id: str) -> None:
    with live_server.app.app_context():
        user = db.session.execute(select(User).filter_by(username=username)).scalar_one()
        db.session.add(
            ErasureRequest(
                id=uuid.uuid4(),
                case_id=uuid.UUID(case_id),
                legal_basis="consent_withdrawn",
                reason_enc=b"",
                requested_by_user_id=user.id,
                requested_by_institution_id=user.institution_id,
            )
        )
        db.session.commit()


def test_supervisor_walks_her_pages_at_1024_px(browsing, make_account, live_server):
    agent = make_account("pnc_agent", "PNC-SON", "Ana Martínez")
    health = make_account("health_staff", "US-SON", "Alberto Ruiz")
    supervisor = make_account("supervisor", "RED-SON", "Sonia Hernández")
    client, agent_headers = _api(live_server, agent.username)
    opened = client.post("/api/v1/cases", json=intake(), headers=agent_headers)
    assert opened.status_code == 201, opened.get_json()
    case_id, number = opened.get_json()["id"], opened.get_json()["number"]
    _night_reads(live_server, agent.username, case_id)
    _, sup_headers = _api(live_server, supervisor.username)
    grant = client.post(
        f"/api/v1/cases/{case_id}/break-glass",
        headers=sup_headers,
        json={"reason": "Orden judicial urgente, oficio 44", "password": PASSWORD},
    )
    assert grant.status_code == 201, grant.get_json()

    page = browsing.new_page()
    LoginPage(page).log_in(supervisor)
    audit = SupervisorAuditPage(page)
    audit.open()
    audit.screenshot("supervisor-audit")

    # Her own emergency access: she may not review it, and nobody else may either.
    queue = audit.card("revision").inner_text()
    assert "usuario #" not in queue
    assert f"Sonia Hernández ({supervisor.username})" in queue and number in queue
    assert "Nadie más puede decidir sobre esto por ahora" in queue
    assert "Pida a la administración del sistema que dé de alta a otra supervisora" in queue

    # Sixty reads at night are three rows, one a night, each with its count.
    nights = [row for row in audit.rows("fuera-de-horario") if agent.username in row]
    assert len(nights) == NIGHTS, nights
    assert all("Ana Martínez" in row and "22:00 – 22:19" in row for row in nights)
    assert all(re.search(rf"\b{READS_A_NIGHT}\b", row) for row in nights)
    assert "UTC" not in audit.card("por-dia").inner_text()

    # A night opens to its own reads, with names and the case's number.
    audit.open_group(READS_A_NIGHT, agent.username)
    events = audit.rows("eventos")
    assert len(events) == READS_A_NIGHT
    assert all(number in row and "Ana Martínez" in row for row in events)
    assert case_id not in page.content()
    audit.screenshot("supervisor-audit-night")

    # A typo in the number: said at the field, in view, with the focus there.
    audit.filter_case("SON-2026-12")
    field = page.get_by_label("Número de expediente")
    error = page.locator("#f-case-error")
    assert "El número de expediente no es válido" in error.inner_text()
    page.wait_for_function("() => document.activeElement && document.activeElement.id === 'f-case'")
    assert field.get_attribute("aria-invalid") == "true"
    assert error.evaluate(_IN_VIEW)
    assert audit.rows("eventos") == []
    audit.screenshot("supervisor-audit-case-error")

    # The right number, then the next page: her filters stay.
    audit.open()
    audit.filter_case(number.lower())
    assert "1 a 50 de" in audit.pager_text("eventos")
    audit.next_page("eventos")
    assert field.input_value() == number.lower()
    assert "página 2 de 2" in audit.pager_text("eventos")
    assert all(number in row for row in audit.rows("eventos"))
    audit.screenshot("supervisor-audit-page-2")

    # The charts: hidden cells hatched with their label, text 12 px or more at 1024 px.
    seed_observatory(
        client,
        SimpleNamespace(headers=agent_headers),
        SimpleNamespace(headers=_api(live_server, health.username)[1]),
    )
    reports = BasePage(page)
    reports.open("/reports?from=2026-10-01&to=2026-10-31&by=district&by=violence_type")
    charts = page.locator("svg.chart")
    assert charts.count() == 3
    hidden = page.locator("svg.chart rect.chart-hidden")
    assert hidden.count() >= 1
    assert page.locator("svg.chart text.chart-value", has_text="<5").count() >= 1
    assert min(page.evaluate(_SMALLEST_CHART_TEXT)) >= 12
    assert "Rayado: dato oculto" in page.locator("section.charts").inner_text()
    reports.screenshot("supervisor-reports-charts")
    reports.open("/reports/monthly?month=2026-10")
    assert min(page.evaluate(_SMALLEST_CHART_TEXT)) >= 12
    reports.screenshot("supervisor-reports-monthly")

    # An erasure she asked for herself: the page says who else may decide it (nobody).
    _erasure_asked_by(live_server, supervisor.username, case_id)
    reports.open("/audit/retention")
    erasures = page.locator("section#supresiones").inner_text()
    assert number in erasures and "Aprobar la supresión" not in erasures
    assert "Nadie más puede decidir sobre esto por ahora" in erasures
    reports.screenshot("supervisor-retention")
