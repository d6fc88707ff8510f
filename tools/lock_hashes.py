"""Write requirements.lock and requirements-dev.lock: the pins with their sha256 hashes.

For each pin, every file PyPI publishes for that version (each wheel and the sdist), so
`pip install --require-hashes -r requirements.lock` works on any platform and Python
3.11+, and refuses a file that differs from what PyPI published when the lock was made.
A `-r x.txt` line becomes `-r x.lock`. Run after changing a pin (README.md,
"Dependencies"): python -m tools.lock_hashes
"""

from __future__ import annotations

import sys
from pathlib import Path

from tools.pins import REQUIREMENT_FILES, ROOT, Pin, UnpinnedRequirement, included_files
from tools.pins import parse_requirements as read_pins
from tools.registry import Fetch, Release, SourceUnavailable, http_json, pypi_releases


def lock_path(requirements: Path) -> Path:
    return requirements.with_suffix(".lock")


def own_pins(requirements: Path, root: Path = ROOT) -> list[Pin]:
    """The pins written in this file itself, not those of the files it includes."""
    here = requirements.resolve().relative_to(root.resolve())
    return [pin for pin in read_pins(requirements, root) if pin.source == str(here)]


def lock_text(requirements: Path, releases: list[Release]) -> str:
    """The lock file's content: its includes, then each pin with all of its hashes."""
    lines = [
        f"# Generated from {requirements.name} by `python -m tools.lock_hashes`; do not edit.",
        "# Each pin carries the sha256 of every file PyPI publishes for it (any platform).",
    ]
    lines += [f"-r {lock_path(included).name}" for included in included_files(requirements)]
    for release in releases:
        if not release.files:
            raise SourceUnavailable(f"PyPI lists no files for {release.pin.name}")
        hashes = sorted({file.sha256 for file in release.files})
        lines.append(f"{release.pin.name}=={release.pin.version} \\")
        lines += [f"    --hash=sha256:{digest} \\" for digest in hashes[:-1]]
        lines.append(f"    --hash=sha256:{hashes[-1]}")
    return "\n".join(lines) + "\n"


def write_locks(
    files: tuple[Path, ...] = REQUIREMENT_FILES, fetch: Fetch = http_json, root: Path = ROOT
) -> list[Path]:
    """Write one lock beside each requirements file; nothing is written if any fetch fails."""
    texts = {
        lock_path(requirements): lock_text(
            requirements, pypi_releases(own_pins(requirements, root), fetch)
        )
        for requirements in files
    }
    for path, text in texts.items():
        path.write_text(text, encoding="utf-8")
    return list(texts)


def main() -> int:
    try:
        written = write_locks()
    except UnpinnedRequirement as error:
        print(f"lock_hashes: {error}", file=sys.stderr)
        return 1
    except SourceUnavailable as error:
        print(f"lock_hashes: PyPI unavailable, no lock written: {error}", file=sys.stderr)
        return 2
    for path in written:
        print(f"lock_hashes: wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
