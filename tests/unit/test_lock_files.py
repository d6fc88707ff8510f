"""The hash locks (`requirements*.lock`, written by tools/lock_hashes.py) match the pins.

A pin changed in requirements.txt without `python -m tools.lock_hashes` would install
the old version under --require-hashes: this test names the pins that differ.
"""

from __future__ import annotations

import re
from pathlib import Path

from tools.lock_hashes import lock_path, lock_text, own_pins
from tools.pins import REQUIREMENT_FILES, Pin, canonical_name
from tools.registry import Release, ReleaseFile

ENTRY = re.compile(
    r"^(?P<name>\S+)==(?P<version>\S+)(?P<hashes>(?:\s+--hash=sha256:[0-9a-f]{64})+)$"
)


def locked(text: str) -> tuple[list[str], dict[str, tuple[str, int]]]:
    """The `-r` lines and, per package, its version and how many hashes it carries."""
    joined = text.replace("\\\n", " ")
    lines = [line.strip() for line in joined.splitlines() if line.strip()]
    includes = [line for line in lines if line.startswith("-r ")]
    entries = {}
    for line in lines:
        if line.startswith(("#", "-r ")):
            continue
        match = ENTRY.match(line)
        assert match, f"not a hashed pin: {line}"
        entries[canonical_name(match["name"])] = (match["version"], match["hashes"].count("--hash"))
    return includes, entries


def test_each_lock_pins_exactly_what_its_requirements_file_pins_with_hashes() -> None:
    for requirements in REQUIREMENT_FILES:
        _, entries = locked(lock_path(requirements).read_text(encoding="utf-8"))

        wanted = {pin.key: pin.version for pin in own_pins(requirements)}
        assert {key: version for key, (version, _) in entries.items()} == wanted
        assert all(count >= 1 for _, count in entries.values())
    dev_includes, _ = locked(lock_path(REQUIREMENT_FILES[1]).read_text(encoding="utf-8"))
    assert dev_includes == ["-r requirements.lock"]


def test_a_lock_carries_every_published_file_once(tmp_path: Path) -> None:
    (tmp_path / "base.txt").write_text("pillow==13.0.0\n")
    requirements = tmp_path / "dev.txt"
    requirements.write_text("-r base.txt\nlxml==6.1.3\n")
    pin = Pin("pypi", "lxml", "6.1.3", "dev.txt")
    files = (
        ReleaseFile("lxml-6.1.3-cp311-manylinux.whl", "u1", "b" * 64),
        ReleaseFile("lxml-6.1.3-cp313-win_amd64.whl", "u2", "a" * 64),
        ReleaseFile("lxml-6.1.3.tar.gz", "u3", "b" * 64),
    )

    text = lock_text(requirements, [Release(pin, files, [])])

    assert [pin.name for pin in own_pins(requirements, tmp_path)] == ["lxml"]
    assert text.splitlines()[2:] == [
        "-r base.lock",
        "lxml==6.1.3 \\",
        f"    --hash=sha256:{'a' * 64} \\",
        f"    --hash=sha256:{'b' * 64}",
    ]
