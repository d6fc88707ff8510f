"""Spanish wording for marshmallow's own validation messages.

Ruta speaks Spanish first, on the pages and in the API's field errors alike; the
library's defaults are English, so `create_app` replaces them once, explicitly.
"""

from __future__ import annotations

from marshmallow import fields, validate


def use_spanish_messages() -> None:
    fields.Field.default_error_messages.update(
        required="Este dato es obligatorio.",
        null="Este dato no puede quedar vacío.",
        validator_failed="Valor no válido.",
    )
    fields.String.default_error_messages.update(invalid="Debe ser texto.")
    fields.Boolean.default_error_messages.update(invalid="Debe ser sí o no (true/false).")
    fields.Integer.default_error_messages.update(invalid="Debe ser un número entero.")
    fields.Number.default_error_messages.update(invalid="Debe ser un número.")
    fields.Date.default_error_messages.update(
        invalid="Fecha no válida; use AAAA-MM-DD.", format="Fecha no válida; use AAAA-MM-DD."
    )
    fields.DateTime.default_error_messages.update(invalid="Fecha y hora no válidas (ISO 8601).")
    fields.UUID.default_error_messages.update(invalid_uuid="Identificador no válido.")
    fields.List.default_error_messages.update(invalid="Debe ser una lista.")
    fields.Dict.default_error_messages.update(invalid="Debe ser un objeto.")
    fields.Nested.default_error_messages.update(type="Datos no válidos.")
    validate.Length.message_min = "Debe tener al menos {min} caracteres."
    validate.Length.message_max = "Puede tener como máximo {max} caracteres."
    validate.Length.message_all = "Debe tener entre {min} y {max} caracteres."
    validate.Length.message_equal = "Debe tener {equal} caracteres."
    # Range formats its messages once in __init__ (with min_op/max_op): the braces of the
    # bounds are doubled so they survive that first format.
    validate.Range.message_min = "Debe ser al menos {{min}}."
    validate.Range.message_max = "Debe ser como máximo {{max}}."
    validate.Range.message_all = "Debe estar entre {{min}} y {{max}}."
    validate.OneOf.default_message = "Valor no reconocido."
