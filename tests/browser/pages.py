"""Page objects: what a person does on each page, so the tests read like the workflow.

Each object wraps a Playwright `Page` and finds things the way a person would: by label,
by role, by visible text. Selectors live here and nowhere else.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "test-output" / "screenshots"
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"  # ./test.sh installs it (npm ci)
WIDE = {"width": 1366, "height": 768}
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1024, "height": 768}
# WCAG 2.1 A and AA, as the network's accessibility commitment; only these impacts fail.
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_FAILING = ("critical", "serious")

# Page health, checked on every screenshot: one element per id, so that every label and
# anchor finds its target (hidden inputs, never labelled, are left out: each form on a page
# carries its own csrf_token); nothing wider than the screen (no sideways scrolling).
_DUPLICATE_IDS = """() => {
  const seen = {}; const twice = [];
  for (const el of document.querySelectorAll('[id]:not(input[type=hidden])')) {
    if (seen[el.id]) { twice.push(el.id); } seen[el.id] = true;
  }
  return twice;
}"""
_OVERFLOW = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
_FOCUS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) { return null; }
  const style = getComputedStyle(el);
  // A date field's calendar button is inside the browser's own widget, with its own ring.
  const calendarButton = el.type === 'date' && !el.matches(':focus');
  return {tag: el.tagName.toLowerCase(), id: el.id, name: el.getAttribute('name'),
          text: (el.innerText || el.value || '').trim().slice(0, 60),
          visible: calendarButton || (el.matches(':focus-visible') && style.outlineStyle !== 'none'
                   && parseFloat(style.outlineWidth) >= 2)};
}"""


class BasePage:
    path = "/"

    def __init__(self, page: Any) -> None:
        self.page = page

    # --- navigation -------------------------------------------------------------------
    def open(self, path: str | None = None) -> Any:
        """Go to the page; return the HTTP response (its status is checked by callers)."""
        return self.page.goto(path or self.path)

    @property
    def url_path(self) -> str:
        return re.sub(r"^https?://[^/]+", "", self.page.url)

    def heading(self) -> str:
        return self.page.locator("main h1").first.inner_text()

    def flash(self) -> str:
        return " ".join(self.page.locator("main .flash").all_inner_texts())

    def click_and_wait(self, target: Any) -> None:
        """Click something that loads a new page, and return once that page has come.

        Reading the page straight after a bare click may still read the page being left.
        """
        with self.page.expect_navigation():
            target.click()

    def nav(self, label: str) -> None:
        menu = self.page.get_by_role("navigation", name=re.compile("Menú principal|Main menu"))
        self.click_and_wait(menu.get_by_role("link", name=label, exact=True))

    def switch_language(self) -> None:
        """The header button: English when the page is in Spanish, and back."""
        self.click_and_wait(self.page.locator("header form.lang button"))

    def menu_links(self) -> list[str]:
        menu = self.page.get_by_role("navigation", name=re.compile("Menú principal|Main menu"))
        return menu.get_by_role("link").all_inner_texts()

    def sign_out_button(self) -> Any:
        return self.page.locator("header .who button")

    def log_out(self) -> None:
        self.click_and_wait(self.sign_out_button())

    def lang(self) -> str:
        return self.page.locator("html").get_attribute("lang") or ""

    # --- checks and pictures ----------------------------------------------------------
    def duplicate_ids(self) -> list[str]:
        return list(self.page.evaluate(_DUPLICATE_IDS))

    def sideways_overflow(self) -> int:
        return int(self.page.evaluate(_OVERFLOW))

    def focused(self) -> dict[str, Any] | None:
        return self.page.evaluate(_FOCUS)

    def accessibility_problems(self) -> list[str]:
        """axe-core's critical and serious WCAG 2.1 A/AA violations of the page as it is now,
        one line each (rule, impact, the first offending elements)."""
        assert AXE.exists(), f"{AXE} is missing: run ./test.sh (it runs npm ci) or npm ci"
        if self._timers_run():
            return _axe_problems(self.page)
        # axe-core waits on timers, which never fire in a page without JavaScript or
        # with a stopped clock: it checks a copy of the same document instead.
        return self._problems_of_a_copy()

    def _timers_run(self) -> bool:
        self.page.evaluate(
            "() => { window.__rutaTick = 0; setTimeout(() => { window.__rutaTick = 1; }, 0); }"
        )
        try:
            self.page.wait_for_function("() => window.__rutaTick === 1", timeout=1500)
        except Exception:  # Playwright's TimeoutError: no timer ran
            return False
        return True

    def _problems_of_a_copy(self) -> list[str]:
        html = self.page.content()
        base = f'<base href="{self.page.url}">'
        html = re.sub(r"<head([^>]*)>", lambda m: m.group(0) + base, html, count=1)
        context = self.page.context.browser.new_context(viewport=self.page.viewport_size)
        try:
            copy = context.new_page()
            copy.set_content(html, wait_until="load")
            return _axe_problems(copy)
        finally:
            context.close()

    def screenshot(self, name: str) -> None:
        """Whole page at 1366 px and at a phone's 375 px, after the page health checks:
        one element per id, no critical or serious axe-core violation, and no sideways
        scrolling at 1366, 1024 or 375 px."""
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        desktop = self.page.viewport_size
        assert not self.duplicate_ids(), f"{name}: duplicate ids {self.duplicate_ids()}"
        problems = self.accessibility_problems()
        assert not problems, f"{name}: axe-core found " + "; ".join(problems)
        for label, size in (("1366", WIDE), ("1024", DESKTOP), ("375", PHONE)):
            self.page.set_viewport_size(size)
            overflow = self.sideways_overflow()
            if label != "1024":
                shot = SCREENSHOTS / f"{name}-{label}.png"
                self.page.screenshot(path=str(shot), full_page=True)
            assert overflow <= 0, f"{name} at {label} px is {overflow} px too wide"
        self.page.set_viewport_size(desktop)

    # --- keyboard ---------------------------------------------------------------------
    def tab_to(self, selector: str, limit: int = 60) -> dict[str, Any]:
        """Press Tab until the element matching `selector` has the focus; every stop on
        the way must show where the focus is."""
        target = self.page.locator(selector)
        for _ in range(limit):
            self.page.keyboard.press("Tab")
            where = self.focused()
            assert where and where["visible"], f"focus not visible on {where}"
            if target.evaluate("el => el === document.activeElement"):
                return where
        raise AssertionError(f"Tab never reached {selector}")

    def type_into(self, selector: str, text: str) -> None:
        self.tab_to(selector)
        self.page.keyboard.type(text)

    def choose(self, selector: str, label: str) -> None:
        """A closed <select> picks the option whose label is typed (type-ahead)."""
        self.tab_to(selector)
        self.page.keyboard.type(label)

    def tick(self, selector: str) -> None:
        self.tab_to(selector)
        self.page.keyboard.press("Space")

    def type_date(self, selector: str, iso: str, order: str) -> None:
        """Digits in the order the browser's date field shows its parts ("mdy" or "dmy")."""
        year, month, day = iso.split("-")
        parts = {"y": year, "m": month, "d": day}
        self.tab_to(selector)
        self.page.keyboard.type("".join(parts[p] for p in order))
        assert self.page.locator(selector).input_value() == iso


class LoginPage(BasePage):
    path = "/login"

    def log_in(self, account: Any) -> DashboardPage:
        self.open()
        self.fill(account.username, account.password, account.code())
        self.submit()
        return DashboardPage(self.page)

    def fill(self, username: str, password: str, code: str) -> None:
        self.page.get_by_label(re.compile("^(Usuario|Username)$")).fill(username)
        self.page.get_by_label(re.compile("^(Contraseña|Password)$")).fill(password)
        self.page.locator("#otp").fill(code)

    def submit(self) -> None:
        self.click_and_wait(self.page.get_by_role("button", name=re.compile("^(Entrar|Sign in)$")))

    def values(self) -> dict[str, str]:
        return {
            name: self.page.locator(f"#{name}").input_value() for name in ("username", "password")
        }

    def log_in_with_keyboard(self, account: Any) -> DashboardPage:
        """Only keys: the username has the focus when the page opens."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        self.open()
        # `autofocus` is applied once the page is shown, which a loaded machine may do a
        # moment after "load": wait for it (up to 5 s), then check.
        with contextlib.suppress(PlaywrightTimeout):
            self.page.wait_for_function(
                "() => document.activeElement && document.activeElement.id === 'username'",
                timeout=5_000,
            )
        assert (self.focused() or {}).get("id") == "username"
        self.page.keyboard.type(account.username)
        self.tab_to("#password")
        self.page.keyboard.type(account.password)
        self.tab_to("#otp")
        self.page.keyboard.type(account.code())
        self.tab_to("main button[type=submit]")
        self.page.keyboard.press("Enter")
        self.page.wait_for_url(re.compile(r"/$"))
        return DashboardPage(self.page)

    def error(self) -> str:
        return self.page.locator("main .error-box").inner_text()

    def labels(self) -> list[str]:
        return self.page.locator("main form label").all_inner_texts()


class DashboardPage(BasePage):
    path = "/"

    def greeting(self) -> str:
        return self.heading()

    def card(self, title: str) -> Any:
        return self.page.locator("section.card", has=self.page.get_by_role("heading", name=title))


class IntakePage(BasePage):
    path = "/cases/new"

    def fill_survivor(self, **values: str) -> IntakePage:
        for name in ("given_names", "family_names", "dui", "phone", "address"):
            if name in values:
                self.page.locator(f"#{name}").fill(values[name])
        if "birth_date" in values:
            self.page.locator("#birth_date").fill(values["birth_date"])
        if "sex" in values:
            self.page.locator("#sex").select_option(label=values["sex"])
        if "municipality" in values:
            self.page.locator("#municipality").select_option(label=values["municipality"])
        return self

    def fill_incident(self, violence: tuple[str, ...] = (), **values: str) -> IntakePage:
        if "occurred_on" in values:
            self.page.locator("#occurred_on").fill(values["occurred_on"])
        for name, field in (
            ("municipality", "#incident_municipality"),
            ("relationship", "#perpetrator_relationship"),
            ("place", "#place_type"),
        ):
            if name in values:
                self.page.locator(field).select_option(label=values[name])
        for label in violence:
            self.page.locator("#violence_types").get_by_label(label, exact=True).check()
        if "narrative" in values:
            self.page.locator("#narrative").fill(values["narrative"])
        return self

    def consent(self, network: bool = True, statistics: bool = True, police: bool = True) -> None:
        for name, given in (
            ("share_with_network", network),
            ("statistics", statistics),
            ("police", police),
        ):
            self.page.locator(f"#{name}").set_checked(given)

    def fill_with_keyboard(self, date_order: str, **values: str) -> None:
        """The required fields, reached with Tab only, from the top of the page."""
        self.tab_to(".skip")
        self.page.keyboard.press("Enter")  # to the content, past the menu
        self.type_into("#given_names", values["given_names"])
        self.type_into("#family_names", values["family_names"])
        self.type_date("#birth_date", values["birth_date"], date_order)
        self.choose("#sex", values["sex"])
        self.choose("#municipality", values["municipality"])
        self.type_date("#occurred_on", values["occurred_on"], date_order)
        self.choose("#incident_municipality", values["municipality"])
        self.choose("#perpetrator_relationship", values["relationship"])
        self.tick("#violence_types-0")
        self.type_into("#narrative", values["narrative"])
        self.tick("#share_with_network")

    def save_with_keyboard(self) -> None:
        self.tab_to("form.steps button[type=submit].primary")
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")

    def save(self) -> Any:
        with self.page.expect_navigation() as navigation:
            self.page.get_by_role("button", name="Guardar ingreso").click()
        return navigation.value

    # --- after an error -----------------------------------------------------------------
    def error_summary(self) -> list[str]:
        return self.page.locator("#errores li").all_inner_texts()

    def field_error(self, name: str) -> str:
        return self.page.locator(f"#{name}-error").inner_text()

    def marked_invalid(self, name: str) -> bool:
        return self.page.locator(f"#{name}").get_attribute("aria-invalid") == "true"

    def follow_error(self, label: str) -> None:
        """Click the summary's link for a field: the field gets the focus."""
        self.page.locator("#errores").get_by_role("link", name=label).click()

    def drop_csrf_token(self) -> None:
        """What a form forged on another site lacks: this page's CSRF token."""
        self.page.locator("form.steps input[name=csrf_token]").evaluate("input => input.remove()")

    def value(self, name: str) -> str:
        return self.page.locator(f"#{name}").input_value()

    def checked(self, selector: str) -> bool:
        return self.page.locator(selector).is_checked()

    # --- the slip shown once the case is open -------------------------------------------
    def slip(self) -> dict[str, str]:
        values = self.page.locator(".slip-codes dd").all_inner_texts()
        return {"code": values[0], "pin": values[1]}

    def go_to_case(self) -> CasePage:
        self.click_and_wait(self.page.get_by_role("link", name="Ir al expediente"))
        return CasePage(self.page)

    def go_to_case_with_keyboard(self) -> CasePage:
        self.tab_to("main a.button")
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")
        return CasePage(self.page)


class SearchPage(BasePage):
    """The search form is posted: what she types never shows in the address bar."""

    path = "/cases/search"

    def search(self, **values: str) -> Any:
        """Fill the DUI, the name and birth date, or the case number, and press Buscar."""
        for name in ("dui", "name", "birth_date", "number"):
            if name in values:
                self.page.locator(f"#{name}").fill(values[name])
        with self.page.expect_navigation() as navigation:
            self.page.get_by_role("button", name="Buscar", exact=True).click()
        return navigation.value

    def result_numbers(self) -> list[str]:
        return self.page.locator("main table tbody tr td:first-child").all_inner_texts()

    def nothing_found(self) -> bool:
        return self.page.get_by_text("No se encontró ningún expediente").is_visible()

    def open_result(self, number: str) -> CasePage:
        self.click_and_wait(self.page.get_by_role("link", name=number, exact=True))
        return CasePage(self.page)


class CasePage(BasePage):
    def open_case(self, case_id: str) -> Any:
        return self.open(f"/cases/{case_id}")

    @property
    def case_id(self) -> str:
        found = re.search(r"/cases/([0-9a-f-]{36})", self.page.url)
        assert found, self.page.url
        return found.group(1)

    def number(self) -> str:
        return self.heading().split()[-1]

    def tags(self) -> str:
        """Status, risk and other marks under the case number."""
        return self.page.locator(".case-head p").first.inner_text()

    def section(self, anchor: str) -> Any:
        return self.page.locator(f"section#{anchor}")

    def open_form(self, anchor: str, link: str) -> Any:
        """Follow a form's link in its section: its own page, a section of the same id."""
        self.click_and_wait(self.section(anchor).get_by_role("link", name=link))
        return self.section(anchor)

    def refer(
        self, institution: str, service: str, reason: str, urgency: str = "Prioritaria (3 días)"
    ) -> ReferralSheetPage:
        """Send a referral with the survivor's consent; lands on the referral sheet."""
        box = self.open_form("remisiones", "Remitir a otra institución")
        box.get_by_label("Institución que recibe").select_option(label=institution)
        box.get_by_label("Servicio", exact=True).select_option(label=service)
        box.get_by_label(urgency).check()
        box.get_by_label("Motivo de la remisión").fill(reason)
        box.get_by_label("La sobreviviente dio su consentimiento").check()
        self.click_and_wait(box.get_by_role("button", name="Enviar remisión"))
        return ReferralSheetPage(self.page)

    def open_form_with_keyboard(self, section: str) -> Any:
        """Tab to a section's form link and press Enter: the form's own page. The case
        page is long, so the Tab limit is too."""
        self.tab_to(f'main a[href$="/forms/{section}"]', limit=200)
        with self.page.expect_navigation():
            self.page.keyboard.press("Enter")
        return self.section(section)

    def referral_rows(self) -> list[str]:
        return self.section("remisiones").locator("tbody tr").all_inner_texts()

    def start_risk_assessment(self) -> RiskPage:
        self.click_and_wait(
            self.section("riesgo").get_by_role("link", name="Nueva valoración de riesgo")
        )
        return RiskPage(self.page)

    def risk_lines(self) -> list[str]:
        return self.section("riesgo").locator("p").all_inner_texts()

    def schedule_follow_up(self, due_on: str, channel: str) -> None:
        box = self.open_form("seguimiento", "Agendar seguimiento")
        box.get_by_label("Fecha prevista").fill(due_on)
        box.get_by_label("Medio").select_option(label=channel)
        self.click_and_wait(box.get_by_role("button", name="Agendar", exact=True))

    def record_follow_up(self, outcome: str, note: str) -> None:
        item = self.section("seguimiento").locator("article.item").first
        item.get_by_label("Resultado").select_option(label=outcome)
        item.get_by_label("Observación").fill(note)
        self.click_and_wait(item.get_by_role("button", name="Registrar"))

    def follow_ups(self) -> list[str]:
        return self.section("seguimiento").locator("article.item").all_inner_texts()

    def timeline(self) -> list[str]:
        return self.section("historial").locator("li").all_inner_texts()


class ReferralSheetPage(BasePage):
    """The printable sheet shown once a referral is sent."""

    def facts(self) -> str:
        return self.page.locator(".slip dl").inner_text()

    def back_to_case(self) -> CasePage:
        self.click_and_wait(self.page.get_by_role("link", name="Volver al expediente"))
        return CasePage(self.page)


class ReferralInboxPage(BasePage):
    path = "/referrals"

    def row(self, case_number: str) -> Any:
        return self.page.locator("main table tbody tr", has_text=case_number)

    def status(self, case_number: str) -> str:
        return self.row(case_number).locator("td").nth(6).inner_text()

    def act(self, case_number: str, action: str, note: str | None = None) -> None:
        """Press a move's button in the row of the case, writing its note first if asked."""
        form = self.row(case_number).locator(
            "form", has=self.page.get_by_role("button", name=action)
        )
        if note is not None:
            form.locator("input[name=note]").fill(note)
        self.click_and_wait(form.get_by_role("button", name=action))

    def open_case(self, case_number: str) -> CasePage:
        self.click_and_wait(self.row(case_number).get_by_role("link", name=case_number))
        return CasePage(self.page)


class RiskPage(BasePage):
    def answer(self, **answers: str) -> RiskPage:
        """answer(q1="yes", q2="no"): the radio of each question; nothing comes marked."""
        for name, value in answers.items():
            self.page.locator(f"input[name={name}][value={value}]").check()
        return self

    def answer_the_rest(self, value: str = "unknown") -> RiskPage:
        """Every question still unanswered gets `value` ("unknown": No sabe, chosen)."""
        for number in range(1, 25):
            group = self.page.locator(f"input[name=q{number}]")
            if not any(group.nth(i).is_checked() for i in range(group.count())):
                self.page.locator(f"input[name=q{number}][value={value}]").check()
        return self

    def save_refused(self) -> RiskPage:
        """Save a form the server sends back (unanswered questions): still this page."""
        self.click_and_wait(self.page.get_by_role("button", name="Guardar valoración"))
        return self

    def errors(self) -> str:
        box = self.page.locator(".error-box")
        return box.inner_text() if box.count() else ""

    def answer_question(self, question: str, answer: str) -> RiskPage:
        """By the radio's accessible name, as a screen reader says it: question, then answer."""
        self.page.get_by_role("radio", name=f"{question} {answer}", exact=True).check()
        return self

    def save(self) -> CasePage:
        self.click_and_wait(self.page.get_by_role("button", name="Guardar valoración"))
        return CasePage(self.page)


class AuditPage(BasePage):
    path = "/audit"

    def events(self) -> list[list[str]]:
        """The event table, one list of cell texts per row."""
        table = self.page.locator("section.card", has_text="Eventos").locator("tbody tr")
        return [row.locator("td").all_inner_texts() for row in table.all()]

    def filter(self, **values: str) -> None:
        labels = {"username": "#f-user", "case_id": "#f-case", "action": "#f-action"}
        for name, value in values.items():
            self.page.locator(labels[name]).fill(value)
        self.click_and_wait(self.page.get_by_role("button", name="Filtrar"))

    def non_party_reads(self) -> list[str]:
        card = self.page.locator("section.card", has_text="Lecturas por institución que no")
        return card.locator("li").all_inner_texts()


class AdminUsersPage(BasePage):
    path = "/admin/users"

    def usernames(self) -> list[str]:
        return self.page.locator("main > table tbody tr td:first-child").all_inner_texts()


# --- a caseworker's day (issue 11): the task list, correcting her record, reassessing ----


class TaskListPage(DashboardPage):
    """The dashboard's «Tareas de hoy»: one row per task, its kind and the case's number."""

    def card_text(self) -> str:
        return self.page.locator("section#tareas").inner_text()

    def row(self, task: str, case_number: str) -> Any:
        rows = self.page.locator("section#tareas tbody tr")
        return rows.filter(has_text=task).filter(has_text=case_number)

    def cells(self, task: str, case_number: str) -> list[list[str]]:
        """The cells of each row of that task on that case (one row, or none)."""
        return [row.locator("td").all_inner_texts() for row in self.row(task, case_number).all()]

    def open_task(self, task: str, case_number: str) -> CaseRecordPage:
        """Click the case number in the task's row: the case opens at the section to act on."""
        with self.page.expect_navigation():
            self.row(task, case_number).get_by_role("link", name=case_number).click()
        return CaseRecordPage(self.page)


class CaseRecordPage(CasePage):
    """The case page's correction form and the record's history of corrections."""

    def fact(self, label: str) -> str:
        """What her identity card shows beside a label ("Teléfono")."""
        return self.section("identidad").locator(f"dt:text-is('{label}') + dd").inner_text()

    def correct_survivor(self, changes: dict[str, str], reason: str) -> None:
        """Open «Corregir datos», change the fields named by their labels, say why, save."""
        self.click_and_wait(self.page.locator("#corregir-datos").get_by_role("link"))
        box = self.section("identidad")
        for label, value in changes.items():
            box.get_by_label(label, exact=True).fill(value)
        box.get_by_label("Motivo de la corrección").fill(reason)
        with self.page.expect_navigation():
            box.get_by_role("button", name="Guardar corrección").click()

    def corrections(self) -> list[str]:
        """Each correction listed under «Correcciones»: who, why, and old → new."""
        return self.section("historial").locator("article.item").all_inner_texts()

    def follow_up_forms(self) -> int:
        """How many follow-ups still wait for their outcome (each keeps its form)."""
        return self.section("seguimiento").locator("form.inline-form").count()


class RiskReassessmentPage(RiskPage):
    """The risk form on a case whose level is high: lowering it asks why."""

    def lowering_reason(self, reason: str) -> RiskReassessmentPage:
        self.page.get_by_label("Si el riesgo era alto y ahora baja: por qué").fill(reason)
        return self

    def lowering_error(self) -> str:
        return self.page.locator("#lowering_reason-error").inner_text()


def _axe_problems(page: Any) -> list[str]:
    # Evaluated through the DevTools protocol, which the page's CSP does not govern;
    # injecting a <script> would be refused by it, as it should be.
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE.read_text())
    found = page.evaluate(
        """(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}})
             .then(r => r.violations.map(v => ({id: v.id, impact: v.impact,
               nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))})))""",
        AXE_TAGS,
    )
    return [
        f"{v['id']} ({v['impact']}): {', '.join(v['nodes'])}"
        for v in found
        if v["impact"] in AXE_FAILING
    ]
