"""The catalogues administrators keep, on the administrators' blueprint: institutions,
services, measure types and the districts' other names. Each view parses its form, calls
one function of `app.directory.admin` (which checks, audits and forgets the cached
choice lists) and renders the form again with the messages, or redirects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from app.auth.caller import Caller
from app.core.db import DbSession
from app.crypto.service import get_keyring
from app.directory import admin as catalogues
from app.directory import service as directory
from app.directory.models import District, Institution
from app.directory.territory import ALIAS_SEPARATOR
from app.extensions import db
from app.web.admin import bp
from app.web.admin_forms import (
    AliasesForm,
    EntryForm,
    InstitutionForm,
    NewEntryForm,
    NewInstitutionForm,
)
from app.web.formtools import attempt, web_caller

T = TypeVar("T")


@bp.get("/institutions")
def institutions() -> str:
    listing = directory.all_institutions(db.session)
    return render_template("admin/institutions.html", institutions=listing)


def _service_checks() -> list[tuple[str, str]]:
    return [(code, _(name)) for code, name in catalogues.all_service_choices(db.session)]


Page = Response | tuple[str, int]


@bp.route("/institutions/new", methods=["GET", "POST"])
def new_institution() -> Page:
    form = NewInstitutionForm()
    form.municipality.choices = [("", "—"), *directory.municipality_choices(db.session)]
    form.services.choices = _service_checks()
    if not form.is_submitted():
        return render_template("admin/new_institution.html", form=form, problems=[]), 200
    new = catalogues.NewInstitution(
        code=form.code.data or "",
        name=form.name.data or "",
        kind=form.kind.data or "",
        municipality=form.municipality.data or "",
        address=form.address.data,
        phone=form.phone.data,
        hours=form.hours.data,
        service_codes=list(form.services.data or []),
    )
    made, problems = _attempt(form, lambda: catalogues.create_institution(*_writer(), new))
    if made is None:
        return render_template("admin/new_institution.html", form=form, problems=problems), 422
    flash(_("Institución creada: %(code)s.", code=made.code), "info")
    return redirect(url_for("admin.institutions"))


@bp.route("/institutions/<int:institution_id>", methods=["GET", "POST"])
def edit_institution(institution_id: int) -> Page:
    institution = directory.get_institution(db.session, institution_id)
    form = InstitutionForm(obj=None if request.method == "POST" else institution)
    form.services.choices = _service_checks()
    if not form.is_submitted():
        form.services.data = [s.code for s in institution.services]
        return _institution_page(form, institution, [], 200)
    change = catalogues.InstitutionChange(
        name=form.name.data or "",
        address=form.address.data,
        phone=form.phone.data,
        hours=form.hours.data,
        active=bool(form.active.data),
        service_codes=list(form.services.data or []),
    )
    done, problems = _attempt(
        form, lambda: catalogues.change_institution(*_writer(), institution_id, change)
    )
    if done is None:
        return _institution_page(form, institution, problems, 422)
    flash(_("Institución actualizada."), "info")
    return redirect(url_for("admin.institutions"))


def _institution_page(
    form: InstitutionForm, institution: Institution, problems: list[str], status: int
) -> tuple[str, int]:
    page = render_template(
        "admin/institution.html", form=form, institution=institution, problems=problems
    )
    return page, status


def _writer() -> tuple[DbSession, bytes, Caller]:
    return db.session, get_keyring().audit_key, web_caller()


def _attempt(form: FlaskForm, action: Callable[[], T]) -> tuple[T | None, list[str]]:
    """The service's answer, or None with its messages beside their fields."""
    if not form.validate():
        return None, []
    return attempt(form, {}, action)


# ---- services and measure types -------------------------------------------------------


@bp.route("/services", methods=["GET", "POST"])
def services() -> Page:
    form = NewEntryForm()
    if form.is_submitted():
        entry = _new_entry(form)
        made, problems = _attempt(form, lambda: catalogues.create_service(*_writer(), entry))
        if made is not None:
            flash(_("Servicio creado: %(code)s.", code=made.code), "info")
            return redirect(url_for("admin.services"))
        return _services_page(form, problems, 422)
    return _services_page(form, [], 200)


def _services_page(form: NewEntryForm, problems: list[str], status: int) -> tuple[str, int]:
    rows = catalogues.services_with_counts(db.session)
    return render_template("admin/services.html", form=form, rows=rows, problems=problems), status


@bp.route("/services/<service_code>", methods=["GET", "POST"])
def edit_service(service_code: str) -> Page:
    service = catalogues.get_service(db.session, service_code)
    form = EntryForm(obj=None if request.method == "POST" else service)
    if form.is_submitted():
        entry = _entry(form)
        done, problems = _attempt(
            form, lambda: catalogues.change_service(*_writer(), service_code, entry)
        )
        if done is not None:
            flash(_("Servicio actualizado."), "info")
            return redirect(url_for("admin.services"))
        return _entry_page(form, service, "services", problems, 422)
    return _entry_page(form, service, "services", [], 200)


@bp.route("/measures", methods=["GET", "POST"])
def measures() -> Page:
    form = NewEntryForm()
    if form.is_submitted():
        entry = _new_entry(form)
        made, problems = _attempt(form, lambda: catalogues.create_measure_type(*_writer(), entry))
        if made is not None:
            flash(_("Medida creada: %(code)s.", code=made.code), "info")
            return redirect(url_for("admin.measures"))
        return _measures_page(form, problems, 422)
    return _measures_page(form, [], 200)


def _measures_page(form: NewEntryForm, problems: list[str], status: int) -> tuple[str, int]:
    rows = catalogues.all_measure_types(db.session)
    return render_template("admin/measures.html", form=form, rows=rows, problems=problems), status


@bp.route("/measures/<measure_code>", methods=["GET", "POST"])
def edit_measure(measure_code: str) -> Page:
    measure = catalogues.get_measure_type(db.session, measure_code)
    form = EntryForm(obj=None if request.method == "POST" else measure)
    if form.is_submitted():
        entry = _entry(form)
        done, problems = _attempt(
            form, lambda: catalogues.change_measure_type(*_writer(), measure_code, entry)
        )
        if done is not None:
            flash(_("Medida actualizada."), "info")
            return redirect(url_for("admin.measures"))
        return _entry_page(form, measure, "measures", problems, 422)
    return _entry_page(form, measure, "measures", [], 200)


def _new_entry(form: NewEntryForm) -> catalogues.Entry:
    return catalogues.Entry(
        code=form.code.data or "", name_es=form.name_es.data or "", name_en=form.name_en.data or ""
    )


def _entry(form: EntryForm) -> catalogues.Entry:
    return catalogues.Entry(
        code="",
        name_es=form.name_es.data or "",
        name_en=form.name_en.data or "",
        active=bool(form.active.data),
    )


def _entry_page(
    form: EntryForm, row: Any, listing: str, problems: list[str], status: int
) -> tuple[str, int]:
    page = render_template(
        "admin/entry.html", form=form, row=row, listing=listing, problems=problems
    )
    return page, status


# ---- the territory -------------------------------------------------------------------


@bp.get("/territory")
def territory() -> str:
    return render_template("admin/territory.html", tree=catalogues.territory_tree(db.session))


@bp.route("/territory/<district_code>", methods=["GET", "POST"])
def edit_district(district_code: str) -> Page:
    district = catalogues.get_district(db.session, district_code)
    form = AliasesForm()
    if form.is_submitted():
        names = (form.aliases.data or "").splitlines()
        done, problems = _attempt(
            form,
            lambda: catalogues.change_district_aliases(*_writer(), district_code, names),
        )
        if done is not None:
            flash(_("Distrito actualizado."), "info")
            return redirect(url_for("admin.territory"))
        return _district_page(form, district, problems, 422)
    form.aliases.data = "\n".join((district.aliases or "").split(ALIAS_SEPARATOR))
    return _district_page(form, district, [], 200)


def _district_page(
    form: AliasesForm, district: District, problems: list[str], status: int
) -> tuple[str, int]:
    page = render_template("admin/district.html", form=form, district=district, problems=problems)
    return page, status
