"""What PyPI and the npm registry publish about a pinned release: its files and advisories.

One function talks to the network (`http_json`); everything else takes it as `fetch`, so
the tests hand in answers written by hand and never reach a registry.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tools.pins import Pin

PYPI_JSON = "https://pypi.org/pypi"
NPM_BULK_ADVISORIES = "https://registry.npmjs.org/-/npm/v1/security/advisories/bulk"
TIMEOUT_SECONDS = 30
PARALLEL_REQUESTS = 8

Fetch = Callable[[str, bytes | None], Any]


class NotFound(Exception):
    """The registry answered 404."""


class SourceUnavailable(Exception):
    """The registry could not be asked, or could not answer what was asked."""


@dataclass(frozen=True)
class ReleaseFile:
    filename: str
    url: str
    sha256: str


@dataclass(frozen=True)
class Release:
    pin: Pin
    files: tuple[ReleaseFile, ...]
    # None: PyPI said nothing about this exact version (see pypi_release).
    vulnerabilities: list[dict[str, Any]] | None


def http_json(url: str, body: bytes | None = None) -> Any:
    """GET (or POST `body` as JSON to) a registry URL and parse its JSON answer."""
    headers = {"Accept": "application/json", "User-Agent": "ruta-supply-chain-tools"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 (https only)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:  # noqa: S310
            return json.load(answer)
    except urllib.error.HTTPError as error:
        if error.code == 404:
            raise NotFound(url) from error
        raise SourceUnavailable(f"{url} answered HTTP {error.code} {error.reason}") from error
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise SourceUnavailable(f"{url} could not be reached: {error}") from error
    except json.JSONDecodeError as error:
        raise SourceUnavailable(f"{url} did not answer JSON: {error}") from error


def pypi_release(pin: Pin, fetch: Fetch = http_json) -> Release:
    """The files and advisories PyPI publishes for exactly `pin.version`."""
    try:
        document = fetch(f"{PYPI_JSON}/{pin.key}/{pin.version}/json", None)
        return Release(pin, _files(document.get("urls", [])), document["vulnerabilities"])
    except NotFound:
        pass
    # Some PyPI mirrors serve only the project document. Its files cover every version,
    # but its advisories are those of the newest release only: for an older pin they
    # prove nothing, and the pin is reported as not checked.
    try:
        document = fetch(f"{PYPI_JSON}/{pin.key}/json", None)
    except NotFound as error:
        raise SourceUnavailable(f"PyPI has no project {pin.name!r}") from error
    files = document.get("releases", {}).get(pin.version)
    if not files:
        raise SourceUnavailable(f"PyPI publishes no files for {pin.name}=={pin.version}")
    newest = document["info"]["version"] == pin.version
    return Release(pin, _files(files), document["vulnerabilities"] if newest else None)


def _files(entries: list[dict[str, Any]]) -> tuple[ReleaseFile, ...]:
    return tuple(
        ReleaseFile(entry["filename"], entry["url"], entry["digests"]["sha256"])
        for entry in entries
    )


def pypi_releases(pins: list[Pin], fetch: Fetch = http_json) -> list[Release]:
    """`pypi_release` for every pin, a few at a time; the first failure stops them all."""
    with ThreadPoolExecutor(max_workers=PARALLEL_REQUESTS) as pool:
        return list(pool.map(lambda pin: pypi_release(pin, fetch), pins))


def npm_advisories(pins: list[Pin], fetch: Fetch = http_json) -> dict[str, list[dict[str, Any]]]:
    """The npm registry's advisories for the locked versions (the endpoint `npm audit` asks)."""
    if not pins:
        return {}
    versions: dict[str, list[str]] = {}
    for pin in pins:
        versions.setdefault(pin.name, []).append(pin.version)
    try:
        answer = fetch(NPM_BULK_ADVISORIES, json.dumps(versions).encode())
    except NotFound as error:
        raise SourceUnavailable(f"{NPM_BULK_ADVISORIES} answered HTTP 404") from error
    if not isinstance(answer, dict):
        raise SourceUnavailable(f"{NPM_BULK_ADVISORIES} answered something other than an object")
    return answer
