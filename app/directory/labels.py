"""The kinds of institution as people call them, in the page's language (lazy)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

INSTITUTION_KIND_LABELS = {
    "pnc_family_unit": _l("Policía (unidad de familia)"),
    "health_unit": _l("Unidad de salud"),
    "womens_office": _l("Unidad de la mujer"),
    "prosecutor": _l("Fiscalía"),
    "court": _l("Juzgado"),
    "legal_aid": _l("Asesoría jurídica"),
    "forensic": _l("Medicina legal"),
    "shelter": _l("Albergue"),
    "coordination": _l("Coordinación de la red"),
    "system": _l("Sistema"),
}
