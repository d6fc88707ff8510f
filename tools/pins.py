"""The pins Ruta installs: `requirements*.txt` (PyPI) and `package-lock.json` (npm).

Every line of a requirements file must pin one exact version (`name==version`): the
audit, the SBOM and the hash locks all speak of exact releases, so anything looser is
refused with its file and line rather than guessed at.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REQUIREMENT_FILES = (ROOT / "requirements.txt", ROOT / "requirements-dev.txt")
NPM_LOCK = ROOT / "package-lock.json"

# name, optional [extras], ==version, optional ; environment marker
PIN_LINE = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*==\s*"
    r"(?P<version>[A-Za-z0-9][A-Za-z0-9.+!_-]*)\s*(?:;.*)?$"
)
INCLUDE_LINE = re.compile(r"^-r\s+(?P<path>\S+)$")


class UnpinnedRequirement(ValueError):
    """A requirements line that does not name one exact version."""


@dataclass(frozen=True)
class Pin:
    ecosystem: str  # "pypi" or "npm"
    name: str
    version: str
    source: str  # the file that pins it, relative to the repository root
    integrity: str = ""  # npm's Subresource Integrity string, from the lock
    licence: str = ""  # npm's licence, from the lock

    @property
    def key(self) -> str:
        return canonical_name(self.name) if self.ecosystem == "pypi" else self.name

    @property
    def purl(self) -> str:
        if self.ecosystem == "npm":
            return f"pkg:npm/{self.name.replace('@', '%40', 1)}@{self.version}"
        # The purl spec for PyPI: lower case, "_" written as "-".
        return f"pkg:pypi/{self.name.lower().replace('_', '-')}@{self.version}"


def canonical_name(name: str) -> str:
    """PEP 503: the name PyPI answers to."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirements(path: Path, root: Path = ROOT) -> list[Pin]:
    """The pins of one file, following its `-r` includes, first occurrence winning."""
    pins: dict[str, Pin] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        include = INCLUDE_LINE.match(line)
        if include:
            for pin in parse_requirements(path.parent / include["path"], root):
                pins.setdefault(pin.key, pin)
            continue
        pin = _pin_from_line(line, path, number, root)
        pins.setdefault(pin.key, pin)
    return list(pins.values())


def included_files(path: Path) -> list[Path]:
    """The files a requirements file pulls in with `-r`."""
    found = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        include = INCLUDE_LINE.match(raw.split("#", 1)[0].strip())
        if include:
            found.append(path.parent / include["path"])
    return found


def _pin_from_line(line: str, path: Path, number: int, root: Path) -> Pin:
    match = PIN_LINE.match(line)
    where = f"{_relative(path, root)}:{number}"
    if not match:
        raise UnpinnedRequirement(f"{where}: '{line}' is not pinned as name==version")
    return Pin("pypi", match["name"], match["version"], _relative(path, root))


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def pypi_pins(files: tuple[Path, ...] = REQUIREMENT_FILES, root: Path = ROOT) -> list[Pin]:
    """Every PyPI pin of the given files, once each, in the order they first appear."""
    pins: dict[str, Pin] = {}
    for path in files:
        for pin in parse_requirements(path, root):
            pins.setdefault(pin.key, pin)
    return list(pins.values())


def npm_pins(lock: Path = NPM_LOCK, root: Path = ROOT) -> list[Pin]:
    """The packages of an npm v2/v3 lock file (`packages`, keyed by their node_modules path)."""
    if not lock.exists():
        return []
    document = json.loads(lock.read_text(encoding="utf-8"))
    pins = []
    for location, entry in document.get("packages", {}).items():
        if not location or entry.get("link"):
            continue  # "" is the project itself; links point into the tree
        name = entry.get("name") or location.rsplit("node_modules/", 1)[-1]
        pins.append(
            Pin(
                "npm",
                name,
                entry["version"],
                _relative(lock, root),
                integrity=entry.get("integrity", ""),
                licence=entry.get("license", ""),
            )
        )
    return pins
