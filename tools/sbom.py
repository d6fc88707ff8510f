"""Write sbom.cdx.json: a CycloneDX 1.5 SBOM of what Ruta pins.

Components: every pin of requirements.txt (scope "required": it runs in production) and
of requirements-dev.txt and package-lock.json (scope "excluded": test and build tools,
never deployed). Each carries its purl, the licence its installed metadata declares, and
the sha256 of every file PyPI publishes for that version (npm: the lock's integrity).
Usage (from the repository root, venv active): python -m tools.sbom [--output PATH]
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import tomllib
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from email.message import Message
from importlib import metadata
from pathlib import Path
from typing import Any

from tools.pins import (
    NPM_LOCK,
    REQUIREMENT_FILES,
    ROOT,
    Pin,
    UnpinnedRequirement,
    npm_pins,
    pypi_pins,
)
from tools.registry import Fetch, Release, SourceUnavailable, http_json, pypi_releases

OUTPUT = ROOT / "sbom.cdx.json"
SPEC_VERSION = "1.5"
INTEGRITY_ALGORITHMS = {"sha512": "SHA-512", "sha384": "SHA-384", "sha256": "SHA-256"}
# A License field longer than this is the licence's whole text, not its name.
LICENCE_NAME_LIMIT = 100

Metadata = Callable[[str], Message | None]


def installed_metadata(name: str) -> Message | None:
    """The installed distribution's metadata, or None when it is not installed."""
    try:
        return metadata.metadata(name)  # type: ignore[return-value]
    except metadata.PackageNotFoundError:
        return None


def licences(meta: Message | None) -> list[dict[str, Any]]:
    """What the metadata declares: a PEP 639 expression, a short License, or classifiers."""
    if meta is None:
        return []
    expression = (meta.get("License-Expression") or "").strip()
    if expression:
        return [{"expression": expression}]
    name = (meta.get("License") or "").strip()
    if name and "\n" not in name and len(name) <= LICENCE_NAME_LIMIT and name != "UNKNOWN":
        return [{"license": {"name": name}}]
    classifiers = meta.get_all("Classifier") or []
    return [
        {"license": {"name": classifier.rsplit(" :: ", 1)[-1]}}
        for classifier in classifiers
        if classifier.startswith("License :: ") and classifier.count(" :: ") >= 2
    ]


def pypi_component(pin: Pin, release: Release, meta: Message | None, scope: str) -> dict[str, Any]:
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": pin.purl,
        "name": pin.name,
        "version": pin.version,
        "scope": scope,
        "purl": pin.purl,
        "licenses": licences(meta),
        "externalReferences": [
            {
                "type": "distribution",
                "url": file.url,
                "comment": file.filename,
                "hashes": [{"alg": "SHA-256", "content": file.sha256}],
            }
            for file in release.files
        ],
        "properties": [{"name": "ruta:pinned-in", "value": pin.source}],
    }
    installed = meta.get("Version") if meta is not None else None
    if installed != pin.version:
        # The licence is read only from the pinned version's own metadata.
        component["licenses"] = []
        component["properties"].append(
            {"name": "ruta:installed-version", "value": installed or "not installed"}
        )
    return component


def npm_component(pin: Pin) -> dict[str, Any]:
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": pin.purl,
        "name": pin.name,
        "version": pin.version,
        "scope": "excluded",
        "purl": pin.purl,
        "hashes": integrity_hashes(pin.integrity),
        "licenses": [{"expression": pin.licence}] if pin.licence else [],
        "properties": [{"name": "ruta:pinned-in", "value": pin.source}],
    }
    return component


def integrity_hashes(integrity: str) -> list[dict[str, str]]:
    """Subresource Integrity (`sha512-<base64>`, space separated) as CycloneDX hex hashes."""
    hashes = []
    for token in integrity.split():
        algorithm, _, digest = token.partition("-")
        if algorithm in INTEGRITY_ALGORITHMS and digest:
            content = base64.b64decode(digest).hex()
            hashes.append({"alg": INTEGRITY_ALGORITHMS[algorithm], "content": content})
    return hashes


def project_version(root: Path = ROOT) -> str:
    project = tomllib.loads((root / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return str(project["version"])


def bom(
    runtime: list[Pin],
    tools: list[Pin],
    npm: list[Pin],
    releases: list[Release],
    read_metadata: Metadata = installed_metadata,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The SBOM document: Ruta as the subject, each pin a component."""
    by_pin = {release.pin: release for release in releases}
    runtime_keys = {pin.key for pin in runtime}
    components = [
        pypi_component(
            pin,
            by_pin[pin],
            read_metadata(pin.name),
            "required" if pin.key in runtime_keys else "excluded",
        )
        for pin in runtime + tools
    ]
    components += [npm_component(pin) for pin in npm]
    moment = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": f"urn:uuid:{uuid.uuid4()}",
        "version": 1,
        "metadata": {
            "timestamp": moment,
            "tools": {"components": [{"type": "application", "name": "ruta tools/sbom.py"}]},
            "component": {
                "type": "application",
                "bom-ref": "ruta",
                "name": "ruta",
                "version": project_version(),
            },
        },
        "components": components,
        "dependencies": [{"ref": "ruta", "dependsOn": [pin.purl for pin in runtime]}],
    }


def build(fetch: Fetch = http_json, read_metadata: Metadata = installed_metadata) -> dict[str, Any]:
    """Read the pins, ask PyPI for their files, and make the document."""
    runtime = pypi_pins(REQUIREMENT_FILES[:1])
    runtime_keys = {pin.key for pin in runtime}
    tools = [pin for pin in pypi_pins() if pin.key not in runtime_keys]
    releases = pypi_releases(runtime + tools, fetch)
    return bom(runtime, tools, npm_pins(NPM_LOCK), releases, read_metadata)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=OUTPUT)
    arguments = parser.parse_args(argv)
    try:
        document = build()
    except UnpinnedRequirement as error:
        print(f"sbom: {error}", file=sys.stderr)
        return 1
    except SourceUnavailable as error:
        print(f"sbom: PyPI unavailable, no SBOM written: {error}", file=sys.stderr)
        return 2
    arguments.output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"sbom: wrote {arguments.output} ({len(document['components'])} components)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
