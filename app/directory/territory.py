"""The map of El Salvador since 1 May 2024 (Decreto Legislativo 762, Ley Especial para la
Reestructuración Municipal): 14 departments, 44 municipalities, 262 districts.

The 262 former municipalities are the districts. They keep the table and the codes Ruta
has always stored (`municipalities`, "sonsonate", "san_antonio_del_monte"), so every
survivor, incident and institution row reads right; the 2024 municipality and the
department follow from the district. The map ships as `data/territory_2024.csv` and
`catalogue load` writes it into the database, where administrators may extend it.
"""

from __future__ import annotations

import csv
import difflib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

from flask_babel import gettext
from sqlalchemy import select

from app.core.db import DbSession
from app.core.errors import InvalidInput
from app.crypto.blind_index import normalise_name
from app.directory.cache import CATALOGUE
from app.directory.models import Department, District, Institution, Municipality2024

DATA_FILE = Path(__file__).parent / "data" / "territory_2024.csv"
COLUMNS = (
    "department_code",
    "department",
    "case_prefix",
    "municipality_code",
    "municipality",
    "district_code",
    "district",
    "aliases",
)
ALIAS_SEPARATOR = "|"
SUGGESTIONS = 5


# ---- the data file -------------------------------------------------------------------


@dataclass(frozen=True)
class TerritoryMap:
    """The rows to load, as column values keyed by code, one mapping per level."""

    departments: dict[str, dict[str, Any]]
    municipalities: dict[str, dict[str, Any]]
    districts: dict[str, dict[str, Any]]


class MapError(ValueError):
    """The data file contradicts itself: a code with two parents, two names or prefixes."""


def _same_or_new(found: dict[str, dict[str, Any]], code: str, values: dict[str, Any]) -> None:
    known = found.setdefault(code, values)
    if known != values:
        raise MapError(f"{code}: {known} and {values} in the same map")


def parse_map(rows: Iterable[dict[str, str]]) -> TerritoryMap:
    """Check the rows (one per district) and split them into the three levels."""
    departments: dict[str, dict[str, Any]] = {}
    municipalities: dict[str, dict[str, Any]] = {}
    districts: dict[str, dict[str, Any]] = {}
    for row in rows:
        department, municipality = row["department_code"], row["municipality_code"]
        _same_or_new(
            departments,
            department,
            {"code": department, "name": row["department"], "case_prefix": row["case_prefix"]},
        )
        _same_or_new(
            municipalities,
            municipality,
            {"code": municipality, "name": row["municipality"], "department_code": department},
        )
        if row["district_code"] in districts:
            raise MapError(f"district {row['district_code']} twice in the map")
        districts[row["district_code"]] = {
            "code": row["district_code"],
            "name": row["district"],
            "department": department,
            "municipality_2024": municipality,
            "aliases": row["aliases"] or None,
        }
    prefixes = [d["case_prefix"] for d in departments.values()]
    if len(set(prefixes)) != len(prefixes):
        raise MapError("two departments share a case-number prefix")
    return TerritoryMap(departments, municipalities, districts)


@lru_cache(maxsize=4)
def read_map(path: Path = DATA_FILE) -> TerritoryMap:
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise MapError(f"{path.name}: the columns must be {', '.join(COLUMNS)}")
        return parse_map(reader)


# ---- loading it ----------------------------------------------------------------------


@dataclass
class LoadReport:
    """How many rows of each level the load added and changed."""

    added: dict[str, int] = field(default_factory=dict)
    updated: dict[str, int] = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(self.added.values()) or any(self.updated.values())


def _upsert(session: DbSession, model: Any, wanted: dict[str, dict[str, Any]]) -> tuple[int, int]:
    """Insert the missing rows, bring the others in line in place; delete nothing."""
    stmt = select(model).where(model.code.in_(list(wanted)))
    existing = {row.code: row for row in session.execute(stmt).scalars()}
    added = updated = 0
    for code, values in wanted.items():
        row = existing.get(code)
        if row is None:
            session.add(model(**values))
            added += 1
            continue
        stale = {name: value for name, value in values.items() if getattr(row, name) != value}
        for name, value in stale.items():
            setattr(row, name, value)
        updated += bool(stale)
    # Each level before the next: the municipalities point at the departments.
    session.flush()
    return added, updated


def load_territory(session: DbSession, territory: TerritoryMap | None = None) -> LoadReport:
    """Departments, municipalities and districts from the map; idempotent."""
    CATALOGUE.forget()
    territory = territory or read_map()
    report = LoadReport()
    for level, model, rows in (
        ("departments", Department, territory.departments),
        ("municipalities", Municipality2024, territory.municipalities),
        ("districts", District, territory.districts),
    ):
        report.added[level], report.updated[level] = _upsert(session, model, rows)
    return report


# ---- reading it back -----------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A district with the names of its 2024 municipality and department."""

    code: str
    district: str
    municipality: str | None
    department: str | None
    aliases: tuple[str, ...] = ()
    municipality_code: str | None = None

    @property
    def label(self) -> str:
        """ "Sonsonate, Sonsonate Centro, Sonsonate": district, municipality, department."""
        return ", ".join(n for n in (self.district, self.municipality, self.department) if n)


def places(session: DbSession) -> dict[str, Place]:
    """Every district, in one query (at most once a minute: `cache.py`)."""
    return CATALOGUE.get(session, "places", lambda: _read_places(session))


def _read_places(session: DbSession) -> dict[str, Place]:
    stmt = (
        select(
            District.code,
            District.name,
            Municipality2024.name,
            Department.name,
            District.aliases,
            District.municipality_2024,
        )
        .outerjoin(Municipality2024, Municipality2024.code == District.municipality_2024)
        .outerjoin(Department, Department.code == District.department)
        .order_by(District.name, Department.name)
    )
    return {
        code: Place(code, name, municipality, department, _aliases(aliases), municipality_code)
        for code, name, municipality, department, aliases, municipality_code in session.execute(
            stmt
        )
    }


def _aliases(value: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in (value or "").split(ALIAS_SEPARATOR) if part.strip())


def district_names(session: DbSession) -> dict[str, str]:
    """Each district's name; a name two districts share (San Lorenzo) gets its department."""
    found = places(session)
    counts: dict[str, int] = defaultdict(int)
    for place in found.values():
        counts[normalise_name(place.district)] += 1
    return {
        code: f"{p.district} ({p.department})"
        if counts[normalise_name(p.district)] > 1 and p.department
        else p.district
        for code, p in found.items()
    }


def place_labels(session: DbSession) -> dict[str, str]:
    return {code: place.label for code, place in places(session).items()}


def municipality_2024_names(session: DbSession) -> dict[str, str]:
    rows = session.execute(select(Municipality2024.code, Municipality2024.name))
    return {code: name for code, name in rows}


def department_names(session: DbSession) -> dict[str, str]:
    return {code: name for code, name in session.execute(select(Department.code, Department.name))}


def case_prefix_of(session: DbSession, institution_id: int | None) -> str | None:
    """The case-number prefix of the department of the institution's district, if known."""
    stmt = (
        select(Department.case_prefix)
        .join(District, District.department == Department.code)
        .join(Institution, Institution.municipality == District.code)
        .where(Institution.id == institution_id)
    )
    return session.execute(stmt).scalar_one_or_none()


# ---- finding a district by what a person typed ----------------------------------------


class UnknownPlace(InvalidInput):
    """The text names no district, or more than one, or a 2024 municipality of several."""


def _key(text: str) -> str:
    return normalise_name(text.replace("_", " "))


def _names_of(place: Place) -> Iterator[str]:
    """What a district may be called: its name and aliases, alone or with the name of
    its municipality or department ("San Lorenzo, Ahuachapán")."""
    for name in (place.district, *place.aliases):
        yield name
        for parent in (place.municipality, place.department):
            if parent:
                yield f"{name} {parent}"


def resolve_district(session: DbSession, value: str) -> str:
    """The district's code, from its code, its name (the former municipality's) or an
    alias, in any case and with or without accents; UnknownPlace says what was meant."""
    if session.get(District, value) is not None:
        return value
    wanted = _key(value)
    found = places(session)
    by_name: dict[str, set[str]] = defaultdict(set)
    for place in found.values():
        by_name[_key(place.code)].add(place.code)
        for name in _names_of(place):
            by_name[_key(name)].add(place.code)
    codes = by_name.get(wanted, set())
    if len(codes) == 1:
        return next(iter(codes))
    if codes:
        raise UnknownPlace(_choose_one(value, [found[c] for c in sorted(codes)]))
    return _from_municipality(found, value) or _unknown(found, value)


def _from_municipality(found: dict[str, Place], value: str) -> str | None:
    """A 2024 municipality of one district is that district; of several, a 422 that
    asks for the district (the record keeps the district, the finer place)."""
    wanted = _key(value)
    inside = [
        p
        for p in found.values()
        if p.municipality_code and wanted in (_key(p.municipality_code), _key(p.municipality or ""))
    ]
    if len(inside) == 1:
        return inside[0].code
    if inside:
        names = ", ".join(p.district for p in inside)
        raise UnknownPlace(
            gettext(
                "«%(value)s» es un municipio con varios distritos; indique el distrito: %(names)s.",
                value=value,
                names=names,
            )
        )
    return None


def _choose_one(value: str, candidates: list[Place]) -> str:
    code = gettext("código")
    options = "; ".join(f"{p.label} ({code} {p.code})" for p in candidates)
    return gettext(
        "Hay varios distritos «%(value)s»: %(options)s. Indique cuál.", value=value, options=options
    )


def _unknown(found: dict[str, Place], value: str) -> NoReturn:
    """A 422 with the districts whose names come closest to what was typed."""
    named: dict[str, list[Place]] = defaultdict(list)
    for place in found.values():
        named[_key(place.district)].append(place)
    close = difflib.get_close_matches(_key(value), list(named), n=SUGGESTIONS, cutoff=0.6)
    message = gettext("Distrito desconocido: «%(value)s».", value=value)
    if close:
        labels = [place.label for key in close for place in named[key]][:SUGGESTIONS]
        message += " " + gettext("¿Quiso decir: %(labels)s?", labels="; ".join(labels))
    raise UnknownPlace(message)
