"""tools/sbom.py: a CycloneDX 1.5 document of every pin, made from answers written here.

PyPI's answers are recorded by hand (`fetch`), installed metadata is handed in
(`read_metadata`): no network, and the checks do not depend on this machine's venv.
"""

from __future__ import annotations

import base64
import hashlib
import re
from email.message import Message
from typing import Any

from tools.pins import REQUIREMENT_FILES, Pin, canonical_name, npm_pins, pypi_pins
from tools.registry import NotFound, Release, ReleaseFile
from tools.sbom import build, integrity_hashes, licences, pypi_component

SERIAL = re.compile(r"^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
HEX = {"SHA-256": 64, "SHA-384": 96, "SHA-512": 128}
PURL = re.compile(r"^pkg:(pypi|npm)/[a-z0-9%._-]+(/[a-z0-9._-]+)?@[A-Za-z0-9.+!_-]+$")


def recorded_pypi(url: str, body: bytes | None) -> Any:
    """A per-version answer for any pin: one wheel and one sdist with made-up digests."""
    match = re.fullmatch(r"https://pypi.org/pypi/([^/]+)/([^/]+)/json", url)
    if not match:
        raise NotFound(url)
    name, version = match.groups()
    files = [f"{name}-{version}-py3-none-any.whl", f"{name}-{version}.tar.gz"]
    return {
        "urls": [
            {
                "filename": filename,
                "url": f"https://files.pythonhosted.org/packages/{filename}",
                "digests": {"sha256": hashlib.sha256(filename.encode()).hexdigest()},
            }
            for filename in files
        ],
        "vulnerabilities": [],
    }


def metadata_of(version_for: dict[str, str]) -> Any:
    def read(name: str) -> Message | None:
        meta = Message()
        meta["Name"] = name
        meta["Version"] = version_for.get(canonical_name(name), "")
        meta["License-Expression"] = "MIT"
        return meta

    return read


def test_the_sbom_is_cyclonedx_1_5_with_ruta_as_its_subject() -> None:
    document = build(recorded_pypi, metadata_of({}))

    assert document["bomFormat"] == "CycloneDX"
    assert document["specVersion"] == "1.5"
    assert document["version"] == 1
    assert SERIAL.match(document["serialNumber"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", document["metadata"]["timestamp"])
    assert document["metadata"]["component"]["name"] == "ruta"
    refs = [component["bom-ref"] for component in document["components"]]
    assert len(refs) == len(set(refs))
    for component in document["components"]:
        assert component["type"] == "library"
        assert PURL.match(component["purl"]), component["purl"]
        assert component["scope"] in {"required", "excluded"}
        hashes = component.get("hashes", []) + [
            digest for ref in component.get("externalReferences", []) for digest in ref["hashes"]
        ]
        assert hashes, component["name"]
        assert all(len(digest["content"]) == HEX[digest["alg"]] for digest in hashes)
    assert set(document["dependencies"][0]["dependsOn"]) <= set(refs)


def test_every_pinned_package_is_a_component_with_its_purl_and_scope() -> None:
    document = build(recorded_pypi, metadata_of({}))
    by_purl = {component["purl"]: component for component in document["components"]}
    runtime = {pin.key for pin in pypi_pins(REQUIREMENT_FILES[:1])}

    for pin in pypi_pins() + npm_pins():
        component = by_purl[pin.purl]
        assert (component["name"], component["version"]) == (pin.name, pin.version)
        expected = "required" if pin.ecosystem == "pypi" and pin.key in runtime else "excluded"
        assert component["scope"] == expected, pin.name
    assert by_purl["pkg:pypi/flask@3.1.3"]["scope"] == "required"
    assert by_purl["pkg:pypi/pytest@9.2.0"]["scope"] == "excluded"
    assert "pkg:pypi/typing-extensions@4.16.0" in by_purl  # purl: lower case, "_" as "-"
    assert by_purl["pkg:npm/axe-core@4.11.0"]["scope"] == "excluded"


def test_each_pypi_file_is_a_distribution_reference_with_its_sha256() -> None:
    pin = Pin("pypi", "Flask", "3.1.3", "requirements.txt")
    files = (
        ReleaseFile("flask-3.1.3.tar.gz", "https://files/flask-3.1.3.tar.gz", "0e" * 32),
        ReleaseFile("flask-3.1.3-py3-none-any.whl", "https://files/flask.whl", "f4" * 32),
    )
    meta = metadata_of({"flask": "3.1.3"})("Flask")

    component = pypi_component(pin, Release(pin, files, []), meta, "required")

    assert component["externalReferences"] == [
        {
            "type": "distribution",
            "url": "https://files/flask-3.1.3.tar.gz",
            "comment": "flask-3.1.3.tar.gz",
            "hashes": [{"alg": "SHA-256", "content": "0e" * 32}],
        },
        {
            "type": "distribution",
            "url": "https://files/flask.whl",
            "comment": "flask-3.1.3-py3-none-any.whl",
            "hashes": [{"alg": "SHA-256", "content": "f4" * 32}],
        },
    ]
    assert component["licenses"] == [{"expression": "MIT"}]


def test_a_licence_is_not_taken_from_another_installed_version() -> None:
    pin = Pin("pypi", "Flask", "3.1.3", "requirements.txt")
    meta = metadata_of({"flask": "3.0.0"})("Flask")

    component = pypi_component(pin, Release(pin, (), []), meta, "required")

    assert component["licenses"] == []
    assert {"name": "ruta:installed-version", "value": "3.0.0"} in component["properties"]


def test_licences_come_from_the_expression_then_a_short_field_then_classifiers() -> None:
    short = Message()
    short["License"] = "BSD-3-Clause"
    whole_text = Message()
    whole_text["License"] = "Copyright 2010 Pallets\n\nRedistribution and use in source ..."
    whole_text["Classifier"] = "License :: OSI Approved :: BSD License"
    whole_text["Classifier"] = "Programming Language :: Python"

    assert licences(short) == [{"license": {"name": "BSD-3-Clause"}}]
    assert licences(whole_text) == [{"license": {"name": "BSD License"}}]
    assert licences(None) == []


def test_npm_integrity_becomes_a_hex_sha512() -> None:
    digest = hashlib.sha512(b"axe-core-4.11.0.tgz").digest()

    hashes = integrity_hashes(f"sha512-{base64.b64encode(digest).decode()}")

    assert hashes == [{"alg": "SHA-512", "content": digest.hex()}]
    assert integrity_hashes("md5-abc") == []
