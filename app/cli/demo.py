"""The Sonsonate demo network (DOMAIN.md): its institutions and one demo user per role,
and the `demo load` command.

Demo data only; the production catalogues it builds on are `app.directory.catalogue`.
A release (`release.sh`) leaves this file out, so a production server has no demo
command; in a checkout, `demo load` refuses a database that already has real accounts."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from app.auth.models import User
from app.auth.service import create_user
from app.cli.commands import write_private
from app.core.db import DbSession
from app.crypto.keyring import KeyRing
from app.crypto.service import get_keyring
from app.directory.catalogue import load_catalogues, missing_codes, municipality_code
from app.directory.models import Institution, Service
from app.extensions import db

demo_cli = AppGroup("demo", help="The Sonsonate demo network.")
DEMO_LOGINS_FILE = "demo-logins.txt"

KIND_SERVICES = {
    "pnc_family_unit": ("police_complaint", "protection_measures"),
    "health_unit": ("medical", "psychological"),
    "forensic": ("forensic_exam",),
    "womens_office": (
        "psychological",
        "legal_aid",
        "social_support",
        "economic_empowerment",
        "shelter",
    ),
    "prosecutor": ("prosecution", "protection_measures"),
    "legal_aid": ("legal_aid", "child_protection"),
    "court": ("protection_measures",),
    "shelter": ("shelter",),
    "coordination": ("other",),
    "system": (),
}

INSTITUTIONS = (
    ("PNC-SON", "PNC — UNIMUJER-ODAC Sonsonate", "pnc_family_unit", "Sonsonate"),
    ("PNC-ACA", "PNC — Unidad de Familia Acajutla", "pnc_family_unit", "Acajutla"),
    ("PNC-SZC", "PNC — Unidad de Familia Sonzacate", "pnc_family_unit", "Sonzacate"),
    ("HOSP-SON", "Hospital Nacional de Sonsonate", "health_unit", "Sonsonate"),
    ("US-SON", "Unidad de Salud Sonsonate", "health_unit", "Sonsonate"),
    ("US-ACA", "Unidad de Salud Acajutla", "health_unit", "Acajutla"),
    ("US-SZC", "Unidad de Salud Sonzacate", "health_unit", "Sonzacate"),
    ("IML-SON", "Medicina Legal Sonsonate", "forensic", "Sonsonate"),
    ("UMM-SON", "Unidad Municipal de la Mujer Sonsonate", "womens_office", "Sonsonate"),
    ("UMM-ACA", "Unidad Municipal de la Mujer Acajutla", "womens_office", "Acajutla"),
    ("UMM-SZC", "Unidad Municipal de la Mujer Sonzacate", "womens_office", "Sonzacate"),
    ("ISDEMU-SON", "ISDEMU Sonsonate", "womens_office", "Sonsonate"),
    ("FGR-SON", "Fiscalía — Unidad de Atención a la Mujer", "prosecutor", "Sonsonate"),
    ("PGR-SON", "Procuraduría — Unidad de Género", "legal_aid", "Sonsonate"),
    ("JUZ-SON", "Juzgado Especializado para una Vida Libre de Violencia", "court", "Sonsonate"),
    ("ALB-SON", "Casa de acogida de la red (demo)", "shelter", "Sonsonate"),
    ("RED-SON", "Red Interinstitucional de Atención de Sonsonate", "coordination", "Sonsonate"),
    ("SYS", "Administración del sistema", "system", "Sonsonate"),
    # A second department, so that numbering, statistics and supervisors' scope by
    # department can be tried: Santa Ana's cases are numbered STA-….
    ("PNC-STA", "PNC — Unidad de Familia Santa Ana (demo)", "pnc_family_unit", "Santa Ana"),
    ("HOSP-STA", "Hospital Nacional de Santa Ana (demo)", "health_unit", "Santa Ana"),
    ("UMM-STA", "Unidad Municipal de la Mujer Santa Ana (demo)", "womens_office", "Santa Ana"),
    (
        "FGR-STA",
        "Fiscalía — Unidad de Atención a la Mujer Santa Ana (demo)",
        "prosecutor",
        "Santa Ana",
    ),
    (
        "JUZ-STA",
        "Juzgado de Santa Ana para una Vida Libre de Violencia (demo)",
        "court",
        "Santa Ana",
    ),
    ("RED-STA", "Red Interinstitucional de Santa Ana (demo)", "coordination", "Santa Ana"),
)

# Emergency services keep 24-hour hours; offices keep office hours.
ALL_DAY_KINDS = {"pnc_family_unit", "health_unit", "forensic"}

DEMO_USERS = (
    ("agente.pnc", "PNC-SON", "pnc_agent", "Agente PNC (demo)"),
    ("salud.son", "US-SON", "health_staff", "Personal de salud (demo)"),
    ("mujer.son", "UMM-SON", "womens_office", "Unidad de la Mujer (demo)"),
    ("fiscal.son", "FGR-SON", "prosecutor_staff", "Fiscalía (demo)"),
    ("juzgado.son", "JUZ-SON", "court_staff", "Juzgado (demo)"),
    ("pgr.son", "PGR-SON", "legal_aid_staff", "Procuraduría (demo)"),
    ("acogida.son", "ALB-SON", "shelter_staff", "Casa de acogida (demo)"),
    ("supervisora", "RED-SON", "supervisor", "Supervisora (demo)"),
    ("admin", "SYS", "admin", "Administración (demo)"),
    ("agente.sta", "PNC-STA", "pnc_agent", "Agente PNC Santa Ana (demo)"),
    ("mujer.sta", "UMM-STA", "womens_office", "Unidad de la Mujer Santa Ana (demo)"),
    ("supervisora.sta", "RED-STA", "supervisor", "Supervisora Santa Ana (demo)"),
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    institution: str
    totp_secret: str | None


def load_directory(session: DbSession) -> None:
    """The catalogues and the institutions of the Sonsonate network."""
    load_catalogues(session)
    missing = missing_codes(session, Institution.code, [row[0] for row in INSTITUTIONS])
    if not missing:
        return
    services = {s.code: s for s in session.execute(select(Service)).scalars()}
    for code, name, kind, municipality in INSTITUTIONS:
        if code not in missing:
            continue
        session.add(
            Institution(
                code=code,
                name=name,
                kind=kind,
                municipality=municipality_code(municipality),
                hours="24 horas" if kind in ALL_DAY_KINDS else "Lunes a viernes, 8:00–16:00",
                services=[services[s] for s in KIND_SERVICES[kind]],
            )
        )
    session.flush()


def load_demo_users(
    session: DbSession, ring: KeyRing, password: str, with_totp: bool
) -> list[DemoLogin]:
    """Creates the demo users that do not exist yet; returns only those it created."""
    created = []
    for username, institution, role, display in DEMO_USERS:
        if session.execute(select(User.id).where(User.username == username)).first():
            continue
        new = create_user(
            session,
            ring,
            username=username,
            institution_code=institution,
            role=role,
            display_name=display,
            password=password,
            with_totp=with_totp,
        )
        created.append(DemoLogin(username, role, institution, new.totp_secret))
    return created


def holds_real_accounts(session: DbSession) -> bool:
    """Accounts, none of them a demo one: a database in real use, which the demo must
    never join (its users share one printed password)."""
    demo_names = [row[0] for row in DEMO_USERS]
    accounts = session.scalar(select(func.count()).select_from(User)) or 0
    demo = session.scalar(select(func.count()).where(User.username.in_(demo_names))) or 0
    return accounts > 0 and demo == 0


@demo_cli.command("load")
def demo_load() -> None:
    """Load the demo network and users (idempotent); prints logins only when it creates them."""
    if holds_real_accounts(db.session):
        raise click.ClickException(
            "this database has real accounts and no demo ones: the demo is never loaded "
            "into a database in use (start from an empty database to try Ruta)"
        )
    load_directory(db.session)
    password = os.environ.get("RUTA_DEMO_PASSWORD") or secrets.token_urlsafe(12)
    created = load_demo_users(
        db.session, get_keyring(), password, with_totp=current_app.config["RUTA_REQUIRE_MFA"]
    )
    db.session.commit()
    if not created:
        click.echo("demo network present; demo users exist already")
        return
    lines = [f"Demo logins (password for all: {password})"]
    lines += [
        f"  {login.username:<12} {login.role:<14} {login.institution:<8} "
        f"TOTP secret: {login.totp_secret or '-'}"
        for login in created
    ]
    text = "\n".join(lines) + "\n"
    # Beside the secret file (instance/ by default), so that a run with its own
    # RUTA_SECRET_FILE, such as a test, never overwrites another instance's logins.
    logins_file = Path(current_app.config["RUTA_SECRET_FILE"]).parent / DEMO_LOGINS_FILE
    write_private(logins_file, text)
    click.echo(text)
