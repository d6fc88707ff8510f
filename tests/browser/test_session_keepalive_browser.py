"""Sessions that follow the person (issue 12, item 1), in Debian's Chromium.

The idle time is 12 seconds here (production: 30 minutes) and the warning comes 5
seconds before the end (production: 2 minutes), both set as the settings they are
(RUTA_IDLE_TIMEOUT, RUTA_SESSION_WARN_BEFORE) and read by the page's script from the
page; a typing page pings every second. The tests wait in real time: the server's clock
is the one that ends sessions.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from app.auth.models import User, UserSession
from app.cases.models import Case
from app.core.time import local_today, utcnow
from app.extensions import db
from config import Settings
from tests.browser.pages import BasePage, DashboardPage, IntakePage, LoginPage
from tests.conftest import make_settings

pytestmark = pytest.mark.browser

IDLE = 12  # seconds; over twice WARN, so that a kept session outlives its first end
WARN = 5  # seconds before the end: time enough to check the dialog and answer it
MS = 1000
PAST_IDLE = IDLE + 4  # seconds of typing with no page asked for


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return make_settings(
        tmp_path,
        database_url,
        require_mfa=True,
        RUTA_IDLE_TIMEOUT=timedelta(seconds=IDLE),
        RUTA_SESSION_WARN_BEFORE=timedelta(seconds=WARN),
    )


class SessionPage(BasePage):
    """What the session's script shows on any page: the warning, the sign-in panel."""

    def warning(self) -> Any:
        return self.page.get_by_role("alertdialog")

    def wait_for_warning(self) -> str:
        self.warning().wait_for(state="visible", timeout=(IDLE + 5) * MS)
        return self.warning().inner_text()

    def warning_shown(self) -> bool:
        return self.warning().count() > 0

    def panel(self) -> Any:
        return self.page.locator("#session-lock")

    def wait_for_panel(self) -> None:
        self.panel().wait_for(state="visible", timeout=(IDLE + 10) * MS)

    def locked(self) -> bool:
        return self.panel().count() > 0

    def sign_in_again(self, username: str, password: str, code: str) -> None:
        panel = self.panel()
        panel.get_by_label("Usuario").fill(username)
        panel.get_by_label("Contraseña").fill(password)
        panel.get_by_label(re.compile("^Código de verificación")).fill(code)
        panel.get_by_role("button", name="Entrar").click()

    def panel_error(self) -> str:
        box = self.panel().locator("#session-lock-error")
        box.wait_for(state="visible")
        return box.inner_text()

    def pings(self, requests: list[str]) -> int:
        return sum(1 for url in requests if url.endswith("/session/ping"))


def days_ago(days: int) -> str:
    return (local_today() - timedelta(days=days)).isoformat()


def start_intake(page: Any) -> IntakePage:
    intake = IntakePage(page)
    intake.open()
    intake.fill_survivor(
        given_names="Rosa Elena",
        family_names="Martínez Cruz",
        birth_date="1990-07-02",
        sex="Mujer",
        municipality="Sonsonate",
    )
    intake.fill_incident(
        violence=("Física",),
        occurred_on=days_ago(1),
        municipality="Sonsonate",
        relationship="Pareja",
    )
    intake.consent()
    return intake


def type_slowly(page: Any, selector: str, chunks: list[str], seconds: int) -> None:
    """Typing a long story with pauses to think, as people do: keys, but no request.
    The pauses add up to `seconds`."""
    page.locator(selector).focus()
    for chunk in chunks:
        page.keyboard.type(chunk)
        page.wait_for_timeout(seconds * MS // len(chunks))


STORY = [
    "Ella cuenta que el lunes ",
    "su pareja la empujó contra la pared ",
    "y la amenazó con quitarle a los niños; ",
    "no es la primera vez. ",
    "Pidió que no llamen a su casa ",
    "antes de las seis.",
    " Tiene miedo de volver.",
    " Su hermana la acompaña.",
]


def test_an_intake_typed_longer_than_the_idle_time_is_saved(browsing, make_account):
    account = make_account("pnc_agent", "PNC-SON", "Agente Rosa Pérez")
    page = browsing.new_page()
    LoginPage(page).log_in(account)
    intake = start_intake(page)
    session = SessionPage(page)
    # Eight pauses: 16 s of typing with no page asked for, past the 12 s idle time.
    type_slowly(page, "#narrative", STORY, seconds=PAST_IDLE)
    assert not session.warning_shown() and not session.locked()
    assert session.pings(browsing.requests) >= 5
    assert intake.save().status == 200
    assert re.fullmatch(r"/cases/[0-9a-f-]{36}/slip", intake.url_path)
    assert intake.slip()["pin"].isdigit()
    case = intake.go_to_case()
    assert case.page.locator("p.narrative").inner_text() == "".join(STORY)


def test_nothing_done_means_no_ping(browsing, make_account):
    """An abandoned PC is not kept signed in by the page: no key, no ping."""
    account = make_account("pnc_agent", "PNC-SON")
    page = browsing.new_page()
    LoginPage(page).log_in(account)
    page.wait_for_timeout((IDLE - WARN - 2) * MS)
    assert SessionPage(page).pings(browsing.requests) == 0


def test_the_warning_comes_and_seguir_trabajando_keeps_the_session(browsing, make_account):
    account = make_account("health_staff", "US-SON", "Dra. Carmen Ruiz")
    page = browsing.new_page()
    dashboard = LoginPage(page).log_in(account)
    signed_in_at = time.monotonic()
    session = SessionPage(page)
    text = session.wait_for_warning()
    assert "Su sesión se cerrará en 1 minuto por inactividad." in text
    # The focus is in the dialog, on its button: Enter keeps the session.
    assert (session.focused() or {}).get("id") == "session-keep"
    assert session.warning().get_attribute("aria-modal") == "true"
    session.page.keyboard.press("Tab")  # the focus stays in the dialog
    assert (session.focused() or {}).get("id") == "session-keep"
    session.screenshot("session-warning")
    assert session.warning().is_visible()
    session.page.keyboard.press("Enter")
    session.warning().wait_for(state="detached")
    # Again, and Esc this time.
    session.wait_for_warning()
    session.page.keyboard.press("Escape")
    session.warning().wait_for(state="detached")
    # Past the first idle end by now: the session was kept, the next page is no /login.
    assert time.monotonic() - signed_in_at > IDLE
    dashboard.nav("Casos")
    assert dashboard.url_path == "/cases"
    assert not session.locked()


def test_work_in_another_tab_keeps_this_one(browsing, make_account):
    """A tab left alone asks the server before it warns or locks: the other tab's
    typing counts."""
    account = make_account("womens_office", "UMM-SON")
    first = browsing.new_page()
    LoginPage(first).log_in(account)
    second = first.context.new_page()
    second.goto("/cases")
    start_intake(first)
    type_slowly(first, "#narrative", STORY[:7], seconds=PAST_IDLE)
    idle_tab = SessionPage(second)
    assert not idle_tab.locked() and not idle_tab.warning_shown()
    assert second.locator("#main").is_visible()


def test_after_the_idle_end_the_page_hides_and_comes_back_as_she_left_it(browsing, make_account):
    account = make_account("pnc_agent", "PNC-SON", "Agente Rosa Pérez")
    page = browsing.new_page()
    LoginPage(page).log_in(account)
    intake = start_intake(page)
    story = "Relato que no se pierde: la siguió hasta el mercado."
    page.locator("#narrative").fill(story)
    session = SessionPage(page)
    session.wait_for_panel()

    # Nothing of the intake is left in the document, only the sign-in panel.
    assert page.locator("#main").count() == 0 and page.locator("header").count() == 0
    assert story not in page.content() and "Rosa Elena" not in page.content()
    assert page.title().startswith("Sesión cerrada")
    assert "Su sesión se cerró por inactividad. Ingrese de nuevo para continuar." in (
        session.panel().inner_text()
    )
    assert (session.focused() or {}).get("id") == "session-username"
    session.screenshot("session-locked")

    # A wrong password: the login's own refusal, the page still hidden.
    session.sign_in_again(account.username, "not the password", "000000")
    assert session.panel_error() == "Usuario, contraseña o código incorrectos."
    assert page.locator("#main").count() == 0
    session.screenshot("session-locked-error")

    # She signs in again: the page is back, every field as she typed it.
    session.sign_in_again(account.username, account.password, account.code())
    page.locator("#main").wait_for(state="visible")
    assert not session.locked()
    assert intake.value("narrative") == story
    assert intake.value("given_names") == "Rosa Elena"
    assert intake.checked("#share_with_network")
    assert intake.url_path == "/cases/new"
    assert intake.save().status == 200
    assert intake.slip()["pin"].isdigit()


def test_someone_else_signing_in_at_the_panel_gets_her_own_dashboard(browsing, make_account):
    first = make_account("pnc_agent", "PNC-SON", "Agente Rosa Pérez")
    second = make_account("pnc_agent", "PNC-SON", "Agente Luisa Gómez")
    page = browsing.new_page()
    LoginPage(page).log_in(first)
    start_intake(page)
    story = "Lo que la primera agente escribió y nadie más debe leer."
    page.locator("#narrative").fill(story)
    session = SessionPage(page)
    session.wait_for_panel()
    # A real sign-in (argon2, TOTP, a new session) then her dashboard: slow on a loaded PC.
    with page.expect_navigation(timeout=30_000):
        session.sign_in_again(second.username, second.password, second.code())
    dashboard = DashboardPage(page)
    assert dashboard.url_path == "/"
    assert dashboard.greeting() == "Hola, Agente Luisa Gómez"
    assert story not in page.content() and "Rosa Elena" not in page.content()
    # The old page is gone from the tab, not one step back in it.
    page.go_back()
    assert story not in page.content()


def _end_sessions_of(live_server, username: str) -> None:
    """Her session went unused past the idle time, as the server sees it."""
    with live_server.app.app_context():
        user_id = db.session.execute(select(User.id).filter_by(username=username)).scalar_one()
        db.session.execute(
            update(UserSession)
            .where(UserSession.user_id == user_id)
            .values(
                last_seen_at=utcnow()
                - live_server.app.config["RUTA_IDLE_TIMEOUT"]
                - timedelta(seconds=5)
            )
        )
        db.session.commit()


def _cases(live_server) -> int:
    with live_server.app.app_context():
        return db.session.execute(select(func.count()).select_from(Case)).scalar_one()


def test_a_form_sent_after_the_end_opens_the_panel_instead(browsing, make_account, live_server):
    """The page's clock stands still (a PC that slept): the end has come before the page
    could lock. Sending the form then opens the panel, not the login page."""
    account = make_account("pnc_agent", "PNC-SON")
    # The production idle time: a keep-alive is due a minute after the page loads, so
    # none is in flight to come back after the sleep and move the end.
    idle = live_server.app.config["RUTA_IDLE_TIMEOUT"] = timedelta(minutes=30)
    page = browsing.new_page()
    page.clock.install()
    LoginPage(page).log_in(account)
    intake = start_intake(page)
    story = "Escrito antes de que la computadora se suspendiera."
    page.locator("#narrative").fill(story)
    page.clock.pause_at(datetime.now() + timedelta(seconds=1))  # no timer runs from here
    _end_sessions_of(live_server, account.username)
    page.clock.set_system_time(datetime.now() + idle + timedelta(seconds=10))
    page.get_by_role("button", name="Guardar ingreso").click()
    session = SessionPage(page)
    session.wait_for_panel()
    assert intake.url_path == "/cases/new" and _cases(live_server) == 0
    session.sign_in_again(account.username, account.password, account.code())
    page.locator("#main").wait_for(state="visible")
    assert intake.value("narrative") == story
    assert intake.save().status == 200
    assert _cases(live_server) == 1


def test_a_page_opened_after_the_idle_end_says_why_and_returns_there(browsing, make_account):
    """Without the page's script (a link followed, a reload): /login says it, then
    returns her to the page she asked for."""
    account = make_account("health_staff", "US-SON")
    page = browsing.new_page(java_script_enabled=False)
    login = LoginPage(page)
    login.log_in(account)
    page.wait_for_timeout((IDLE + 2) * MS)
    IntakePage(page).open()
    assert re.search(r"/login\?next=%2Fcases%2Fnew$|/login\?next=/cases/new$", page.url)
    assert login.flash() == "Su sesión se cerró por inactividad."
    login.screenshot("login-after-idle")
    login.fill(account.username, account.password, account.code())
    login.submit()
    assert login.url_path == "/cases/new"
