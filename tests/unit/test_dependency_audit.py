"""tools/dependency_audit.py decides from the registries' answers, written here by hand.

No test reaches the network: `fetch` is a dictionary of URL → answer, and a URL it does
not hold answers 404 as PyPI does for a release it does not know.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest

from tools.dependency_audit import (
    EXCEPTIONS_FILE,
    AuditException,
    BadExceptionsFile,
    audit,
    has_fixed_release,
    main,
    read_exceptions,
)
from tools.pins import Pin, UnpinnedRequirement, parse_requirements, pypi_pins
from tools.registry import NPM_BULK_ADVISORIES, NotFound, SourceUnavailable

TODAY = date(2026, 12, 2)
PILLOW = Pin("pypi", "pillow", "13.0.0", "requirements.txt")
FLASK = Pin("pypi", "Flask", "3.1.3", "requirements.txt")
AXE = Pin("npm", "axe-core", "4.11.0", "package-lock.json")


def advisory(ident: str, fixed_in: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "id": ident,
        "aliases": extra.pop("aliases", []),
        "details": "A crafted image overflows a buffer.\nMore text.",
        "fixed_in": fixed_in,
        "link": f"https://osv.dev/vulnerability/{ident}",
        "source": "osv",
        "summary": None,
        "withdrawn": extra.pop("withdrawn", None),
    }


def release(pin: Pin, vulnerabilities: list[dict[str, Any]]) -> dict[str, Any]:
    wheel = f"{pin.name}-{pin.version}-py3-none-any.whl"
    return {
        "info": {"name": pin.name, "version": pin.version},
        "urls": [
            {"filename": wheel, "url": f"https://files/{wheel}", "digests": {"sha256": "a" * 64}}
        ],
        "vulnerabilities": vulnerabilities,
    }


def per_version_url(pin: Pin) -> str:
    return f"https://pypi.org/pypi/{pin.key}/{pin.version}/json"


class Registry:
    """URL → recorded answer; an exception instance in the map is raised instead."""

    def __init__(self, answers: dict[str, Any]) -> None:
        self.answers = answers
        self.asked: list[tuple[str, bytes | None]] = []

    def __call__(self, url: str, body: bytes | None) -> Any:
        self.asked.append((url, body))
        if url not in self.answers:
            raise NotFound(url)
        answer = self.answers[url]
        if isinstance(answer, Exception):
            raise answer
        return answer


def clean_registry(*extra: tuple[str, Any]) -> Registry:
    answers: dict[str, Any] = {
        per_version_url(PILLOW): release(PILLOW, []),
        per_version_url(FLASK): release(FLASK, []),
        NPM_BULK_ADVISORIES: {},
    }
    answers.update(dict(extra))
    return Registry(answers)


def test_clean_pins_pass_and_every_pin_has_its_row() -> None:
    outcome = audit([PILLOW, FLASK], [AXE], [], TODAY, clean_registry())

    assert outcome.exit_code == 0
    rows = [line.split() for line in outcome.lines[1:4]]
    assert [row[:3] + row[-1:] for row in rows] == [
        ["pypi", "pillow", "13.0.0", "ok"],
        ["pypi", "Flask", "3.1.3", "ok"],
        ["npm", "axe-core", "4.11.0", "ok"],
    ]


def test_a_known_vulnerability_with_a_fixed_release_fails_the_audit() -> None:
    answer = release(PILLOW, [advisory("PYSEC-2026-1", ["13.0.1"])])
    registry = clean_registry((per_version_url(PILLOW), answer))

    outcome = audit([PILLOW, FLASK], [], [], TODAY, registry)

    assert outcome.exit_code == 1
    row = next(line for line in outcome.lines if "PYSEC-2026-1" in line)
    assert "FAILS: fixed in 13.0.1" in row
    assert "A crafted image overflows a buffer." in row


def test_a_withdrawn_advisory_does_not_count() -> None:
    withdrawn = advisory("PYSEC-2026-2", ["13.0.1"], withdrawn="2026-11-30T00:00:00Z")
    registry = clean_registry((per_version_url(PILLOW), release(PILLOW, [withdrawn])))

    outcome = audit([PILLOW], [], [], TODAY, registry)

    assert outcome.exit_code == 0
    assert "PYSEC-2026-2" not in "\n".join(outcome.lines)


def test_a_vulnerability_without_a_fixed_release_is_shown_but_does_not_fail() -> None:
    registry = clean_registry(
        (per_version_url(PILLOW), release(PILLOW, [advisory("GHSA-nofx", [])]))
    )

    outcome = audit([PILLOW], [], [], TODAY, registry)

    assert outcome.exit_code == 0
    assert any("GHSA-nofx" in line and "no fixed release yet" in line for line in outcome.lines)


def test_an_exception_naming_an_alias_excuses_the_advisory_until_its_date() -> None:
    found = advisory("PYSEC-2026-3", ["13.0.1"], aliases=["CVE-2026-0001"])
    registry = clean_registry((per_version_url(PILLOW), release(PILLOW, [found])))
    excuse = AuditException("CVE-2026-0001", "Pillow", "decoder never reached", date(2026, 12, 2))

    outcome = audit([PILLOW], [], [excuse], TODAY, registry)

    assert outcome.exit_code == 0
    assert any("excepted until 2026-12-02: decoder never reached" in line for line in outcome.lines)


def test_an_exception_for_another_package_does_not_excuse() -> None:
    found = advisory("PYSEC-2026-3", ["13.0.1"])
    registry = clean_registry((per_version_url(PILLOW), release(PILLOW, [found])))
    elsewhere = AuditException("PYSEC-2026-3", "lxml", "not ours", date(2027, 1, 1))

    assert audit([PILLOW], [], [elsewhere], TODAY, registry).exit_code == 1


def test_an_expired_exception_fails_the_advisory_it_excused() -> None:
    found = advisory("PYSEC-2026-4", ["13.0.1"])
    registry = clean_registry((per_version_url(PILLOW), release(PILLOW, [found])))
    lapsed = AuditException("PYSEC-2026-4", "pillow", "waiting for 13.0.1", date(2026, 12, 1))

    outcome = audit([PILLOW], [], [lapsed], TODAY, registry)

    assert outcome.exit_code == 1
    assert any("FAILS: its exception expired on 2026-12-01" in line for line in outcome.lines)


def test_an_expired_exception_fails_even_when_nothing_matches_it_any_more() -> None:
    lapsed = AuditException("PYSEC-2020-9", "pillow", "old", date(2026, 11, 1))

    outcome = audit([PILLOW], [], [lapsed], TODAY, clean_registry())

    assert outcome.exit_code == 1
    assert "expired on 2026-11-01" in outcome.lines[-1]


def test_a_registry_out_of_reach_exits_2_with_one_line() -> None:
    down = SourceUnavailable("https://pypi.org/pypi/pillow/13.0.0/json could not be reached")
    registry = clean_registry((per_version_url(PILLOW), down))

    outcome = audit([PILLOW, FLASK], [AXE], [], TODAY, registry)

    assert outcome.exit_code == 2
    assert outcome.lines == [
        "dependency audit: PyPI advisories unavailable: "
        "https://pypi.org/pypi/pillow/13.0.0/json could not be reached"
    ]


def test_the_newest_release_is_judged_from_the_project_document_when_a_mirror_lacks_versions() -> (
    None
):
    project = release(PILLOW, [advisory("PYSEC-2026-5", ["13.0.1"])])
    project["releases"] = {"13.0.0": project.pop("urls")}
    registry = Registry({"https://pypi.org/pypi/pillow/json": project, NPM_BULK_ADVISORIES: {}})

    assert audit([PILLOW], [], [], TODAY, registry).exit_code == 1


def test_an_older_pin_the_mirror_cannot_speak_of_is_not_checked_and_exits_2() -> None:
    project = release(Pin("pypi", "pillow", "13.1.0", "x"), [])
    project["releases"] = {"13.0.0": project["urls"], "13.1.0": project.pop("urls")}
    registry = Registry({"https://pypi.org/pypi/pillow/json": project, NPM_BULK_ADVISORIES: {}})

    outcome = audit([PILLOW], [], [], TODAY, registry)

    assert outcome.exit_code == 2
    assert "NOT CHECKED" in outcome.lines[1]
    assert outcome.lines[-1].endswith("pillow==13.0.0")


def test_a_pin_pypi_does_not_publish_exits_2() -> None:
    project = release(PILLOW, [])
    project["releases"] = {}
    registry = Registry({"https://pypi.org/pypi/pillow/json": project})

    outcome = audit([PILLOW], [], [], TODAY, registry)

    assert outcome.exit_code == 2
    assert "no files for pillow==13.0.0" in outcome.lines[0]


def test_npm_advisory_with_a_bounded_range_fails_and_is_named_by_its_ghsa() -> None:
    bulk = {
        "axe-core": [
            {
                "id": 1100001,
                "url": "https://github.com/advisories/GHSA-aaaa-bbbb-cccc",
                "title": "Prototype pollution",
                "severity": "high",
                "vulnerable_versions": "<4.11.1",
            }
        ]
    }
    registry = clean_registry((NPM_BULK_ADVISORIES, bulk))

    outcome = audit([PILLOW], [AXE], [], TODAY, registry)

    assert outcome.exit_code == 1
    row = next(line for line in outcome.lines if line.startswith("npm"))
    assert "GHSA-aaaa-bbbb-cccc (high)" in row
    assert "Prototype pollution" in row
    url, body = registry.asked[-1]
    assert (url, body) == (NPM_BULK_ADVISORIES, b'{"axe-core": ["4.11.0"]}')


def test_npm_refusing_the_bulk_query_keeps_the_pypi_table_and_exits_2() -> None:
    refused = SourceUnavailable(f"{NPM_BULK_ADVISORIES} answered HTTP 405 Method Not Allowed")
    registry = clean_registry((NPM_BULK_ADVISORIES, refused))

    outcome = audit([PILLOW], [AXE], [], TODAY, registry)

    assert outcome.exit_code == 2
    assert outcome.lines[1].split()[-1] == "ok"
    assert outcome.lines[2].endswith("NOT CHECKED")
    assert outcome.lines[-1].endswith("answered HTTP 405 Method Not Allowed")


@pytest.mark.parametrize(
    ("vulnerable", "fixed"),
    [
        ("<4.11.1", True),
        (">=2.0.0 <2.3.1 || <1.9.9", True),
        ("*", False),
        (">=4.0.0", False),
        ("<1.0.0 || >=2.0.0", False),
        ("", False),
    ],
)
def test_an_npm_range_has_a_fix_only_when_every_branch_is_bounded_above(
    vulnerable: str, fixed: bool
) -> None:
    assert has_fixed_release(vulnerable) is fixed


def test_an_unpinned_line_is_refused_with_its_file_and_line(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("# header\nFlask==3.1.3\nWerkzeug>=3\n")

    with pytest.raises(UnpinnedRequirement, match=r"requirements.txt:3: 'Werkzeug>=3'"):
        parse_requirements(requirements, tmp_path)


def test_includes_are_followed_and_each_package_counted_once(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("Flask==3.1.3  # the framework\nmarkupsafe==3.0.4\n")
    (tmp_path / "dev.txt").write_text("-r base.txt\npytest==9.2.0\nMarkupSafe==3.0.4\n")

    pins = pypi_pins((tmp_path / "base.txt", tmp_path / "dev.txt"), tmp_path)

    assert [(pin.name, pin.version, pin.source) for pin in pins] == [
        ("Flask", "3.1.3", "base.txt"),
        ("markupsafe", "3.0.4", "base.txt"),
        ("pytest", "9.2.0", "dev.txt"),
    ]


def test_an_exception_without_a_reason_or_a_real_date_is_refused(tmp_path: Path) -> None:
    no_reason = tmp_path / "a.toml"
    no_reason.write_text('[[exception]]\nid = "X"\npackage = "pillow"\nexpires = 2027-01-01\n')
    text_date = tmp_path / "b.toml"
    text_date.write_text(
        '[[exception]]\nid = "X"\npackage = "pillow"\nreason = "r"\nexpires = "2027-01-01"\n'
    )

    with pytest.raises(BadExceptionsFile, match="'reason' is missing"):
        read_exceptions(no_reason)
    with pytest.raises(BadExceptionsFile, match="'expires' must be a date"):
        read_exceptions(text_date)


def test_the_command_fails_on_a_malformed_exceptions_file_before_asking_anyone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "exceptions.toml"
    broken.write_text("[[exception]]\nid = \n")

    assert main(["--exceptions", str(broken)]) == 1
    assert "dependency audit: FAILS: exceptions.toml" in capsys.readouterr().err


def test_the_repository_pins_every_package_and_its_exceptions_file_reads() -> None:
    pins = pypi_pins()

    assert {"flask", "pillow", "pikepdf", "pytest"} <= {pin.key for pin in pins}
    assert all(entry.reason for entry in read_exceptions(EXCEPTIONS_FILE))
