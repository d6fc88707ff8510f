"""What a production server gets (ASVS 15.2.3): a release without tests, benchmarks or the
demo, and a `demo load` that never joins a database in real use."""

from __future__ import annotations

import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.auth.models import User
from app.cli.demo import DEMO_USERS
from app.extensions import db

REPO = Path(__file__).resolve().parent.parent


def demo_accounts(app) -> int:
    names = [row[0] for row in DEMO_USERS]
    with app.app_context():
        return db.session.scalar(select(func.count()).where(User.username.in_(names)))


def test_demo_load_refuses_a_database_with_real_accounts_and_creates_nothing(app, pnc):
    result = app.test_cli_runner().invoke(args=["demo", "load"])

    assert result.exit_code == 1
    assert "real accounts" in result.output
    assert demo_accounts(app) == 0


def test_demo_load_stays_idempotent_on_a_demo_database(app):
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    again = runner.invoke(args=["demo", "load"])
    assert again.exit_code == 0, again.output
    assert "demo users exist already" in again.output
    assert demo_accounts(app) == len(DEMO_USERS)


def test_the_release_has_no_tests_benchmarks_demo_or_test_switches(tmp_path):
    if not (REPO / ".git").exists():
        pytest.skip("not a git checkout: release.sh builds from git")
    archive = tmp_path / "ruta.tar.gz"
    built = subprocess.run(
        [str(REPO / "release.sh"), str(archive)], cwd=REPO, capture_output=True, text=True
    )
    assert built.returncode == 0, built.stderr
    tree = tmp_path / "release"
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        tar.extractall(tree, filter="data")
    assert "wsgi.py" in names and "app/__init__.py" in names
    assert not [n for n in names if n.startswith(("tests/", "bench/", ".git"))]
    assert "app/cli/demo.py" not in names
    source = "\n".join(p.read_text() for p in (tree / "app").rglob("*.py"))
    assert "fast_hashing" not in source

    probe = (
        "from flask import Flask\n"
        "from app.cli import commands\n"
        "app = Flask('probe')\n"
        "commands.register(app)\n"
        "print(sorted(app.cli.commands))\n"
    )
    listed = subprocess.run([sys.executable, "-c", probe], cwd=tree, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert "'keys'" in listed.stdout and "'users'" in listed.stdout
    assert "'demo'" not in listed.stdout
