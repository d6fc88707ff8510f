"""The Sonsonate demo network (DOMAIN.md): municipalities, services, institutions, users."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.auth.models import Institution, Municipality, User
from app.auth.service import create_user
from app.cases.legal_models import MeasureType
from app.common import DbSession
from app.crypto.keyring import KeyRing
from app.referrals.models import Service

SONSONATE_MUNICIPALITIES = (
    "Acajutla",
    "Armenia",
    "Caluco",
    "Cuisnahuat",
    "Izalco",
    "Juayúa",
    "Nahuizalco",
    "Nahulingo",
    "Salcoatitán",
    "San Antonio del Monte",
    "San Julián",
    "Santa Catarina Masahuat",
    "Santa Isabel Ishuatán",
    "Santo Domingo de Guzmán",
    "Sonsonate",
    "Sonzacate",
)

SERVICES = {
    "medical": ("Atención médica", "Medical care"),
    "forensic_exam": ("Peritaje forense", "Forensic examination"),
    "psychological": ("Atención psicológica", "Psychological care"),
    "legal_aid": ("Asesoría jurídica", "Legal aid"),
    "police_complaint": ("Denuncia policial", "Police complaint"),
    "prosecution": ("Acción fiscal", "Prosecution"),
    "protection_measures": ("Medidas de protección", "Protection measures"),
    "shelter": ("Albergue", "Shelter"),
    "social_support": ("Apoyo social", "Social support"),
    "economic_empowerment": ("Autonomía económica", "Economic empowerment"),
    "child_protection": ("Protección de la niñez", "Child protection"),
    "other": ("Otro", "Other"),
}

MEASURE_TYPES = {
    "stop_harassment": "Abstenerse de hostigar, intimidar o maltratar a la víctima y su familia",
    "others_refrain": "Orden a otras personas involucradas de abstenerse de actos de violencia",
    "no_threats": "Prohibición de amenazar a la víctima en público o en privado",
    "no_alcohol_drugs": "Prohibición de consumir alcohol o drogas",
    "leave_home": "Abandonar la vivienda que comparte con la víctima",
    "keep_away": "Prohibición de acercarse a la vivienda, trabajo o centro de estudio",
    "weapons_seized": "Decomiso de armas y suspensión de licencia",
    "custody_support": "Cuidado personal provisional, régimen de visitas y cuota alimenticia",
}

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
    ("RED-SON", "Red Interinstitucional de Atención de Sonsonate", "coordination", "Sonsonate"),
    ("SYS", "Administración del sistema", "system", "Sonsonate"),
)

# Emergency services keep 24-hour hours; offices keep office hours.
ALL_DAY_KINDS = {"pnc_family_unit", "health_unit", "forensic"}

DEMO_USERS = (
    ("agente.pnc", "PNC-SON", "pnc_agent", "Agente PNC (demo)"),
    ("salud.son", "US-SON", "health_staff", "Personal de salud (demo)"),
    ("mujer.son", "UMM-SON", "womens_office", "Unidad de la Mujer (demo)"),
    ("supervisora", "RED-SON", "supervisor", "Supervisora (demo)"),
    ("admin", "SYS", "admin", "Administración (demo)"),
)


@dataclass(frozen=True)
class DemoLogin:
    username: str
    role: str
    institution: str
    totp_secret: str | None


def municipality_code(name: str) -> str:
    from app.crypto.blind_index import normalise_name

    return normalise_name(name).replace(" ", "_")


def _missing(session: DbSession, column: Any, wanted: list[str]) -> set[str]:
    present = set(session.execute(select(column).where(column.in_(wanted))).scalars())
    return set(wanted) - present


def load_catalogues(session: DbSession) -> None:
    """Municipalities, services and protection measures; existing rows are left as they are."""
    codes = {municipality_code(name): name for name in SONSONATE_MUNICIPALITIES}
    for code in _missing(session, Municipality.code, list(codes)):
        session.add(Municipality(code=code, name=codes[code], department="Sonsonate"))
    for code in _missing(session, Service.code, list(SERVICES)):
        name_es, name_en = SERVICES[code]
        session.add(Service(code=code, name_es=name_es, name_en=name_en))
    for code in _missing(session, MeasureType.code, list(MEASURE_TYPES)):
        session.add(
            MeasureType(code=code, name_es=MEASURE_TYPES[code], name_en=MEASURE_TYPES[code])
        )
    session.flush()


def load_directory(session: DbSession) -> None:
    """The catalogues and the institutions of the Sonsonate network."""
    load_catalogues(session)
    missing = _missing(session, Institution.code, [row[0] for row in INSTITUTIONS])
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
