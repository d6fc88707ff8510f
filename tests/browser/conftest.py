"""Browser tests: the app served for real on 127.0.0.1 and driven by Debian's Chromium.

Each test gets its own app and database (the fixtures of tests/conftest.py), served by a
threaded werkzeug server in a background thread on a free port. One Chromium serves the
whole run; every user works in a fresh browser context (own cookies), as on her own PC.
RUTA_REQUIRE_MFA is on, as in production: everyone signs in with a TOTP code, and since a
code cannot be replayed, each sign-in uses a user of its own.

The whole directory is skipped, with the reason, when RUTA_SKIP_BROWSER=1 or when
/usr/bin/chromium (or Playwright) is missing.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from app.auth.service import create_user
from app.extensions import db
from config import Settings
from tests.auth_helpers import otp
from tests.conftest import PASSWORD, make_settings

HERE = Path(__file__).parent
CHROMIUM = Path("/usr/bin/chromium")
# Headless, and quiet: Chromium itself must not call home while the tests watch the network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1024, "height": 768}
CATALOGUE = HERE.parents[1] / "app" / "translations" / "en" / "LC_MESSAGES" / "messages.mo"


def skip_reason() -> str | None:
    if os.environ.get("RUTA_SKIP_BROWSER") == "1":
        return "browser tests skipped: RUTA_SKIP_BROWSER=1"
    if not CHROMIUM.exists():
        return f"browser tests skipped: {CHROMIUM} is missing (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "browser tests skipped: playwright is not installed (requirements-dev.txt)"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = skip_reason()
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(scope="session", autouse=True)
def english_catalogue() -> None:
    """Compile the English catalogue when its .mo is missing or older than the .po, as
    ./test.sh does, so that `pytest tests/browser` alone works on a fresh checkout."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    po = CATALOGUE.with_suffix(".po")
    if CATALOGUE.exists() and CATALOGUE.stat().st_mtime >= po.stat().st_mtime:
        return
    with po.open("rb") as source:
        catalog = read_po(source)
    with CATALOGUE.open("wb") as target:
        write_mo(target, catalog)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """As in production: every user must give a TOTP code (RUTA_REQUIRE_MFA=1)."""
    return make_settings(tmp_path, database_url, require_mfa=True)


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """No access log: the browser's requests are recorded by the tests themselves."""


@dataclass
class LiveServer:
    url: str
    app: Flask

    def owns(self, url: str) -> bool:
        """True when the URL is on this server (scheme, host and port)."""
        ours, theirs = urlsplit(self.url), urlsplit(url)
        return (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc)


@pytest.fixture
def live_server(app: Flask) -> Iterator[LiveServer]:
    """The test app on a real socket, port chosen by the OS, until the test ends."""
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, name="ruta-live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@dataclass(frozen=True)
class Account:
    """A user ready to sign in: password and TOTP secret, as handed over in person."""

    username: str
    display_name: str
    role: str
    institution: str
    totp_secret: str
    password: str = PASSWORD

    def code(self) -> str:
        """A code of a step after every code given before: the TOTP clock of the tests
        moves on a step (tests.auth_helpers), so no login is refused as a replay."""
        return otp(self.totp_secret, steps_ahead=1)


@pytest.fixture
def make_account(app: Flask) -> Callable[..., Account]:
    counter = itertools.count(1)

    def make(role: str, institution: str, display_name: str = "") -> Account:
        username = f"{role.replace('_', '')}{next(counter)}.{institution.lower()}"
        with app.app_context():
            new = create_user(
                db.session,
                app.extensions["ruta.keyring"],
                username=username,
                institution_code=institution,
                role=role,
                display_name=display_name,
                password=PASSWORD,
                with_totp=True,
            )
            db.session.commit()
            assert new.totp_secret
            return Account(username, new.user.display_name, role, institution, new.totp_secret)

    return make


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def date_order(browser: Any) -> str:
    """The order in which this Chromium's date fields take typed digits: its own UI
    language decides, not the page's. Found once, by typing a probe date."""
    context = browser.new_context()
    page = context.new_page()
    page.set_content('<input type="date" id="probe">')
    page.focus("#probe")
    page.keyboard.type("01021999")
    value = page.input_value("#probe")
    context.close()
    orders = {"1999-01-02": "mdy", "1999-02-01": "dmy"}
    assert value in orders, f"unexpected date field order (probe gave {value!r})"
    return orders[value]


@dataclass
class Browsing:
    """Opens browser contexts on the live server and records what every page asks for."""

    browser: Any
    server: LiveServer
    requests: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)
    contexts: list[Any] = field(default_factory=list)

    def new_page(self, **options: Any) -> Any:
        context = self.browser.new_context(
            base_url=self.server.url, viewport=DESKTOP, locale="es-SV", **options
        )
        context.set_default_timeout(10_000)
        context.on("request", lambda request: self.requests.append(request.url))
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", self._console)
        return page

    def _console(self, message: Any) -> None:
        if "Content Security Policy" in message.text:
            self.csp_violations.append(message.text)

    def outside_requests(self) -> list[str]:
        return [url for url in self.requests if not self.server.owns(url)]


@pytest.fixture
def browsing(browser: Any, live_server: LiveServer) -> Iterator[Browsing]:
    """Every test, whatever it checks, also proves nothing left the server's origin."""
    session = Browsing(browser, live_server)
    yield session
    for context in session.contexts:
        context.close()
    assert not session.outside_requests(), "requests outside the server"
    assert not session.csp_violations, "the Content-Security-Policy blocked something"
