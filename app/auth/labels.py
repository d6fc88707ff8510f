"""The roles as people call them, in the page's language (lazy: read when shown)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

ROLE_LABELS = {
    "pnc_agent": _l("Agente PNC"),
    "health_staff": _l("Personal de salud"),
    "womens_office": _l("Unidad de la Mujer"),
    "prosecutor_staff": _l("Fiscalía"),
    "court_staff": _l("Juzgado"),
    "legal_aid_staff": _l("Procuraduría o asistencia legal"),
    "shelter_staff": _l("Casa de acogida"),
    "supervisor": _l("Supervisión"),
    "admin": _l("Administración"),
}
