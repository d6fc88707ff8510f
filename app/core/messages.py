"""Spanish wording for marshmallow's own validation messages.

Ruta speaks Spanish first, on the pages and in the API's field errors alike; the
library's defaults are English, so `create_app` replaces them once, explicitly. Each is
translated when marshmallow formats it, in the language of the request (`later`): the
pages in English say them in English, the API (Spanish) keeps its Spanish.
"""

from __future__ import annotations

from marshmallow import fields, validate

from app.core.i18n import N_, later


def use_spanish_messages() -> None:
    fields.Field.default_error_messages.update(
        required=later(N_("Este dato es obligatorio.")),
        null=later(N_("Este dato no puede quedar vacío.")),
        validator_failed=later(N_("Valor no válido.")),
    )
    fields.String.default_error_messages.update(invalid=later(N_("Debe ser texto.")))
    fields.Boolean.default_error_messages.update(
        invalid=later(N_("Debe ser sí o no (true/false)."))
    )
    fields.Integer.default_error_messages.update(invalid=later(N_("Debe ser un número entero.")))
    fields.Number.default_error_messages.update(invalid=later(N_("Debe ser un número.")))
    fields.Date.default_error_messages.update(
        invalid=later(N_("Fecha no válida; use AAAA-MM-DD.")),
        format=later(N_("Fecha no válida; use AAAA-MM-DD.")),
    )
    fields.DateTime.default_error_messages.update(
        invalid=later(N_("Fecha y hora no válidas (ISO 8601)."))
    )
    fields.UUID.default_error_messages.update(invalid_uuid=later(N_("Identificador no válido.")))
    fields.List.default_error_messages.update(invalid=later(N_("Debe ser una lista.")))
    fields.Dict.default_error_messages.update(invalid=later(N_("Debe ser un objeto.")))
    fields.Nested.default_error_messages.update(type=later(N_("Datos no válidos.")))
    validate.Length.message_min = later(N_("Debe tener al menos {min} caracteres."))
    validate.Length.message_max = later(N_("Puede tener como máximo {max} caracteres."))
    validate.Length.message_all = later(N_("Debe tener entre {min} y {max} caracteres."))
    validate.Length.message_equal = later(N_("Debe tener {equal} caracteres."))
    # Range formats its messages once in __init__ (with min_op/max_op): the braces of the
    # bounds are doubled so they survive that first format.
    validate.Range.message_min = later(N_("Debe ser al menos {{min}}."))
    validate.Range.message_max = later(N_("Debe ser como máximo {{max}}."))
    validate.Range.message_all = later(N_("Debe estar entre {{min}} y {{max}}."))
    validate.OneOf.default_message = later(N_("Valor no reconocido."))
