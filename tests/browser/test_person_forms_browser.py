"""The case page's forms about the people around her, and about reaching her, as she uses
them in Chromium: her contact rules, her access needs, the aggressor, her children, the
complaint and its pathway, and handing over the lead. Each opens from its link, comes
back in place with the Spanish error in view and what was typed, saves nothing when
refused, shows what it saved on the case page, and passes axe-core.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.pages import CasePage, LoginPage
from tests.browser.test_case_forms import IN_VIEW, api_case

pytestmark = pytest.mark.browser


class PersonForms(CasePage):
    """A form of the case page, opened on its own page or come back refused in place."""

    def box(self, anchor: str) -> Any:
        """The form's section on its own page, or its <details> on the case page."""
        return self.page.locator(f"#{anchor}")

    def open_by_link(self, anchor: str, link: str) -> Any:
        """Follow the form's link, in its section or in the paragraph of its own id."""
        self.click_and_wait(self.box(anchor).get_by_role("link", name=link))
        return self.box(anchor)

    def save(self, anchor: str, button: str) -> None:
        self.click_and_wait(self.box(anchor).get_by_role("button", name=button))

    def shown_in_view(self, selector: str) -> bool:
        target = self.page.locator(selector)
        return target.is_visible() and bool(target.evaluate(IN_VIEW))

    def focused_is(self, selector: str) -> bool:
        """Whether the element has the focus (forms.js puts it on the errors)."""
        self.page.wait_for_load_state("load")  # forms.js is deferred
        return bool(self.page.locator(selector).evaluate("el => el === document.activeElement"))

    def title(self) -> str:
        return str(self.page.title())

    def value(self, selector: str) -> str:
        return str(self.page.locator(selector).input_value())

    def assert_accessible(self) -> None:
        """No critical or serious axe-core violation, and one element per id (each
        label and error link finds its field)."""
        assert not self.duplicate_ids(), f"duplicate ids {self.duplicate_ids()}"
        problems = self.accessibility_problems()
        assert not problems, "axe-core found " + "; ".join(problems)

    def no_form_errors(self) -> bool:
        return self.page.locator(".error-box").count() == 0


def worker_on_case(browsing: Any, make_account: Any, live_server: Any) -> tuple[PersonForms, str]:
    """A PNC agent signed in, on the page of a case her unit opened (the lead)."""
    pnc = make_account("pnc_agent", "PNC-SON", "Agente Rosa Pérez")
    case_id = api_case(live_server, pnc.username)
    page = browsing.new_page()
    LoginPage(page).log_in(pnc)
    case = PersonForms(page)
    case.open_case(case_id)
    return case, case_id


def test_contact_rules_open_by_keyboard_refuse_call_times_without_calls_then_save(
    browsing, make_account, live_server
):
    case, case_id = worker_on_case(browsing, make_account, live_server)
    assert (
        "no hay reglas de contacto registradas"
        in case.page.locator("#reglas-contacto").inner_text()
    )

    box = case.open_form_with_keyboard("cambiar-contacto")
    assert case.url_path == f"/cases/{case_id}/forms/cambiar-contacto"
    case.assert_accessible()
    box.get_by_label("¿Se la puede llamar?").select_option(label="No")
    box.get_by_label("Cuándo se la puede llamar").fill("lunes a viernes de 9 a 12")
    box.get_by_label("Palabra clave").fill("Mango-Violeta")
    case.save("cambiar-contacto", "Guardar reglas de contacto")

    assert case.url_path == f"/cases/{case_id}#cambiar-contacto"
    assert case.title().startswith("Error:")
    assert case.shown_in_view("#contacto-errores")
    assert case.focused_is("#contacto-errores")
    message = "Si no se la puede llamar, no escriba horarios de llamada."
    assert message in case.box("contacto-errores").inner_text()
    assert case.page.locator("#sc-call_times-error").inner_text() == message
    assert case.value("#sc-call_times") == "lunes a viernes de 9 a 12"
    assert case.value("#sc-code_word") == "Mango-Violeta"
    assert case.value("#sc-may_call") == "no"
    banner = case.page.locator("#reglas-contacto").inner_text()
    assert "no hay reglas de contacto registradas" in banner  # nothing saved
    case.assert_accessible()  # the refused form, in place, with its errors

    box = case.box("cambiar-contacto")
    box.get_by_label("Cuándo se la puede llamar").fill("")
    box.get_by_label("¿Se le pueden dejar mensajes de voz?").select_option(label="No")
    case.save("cambiar-contacto", "Guardar reglas de contacto")
    assert case.url_path == f"/cases/{case_id}#cambiar-contacto"
    assert "Reglas de contacto guardadas" in case.flash()
    banner = case.page.locator("#reglas-contacto").inner_text()
    assert "NO LLAMAR" in banner and "no dejar mensajes" in banner
    assert "palabra clave: Mango-Violeta" in banner
    assert case.no_form_errors()


def test_access_needs_refuse_another_language_unnamed_then_show_the_interpreter(
    browsing, make_account, live_server
):
    case, case_id = worker_on_case(browsing, make_account, live_server)
    assert "no registradas." in case.page.locator("#necesidades").inner_text()

    box = case.open_by_link("cambiar-necesidades", "Cambiar las necesidades de acceso")
    assert case.url_path == f"/cases/{case_id}/forms/cambiar-necesidades"
    case.assert_accessible()
    box.get_by_label("Idioma en que prefiere ser atendida").select_option(label="Otro idioma")
    box.get_by_label("¿Necesita intérprete?").select_option(label="Sí")
    box.locator("#an-disability-group").get_by_label("Visual", exact=True).check()
    box.get_by_label("Ajustes razonables que necesita").fill("Leerle los documentos en voz alta")
    case.save("cambiar-necesidades", "Guardar necesidades de acceso")

    assert case.url_path == f"/cases/{case_id}#cambiar-necesidades"
    assert case.title().startswith("Error:")
    assert case.shown_in_view("#necesidades-errores")
    assert case.focused_is("#necesidades-errores")
    assert "Escriba qué idioma habla." in case.box("necesidades-errores").inner_text()
    assert case.page.locator("#an-language_other-error").is_visible()
    assert case.value("#an-language") == "other"
    assert case.value("#an-interpreter_needed") == "yes"
    assert case.value("#an-adjustments") == "Leerle los documentos en voz alta"
    assert case.box("cambiar-necesidades").get_by_label("Visual", exact=True).is_checked()
    assert "no registradas." in case.page.locator("#necesidades").inner_text()
    case.assert_accessible()

    case.box("cambiar-necesidades").get_by_label("Si es otro idioma, cuál").fill("Q'eqchi'")
    case.save("cambiar-necesidades", "Guardar necesidades de acceso")
    assert "Necesidades de acceso guardadas" in case.flash()
    needs = case.page.locator("#necesidades").inner_text()
    assert "Idioma: Otro idioma: Q'eqchi'" in needs
    assert "NECESITA INTÉRPRETE" in needs and "Discapacidad: Visual" in needs
    assert case.no_form_errors()


def test_an_aggressor_without_relationship_comes_back_as_typed_then_is_recorded(
    browsing, make_account, live_server
):
    case, case_id = worker_on_case(browsing, make_account, live_server)
    assert "Sin agresores registrados." in case.section("agresores").inner_text()

    box = case.open_form_with_keyboard("agresores")
    assert case.url_path == f"/cases/{case_id}/forms/agresores"
    case.assert_accessible()
    box.get_by_label("Nombres del agresor").fill("Carlos Antonio")
    box.get_by_label("Alias").fill("El Flaco")
    box.get_by_label("Tiene arma de fuego").select_option(label="Sí")
    case.save("agresores", "Guardar agresor")

    assert case.url_path == f"/cases/{case_id}#agresores"
    assert case.title().startswith("Error:")
    assert case.shown_in_view("#agresor-errores")
    assert case.focused_is("#agresor-errores")
    summary = case.box("agresor-errores").inner_text()
    assert "Relación con ella" in summary
    assert case.page.locator("#ag-relationship-error").is_visible()
    assert case.value("#ag-given_names") == "Carlos Antonio"
    assert case.value("#ag-alias") == "El Flaco"
    assert case.value("#ag-has_firearm") == "yes"
    assert case.section("agresores").locator("article.item").count() == 0
    case.assert_accessible()

    box = case.section("agresores")
    box.get_by_label("Relación con ella").select_option(label="Expareja")
    case.save("agresores", "Guardar agresor")
    assert "Agresor registrado." in case.flash()
    record = case.section("agresores").locator("article.item")
    assert record.count() == 1
    text = record.inner_text()
    assert "Carlos Antonio («El Flaco»)" in text and "Expareja" in text
    assert case.no_form_errors()


def test_a_child_without_age_comes_back_as_typed_then_shows_her_age(
    browsing, make_account, live_server
):
    case, case_id = worker_on_case(browsing, make_account, live_server)
    box = case.open_by_link("menores", "Registrar una hija, hijo o persona a cargo")
    assert case.url_path == f"/cases/{case_id}/forms/menores"
    case.assert_accessible()
    box.get_by_label("Nombres", exact=True).fill("Sofía")
    box.get_by_label("Relación con ella").select_option(label="Hija")
    box.locator("#lives_with_her-group").get_by_label("Sí", exact=True).check()
    box.locator("#witnessed_violence-group").get_by_label("Sí", exact=True).check()
    case.save("menores", "Guardar")

    assert case.url_path == f"/cases/{case_id}#menores"
    assert case.title().startswith("Error:")
    assert case.shown_in_view("#menores-errores")
    assert case.focused_is("#menores-errores")
    assert "Indique el año de nacimiento o la edad." in case.box("menores-errores").inner_text()
    assert case.page.locator("#age-error").is_visible()
    assert case.value("#given_names") == "Sofía"
    assert case.value("#relationship") == "daughter"
    assert case.section("menores").locator("#lives_with_her-1").is_checked()
    assert case.section("menores").locator("#witnessed_violence-1").is_checked()
    assert case.section("menores").locator("article.item").count() == 0
    case.assert_accessible()

    case.section("menores").get_by_label("Edad (años)").fill("7")
    case.save("menores", "Guardar")
    assert "Hijo, hija o persona a cargo registrada." in case.flash()
    child = case.section("menores").locator("article.item")
    assert child.count() == 1
    assert "Sofía · Hija · 7 años aprox." in child.inner_text()
    assert case.page.locator("#menores-con-ella").inner_text() == "Viven con ella: 1 (0-11: 1)"
    assert "aviso obligatorio a protección de la niñez" in child.inner_text()
    assert case.no_form_errors()


def test_a_complaint_without_number_is_refused_then_its_pathway_takes_a_step(
    browsing, make_account, live_server
):
    case, case_id = worker_on_case(browsing, make_account, live_server)
    assert "Sin denuncia registrada." in case.section("denuncia").inner_text()

    box = case.open_form("denuncia", "Registrar denuncia")
    assert case.url_path == f"/cases/{case_id}/forms/denuncia"
    case.assert_accessible()
    box.get_by_label("Desea que se remita a la Fiscalía (FGR)").check()
    box.get_by_label("Juzgado").fill("Juzgado Especializado de Sonsonate")
    case.save("denuncia", "Guardar denuncia")

    assert case.url_path == f"/cases/{case_id}#denuncia"
    assert case.title().startswith("Error:")
    assert case.shown_in_view("#denuncia-errores")
    assert case.focused_is("#denuncia-errores")
    assert "Número de denuncia" in case.box("denuncia-errores").inner_text()
    assert case.page.locator("#number-error").is_visible()
    assert case.page.locator("#forward_to_prosecutor").is_checked()
    assert case.value("#court") == "Juzgado Especializado de Sonsonate"
    assert "Sin denuncia registrada." in case.section("denuncia").inner_text()
    case.assert_accessible()

    case.section("denuncia").get_by_label("Número de denuncia").fill("DEN-2026-0042")
    case.save("denuncia", "Guardar denuncia")
    assert "Denuncia registrada." in case.flash()
    complaint = case.section("denuncia").locator("article.item")
    assert "Denuncia DEN-2026-0042" in complaint.inner_text()
    pathway = complaint.locator(".pathway")
    assert "Ruta judicial: Recibida" in pathway.inner_text()
    case.assert_accessible()

    # The pathway's step, dated in the future by mistake: refused, the date kept, no move.
    pathway.get_by_label("Fecha del paso").fill("2099-01-15")
    case.click_and_wait(pathway.get_by_role("button", name="Registrar paso"))
    pathway = case.section("denuncia").locator(".pathway")
    error = pathway.get_by_text("La fecha no puede ser futura.")
    assert case.title().startswith("Error:")
    assert error.is_visible() and bool(error.evaluate(IN_VIEW))
    assert case.focused_is(f"#{error.get_attribute('id')}")
    date = pathway.get_by_label("Fecha del paso")
    assert date.get_attribute("aria-invalid") == "true"
    assert error.get_attribute("id") in (date.get_attribute("aria-describedby") or "")
    assert pathway.get_by_label("Fecha del paso").input_value() == "2099-01-15"
    assert "Ruta judicial: Recibida" in pathway.inner_text()
    case.assert_accessible()

    pathway.get_by_label("Fecha del paso").fill("")
    case.click_and_wait(pathway.get_by_role("button", name="Registrar paso"))
    assert "Paso de la denuncia registrado." in case.flash()
    pathway = case.section("denuncia").locator(".pathway")
    assert "Ruta judicial: Remitida a la Fiscalía" in pathway.inner_text()
    assert "Remitir a la Fiscalía" in pathway.locator("ol.history").inner_text()


def test_handing_over_the_lead_without_a_reason_keeps_the_note_then_is_asked(
    browsing, make_account, live_server
):
    case, case_id = worker_on_case(browsing, make_account, live_server)
    case.open_by_link("coordinacion", "Traspasar la coordinación")
    assert case.url_path == f"/cases/{case_id}/transfer"
    case.assert_accessible()
    target = case.page.get_by_label("Institución que coordinará")
    chosen = target.locator("option").nth(1).inner_text()
    target.select_option(label=chosen)
    case.page.get_by_label("Nota para el expediente (confidencial)").fill("Se mudó a San Miguel")
    case.click_and_wait(case.page.get_by_role("button", name="Pedir el traspaso"))

    assert case.url_path == f"/cases/{case_id}/transfer"
    assert case.title().startswith("Error:")
    assert case.shown_in_view(".error-box")
    assert case.focused_is(".error-box")
    assert "Elija el motivo del traspaso." in case.page.locator(".error-box").inner_text()
    assert case.page.locator("#t-reason-error").is_visible()
    assert target.locator("option:checked").inner_text() == chosen
    assert case.value("#t-note") == "Se mudó a San Miguel"
    case.assert_accessible()

    case.page.get_by_label("Ella se mudó").check()
    case.click_and_wait(case.page.get_by_role("button", name="Pedir el traspaso"))
    assert case.url_path == f"/cases/{case_id}#coordinacion"
    assert "Se pidió el traspaso de la coordinación" in case.flash()
    number = case.number()
    case.open("/referrals/transfers")
    # The case page says no more than the flash; the outbox lists it, once: the refused
    # request left nothing behind.
    sent = case.page.locator("section", has_text="Enviados").locator("tbody tr", has_text=number)
    assert sent.count() == 1
    row = sent.inner_text()
    code = chosen.rsplit("(", 1)[-1].rstrip(")")  # "Name (CODE)": the rows show codes
    assert code in row
    assert "Ella se mudó" in row and "Pendiente" in row
