"""Dependency audit: known vulnerabilities in the exact releases Ruta pins.

Asks PyPI (its JSON API carries the OSV/PyPA advisories of each release) about every pin
of requirements.txt and requirements-dev.txt, and the npm registry (the endpoint `npm
audit` uses) about package-lock.json. Prints one table and exits:

  0  nothing known, or only what tools/audit-exceptions.toml excuses until a later date
  1  a known, non-withdrawn vulnerability that has a fixed release and no valid exception;
     an expired exception; an unpinned requirements line or a malformed exceptions file
  2  the advisories could not be had (network, registry error, a pin PyPI cannot speak of)

docs/security.md "Third-party components" says what the time frames are and who acts.
Usage (from the repository root): python -m tools.dependency_audit
"""

from __future__ import annotations

import argparse
import sys
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from tools.pins import ROOT, Pin, UnpinnedRequirement, canonical_name, npm_pins, pypi_pins
from tools.registry import (
    Fetch,
    Release,
    SourceUnavailable,
    http_json,
    npm_advisories,
    pypi_releases,
)

EXCEPTIONS_FILE = ROOT / "tools" / "audit-exceptions.toml"
CLEAN, FAILS, SOURCE_FAILED = 0, 1, 2


class BadExceptionsFile(ValueError):
    """An exception entry without its advisory, package, reason or expiry date."""


@dataclass(frozen=True)
class Finding:
    pin: Pin
    advisory: str
    aliases: tuple[str, ...]
    fixed_in: tuple[str, ...]
    has_fix: bool
    summary: str
    severity: str = ""


@dataclass(frozen=True)
class AuditException:
    advisory: str
    package: str
    reason: str
    expires: date

    def covers(self, finding: Finding) -> bool:
        same_package = canonical_name(self.package) == canonical_name(finding.pin.name)
        return same_package and self.advisory in (finding.advisory, *finding.aliases)


@dataclass(frozen=True)
class Decision:
    finding: Finding
    verdict: str
    fails: bool


@dataclass(frozen=True)
class Outcome:
    lines: list[str]
    exit_code: int


def read_exceptions(path: Path) -> list[AuditException]:
    """`[[exception]]` tables: id, package, reason and an `expires` date, all required."""
    if not path.exists():
        return []
    try:
        entries = tomllib.loads(path.read_text(encoding="utf-8")).get("exception", [])
    except tomllib.TOMLDecodeError as error:
        raise BadExceptionsFile(f"{path.name}: {error}") from error
    return [_exception(entry, number, path) for number, entry in enumerate(entries, start=1)]


def _exception(entry: dict[str, Any], number: int, path: Path) -> AuditException:
    where = f"{path.name}, exception {number}"
    for key in ("id", "package", "reason"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise BadExceptionsFile(f"{where}: '{key}' is missing or empty")
    expires = entry.get("expires")
    # tomllib reads 2027-01-31 as a date; a datetime or a string is a mistake.
    if not isinstance(expires, date) or isinstance(expires, datetime):
        raise BadExceptionsFile(f"{where}: 'expires' must be a date such as 2027-01-31")
    return AuditException(entry["id"], entry["package"], entry["reason"], expires)


def pypi_findings(release: Release) -> list[Finding]:
    """The advisories PyPI lists for the release, withdrawn ones left out."""
    findings = []
    for vulnerability in release.vulnerabilities or []:
        if vulnerability.get("withdrawn"):
            continue
        fixed_in = tuple(vulnerability.get("fixed_in") or ())
        findings.append(
            Finding(
                pin=release.pin,
                advisory=vulnerability["id"],
                aliases=tuple(vulnerability.get("aliases") or ()),
                fixed_in=fixed_in,
                has_fix=bool(fixed_in),
                summary=_first_line(vulnerability.get("summary") or vulnerability.get("details")),
            )
        )
    return findings


def npm_findings(pins: list[Pin], answer: dict[str, list[dict[str, Any]]]) -> list[Finding]:
    """The bulk endpoint's advisories, each against the locked package of its name."""
    findings = []
    for pin in pins:
        for advisory in answer.get(pin.name, []):
            url = str(advisory.get("url", ""))
            ghsa = url.rstrip("/").rsplit("/", 1)[-1] if "GHSA-" in url else ""
            vulnerable = str(advisory.get("vulnerable_versions", ""))
            findings.append(
                Finding(
                    pin=pin,
                    advisory=ghsa or str(advisory.get("id", "?")),
                    aliases=(str(advisory.get("id", "")),),
                    fixed_in=(f"outside {vulnerable}",) if vulnerable else (),
                    has_fix=has_fixed_release(vulnerable),
                    summary=_first_line(advisory.get("title")),
                    severity=str(advisory.get("severity", "")),
                )
            )
    return findings


def has_fixed_release(vulnerable_versions: str) -> bool:
    """True when every branch of an npm range ends below some version (`<2.1.0`),
    so a newer release lies outside it; `*` or an open `>=1.0.0` has no fix yet."""
    branches = [branch.strip() for branch in vulnerable_versions.split("||")]
    return bool(vulnerable_versions.strip()) and all("<" in branch for branch in branches)


def _first_line(text: object) -> str:
    line = str(text or "").strip().splitlines()[0] if text else ""
    return line if len(line) <= 70 else line[:69] + "…"


def decide(
    findings: list[Finding], exceptions: list[AuditException], today: date
) -> list[Decision]:
    """Whether each finding fails the audit, and why."""
    return [_decision(finding, exceptions, today) for finding in findings]


def _decision(finding: Finding, exceptions: list[AuditException], today: date) -> Decision:
    excuse = next((entry for entry in exceptions if entry.covers(finding)), None)
    if excuse and excuse.expires >= today:
        return Decision(finding, f"excepted until {excuse.expires}: {excuse.reason}", False)
    if excuse:
        return Decision(finding, f"FAILS: its exception expired on {excuse.expires}", True)
    if not finding.has_fix:
        return Decision(finding, "no fixed release yet: mitigate and record an exception", False)
    return Decision(finding, f"FAILS: fixed in {', '.join(finding.fixed_in)}", True)


def expired(exceptions: list[AuditException], today: date) -> list[AuditException]:
    """Exceptions past their date, whether or not they still match anything."""
    return [entry for entry in exceptions if entry.expires < today]


def audit(
    pypi: list[Pin],
    npm: list[Pin],
    exceptions: list[AuditException],
    today: date,
    fetch: Fetch = http_json,
) -> Outcome:
    """Ask the registries, decide, and say it as a table with its exit code."""
    try:
        releases = pypi_releases(pypi, fetch)
    except SourceUnavailable as error:
        return Outcome([f"dependency audit: PyPI advisories unavailable: {error}"], SOURCE_FAILED)
    npm_answer, npm_failure = _npm_answer(npm, fetch)
    findings = [finding for release in releases for finding in pypi_findings(release)]
    decisions = decide(findings + npm_findings(npm, npm_answer), exceptions, today)
    unchecked = [release.pin for release in releases if release.vulnerabilities is None]
    lines = table(pypi + npm, decisions, unchecked + (npm if npm_failure else []))
    lines += summary(decisions, expired(exceptions, today), unchecked)
    if npm_failure:
        lines.append(f"dependency audit: NOT CHECKED: npm advisories unavailable: {npm_failure}")
        unchecked += npm
    return Outcome(lines, _exit_code(decisions, expired(exceptions, today), unchecked))


def _npm_answer(npm: list[Pin], fetch: Fetch) -> tuple[dict[str, list[dict[str, Any]]], str]:
    """The npm advisories, or why there are none: PyPI's table is still worth printing."""
    try:
        return npm_advisories(npm, fetch), ""
    except SourceUnavailable as error:
        return {}, str(error)


def table(pins: list[Pin], decisions: list[Decision], unchecked: list[Pin]) -> list[str]:
    """One row per pin; a pin with advisories gets one row per advisory."""
    rows = [("registry", "package", "version", "advisory", "result")]
    for pin in pins:
        mine = [decision for decision in decisions if decision.finding.pin == pin]
        if pin in unchecked:
            rows.append((pin.ecosystem, pin.name, pin.version, "-", "NOT CHECKED"))
        rows += [_row(decision) for decision in mine]
        if not mine and pin not in unchecked:
            rows.append((pin.ecosystem, pin.name, pin.version, "-", "ok"))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    return [
        "  ".join(row[column].ljust(widths[column]) for column in range(4)) + "  " + row[4]
        for row in rows
    ]


def _row(decision: Decision) -> tuple[str, str, str, str, str]:
    finding = decision.finding
    label = f"{finding.advisory} ({finding.severity})" if finding.severity else finding.advisory
    result = f"{decision.verdict} — {finding.summary}" if finding.summary else decision.verdict
    return (finding.pin.ecosystem, finding.pin.name, finding.pin.version, label, result)


def summary(
    decisions: list[Decision], stale: list[AuditException], unchecked: list[Pin]
) -> list[str]:
    failing = sum(decision.fails for decision in decisions)
    lines = [f"dependency audit: {len(decisions)} advisories, {failing} failing"]
    lines += [
        f"dependency audit: FAILS: the exception for {entry.advisory} ({entry.package}) "
        f"expired on {entry.expires}; upgrade, or renew it with a new date and reason"
        for entry in stale
    ]
    if unchecked:
        names = ", ".join(f"{pin.name}=={pin.version}" for pin in unchecked)
        lines.append(
            f"dependency audit: NOT CHECKED: PyPI answered no advisories for the exact "
            f"versions of {len(unchecked)} pins (per-version JSON missing, not the newest "
            f"release): {names}"
        )
    return lines


def _exit_code(decisions: list[Decision], stale: list[AuditException], unchecked: list[Pin]) -> int:
    if any(decision.fails for decision in decisions) or stale:
        return FAILS
    return SOURCE_FAILED if unchecked else CLEAN


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--exceptions", type=Path, default=EXCEPTIONS_FILE)
    arguments = parser.parse_args(argv)
    try:
        pypi, npm = pypi_pins(), npm_pins()
        exceptions = read_exceptions(arguments.exceptions)
    except (UnpinnedRequirement, BadExceptionsFile) as error:
        print(f"dependency audit: FAILS: {error}", file=sys.stderr)
        return FAILS
    outcome = audit(pypi, npm, exceptions, datetime.now(UTC).date())
    stream = (
        sys.stderr if outcome.exit_code == SOURCE_FAILED and len(outcome.lines) == 1 else sys.stdout
    )
    print("\n".join(outcome.lines), file=stream)
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
