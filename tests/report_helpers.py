"""Seeding the statistics tests through the API, and reading their answers."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient

from tests import factories
from tests.conftest import Person

PERIOD = {"from": "2026-10-01", "to": "2026-10-31"}  # a published period: a whole month


def valid_dui(number: int) -> str:
    """A DUI with a correct check digit (DOMAIN.md), distinct for each number."""
    digits = f"{number:08d}"
    total = sum(int(d) * w for d, w in zip(digits, range(9, 1, -1), strict=True))
    return f"{digits}-{(10 - total % 10) % 10}"


@dataclass
class Seeded:
    """What was sent, to search the exports for it, and the slips of the new cases."""

    case_ids: list[str] = field(default_factory=list)
    secrets: list[str] = field(default_factory=list)
    slips: list[tuple[str, str]] = field(default_factory=list)


def open_cases(
    client: FlaskClient,
    person: Person,
    seeded: Seeded,
    count: int,
    *,
    municipality: str,
    types: list[str],
    occurred_on: str = "2026-10-05",
    statistics: bool = True,
    birth_date: str = "1990-04-12",
    **incident: Any,
) -> list[str]:
    """`count` new survivors, one incident each; returns the new case ids."""
    ids = []
    for _ in range(count):
        n = len(seeded.case_ids) + 1
        survivor = {
            "given_names": f"Xiomara{n:03d}",
            "family_names": f"Quintanilla{n:03d}",
            "dui": valid_dui(31_000_000 + n),
            "birth_date": birth_date,
            "municipality": municipality,
            "phone": f"7{n:03d}-9{n:03d}",
            "address": f"Colonia Escondida {n}, pasaje secreto",
        }
        narrative = f"Relato reservado número {n} de la sobreviviente."
        body = factories.intake(
            survivor_overrides=survivor,
            incident_overrides={
                "municipality": municipality,
                "violence_types": types,
                "occurred_on": occurred_on,
                "narrative": narrative,
                **incident,
            },
            consent={"share_with_network": True, "statistics": statistics, "police": True},
        )
        response = client.post("/api/v1/cases", json=body, headers=person.headers)
        assert response.status_code == 201, response.get_json()
        created = response.get_json()
        seeded.case_ids.append(created["id"])
        seeded.slips.append((created["status_code"], created["status_pin"]))
        seeded.secrets += [
            survivor["given_names"],
            survivor["family_names"],
            survivor["dui"],
            survivor["phone"],
            survivor["address"],
            narrative,
        ]
        ids.append(created["id"])
    return ids


def seed_observatory(client: FlaskClient, pnc: Person, health: Person) -> Seeded:
    """The data set of the hand-computed tables in test_stats.py.

    In October 2026, with consent to statistics:
      Sonsonate (PNC): 6 physical, 5 psychological, 3 physical+sexual
      Acajutla (health): 6 physical, 7 psychological, and one of the physical cases
                         has a second physical incident
    Left out: 4 sexual in Sonsonate without consent; 2 physical in Acajutla in August.
    """
    seeded = Seeded()
    open_cases(client, pnc, seeded, 6, municipality="Sonsonate", types=["physical"])
    open_cases(
        client,
        pnc,
        seeded,
        5,
        municipality="Sonsonate",
        types=["psychological"],
        occurred_on="2026-10-20",
    )
    open_cases(
        client,
        pnc,
        seeded,
        3,
        municipality="Sonsonate",
        types=["physical", "sexual"],
        birth_date="2010-02-01",
        penetration=True,
    )
    first = open_cases(client, health, seeded, 6, municipality="Acajutla", types=["physical"])
    open_cases(client, health, seeded, 7, municipality="Acajutla", types=["psychological"])
    open_cases(client, pnc, seeded, 4, municipality="Sonsonate", types=["sexual"], statistics=False)
    open_cases(
        client,
        health,
        seeded,
        2,
        municipality="Acajutla",
        types=["physical"],
        occurred_on="2026-08-15",
    )
    add_incident(client, health, first[0], occurred_on="2026-10-10")
    return seeded


def add_incident(client: FlaskClient, person: Person, case_id: str, *, occurred_on: str) -> None:
    """A second physical incident in Acajutla on the case."""
    added = client.post(
        f"/api/v1/cases/{case_id}/incidents",
        headers=person.headers,
        json=factories.incident(
            municipality="Acajutla", violence_types=["physical"], occurred_on=occurred_on
        ),
    )
    assert added.status_code == 201, added.get_json()


def get_stats(client: FlaskClient, person: Person, **query: str) -> dict[str, Any]:
    response = client.get("/api/v1/stats", query_string={**PERIOD, **query}, headers=person.headers)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def grid(payload: dict[str, Any]) -> dict[str, Any]:
    """{row label: [cells…, total]} plus "Total": [column totals…, grand total]."""
    table = {row["label"]: [*row["cells"], row["total"]] for row in payload["rows"]}
    table["Total"] = [*payload["column_totals"], payload["total"]]
    return table


def read_csv(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


def lines_of(payload: dict[str, Any]) -> list[list[Any]]:
    """Every row and column with its total: the equations a reader could solve."""
    table = list(grid(payload).values())
    rows = table if payload["columns"] else []
    columns = [list(column) for column in zip(*table, strict=True)]
    return [*rows, *columns]
