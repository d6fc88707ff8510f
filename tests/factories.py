"""Valid request bodies, built fresh for each test, to vary with keyword overrides."""

from __future__ import annotations

from typing import Any

VALID_DUI = "12345678-4"
OTHER_DUI = "04567891-1"


def survivor(**overrides: Any) -> dict[str, Any]:
    body = {
        "given_names": "María José",
        "family_names": "López Hernández",
        "dui": VALID_DUI,
        "birth_date": "1994-03-15",
        "sex": "F",
        "municipality": "Sonsonate",
        "phone": "7777-1234",
        "address": "Colonia Las Palmeras, pasaje 3, casa 14",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def incident(**overrides: Any) -> dict[str, Any]:
    body = {
        "occurred_on": "2026-10-30",
        "municipality": "Sonsonate",
        "violence_types": ["physical", "psychological"],
        "perpetrator_relationship": "partner",
        "place_type": "home",
        "narrative": "Relato confidencial de la sobreviviente sobre la agresión.",
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


def intake(
    survivor_overrides: dict[str, Any] | None = None,
    incident_overrides: dict[str, Any] | None = None,
    consent: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "survivor": survivor(**(survivor_overrides or {})),
        "incident": incident(**(incident_overrides or {})),
        "consent": consent or {"share_with_network": True, "statistics": True, "police": True},
    }
