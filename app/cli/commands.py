"""The command line of CONTRACT.md §2: keys, users, demo and audit."""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import NoReturn

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.audit.anchors import AnchorCheck, AnchorError, check_anchors, write_anchor
from app.audit.seal import SealRefused, seal
from app.audit.service import Actor, record_event, verify_chain
from app.auth.service import (
    create_user,
    disable_user,
    end_all_sessions,
    end_everyones_sessions,
    find_user,
)
from app.cases.access import case_numbers, count_survivors
from app.cases.name_tokens import reindex_batch
from app.cli.demo import load_demo_users, load_directory
from app.core.errors import DomainError
from app.crypto.keyring import KeyFileError, KeyMaterial, KeyRing, write_key_file
from app.crypto.service import count_keys_to_rewrap, get_keyring, rewrap_all
from app.directory.catalogue import load_catalogues
from app.extensions import db
from app.referrals.service import flag_overdue
from app.retention.purge import PurgeReport, due_cases, purge, sweep

keys_cli = AppGroup("keys", help="Key-encryption keys and the Flask secret.")
users_cli = AppGroup("users", help="User accounts.")
demo_cli = AppGroup("demo", help="The Sonsonate demo network.")
audit_cli = AppGroup("audit", help="The audit log.")
referrals_cli = AppGroup("referrals", help="Referral housekeeping.")
catalogue_cli = AppGroup("catalogue", help="Territory, services, protection measures.")
search_cli = AppGroup("search", help="The blind indexes that find a survivor.")
records_cli = AppGroup("records", help="Retention: purging records past their period.")

DEMO_LOGINS_FILE = "demo-logins.txt"
CLI_ACTOR = Actor(None, "cli", None, "operator")


def _refuse_under_credentials(what: str) -> None:
    """Under systemd credentials the key file is a read-only copy that systemd decrypted
    at start: a change made there would be lost at the next start, and with it the keys
    that data was re-wrapped with."""
    directory = current_app.config.get("RUTA_CREDENTIALS_DIR")
    if directory is None:
        return
    raise click.ClickException(
        f"{what} would write the key file, which here is the read-only systemd credential "
        f"{current_app.config['RUTA_KEY_FILE']}: nothing was changed. Do it offline: stop "
        "Ruta, `systemd-creds decrypt` the credentials into a private tmpfs, run the "
        "command there with RUTA_KEY_FILE and RUTA_SECRET_FILE set and CREDENTIALS_DIRECTORY "
        "unset, `systemd-creds encrypt --tpm2-device=auto` what it wrote back into "
        "/etc/credstore.encrypted/ and start Ruta (docs/deployment-secrets.md)"
    )


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


@keys_cli.command("init")
def keys_init() -> None:
    """Create the key file (mode 0600) and the Flask secret, if missing."""
    key_file: Path = current_app.config["RUTA_KEY_FILE"]
    secret_file: Path = current_app.config["RUTA_SECRET_FILE"]
    if not (key_file.exists() and secret_file.exists()):
        _refuse_under_credentials("`keys init`")
    if key_file.exists():
        ring = KeyRing(key_file)
        click.echo(f"key file exists: {key_file} (active key {ring.active_kek_id})")
    else:
        material = KeyMaterial.generate()
        write_key_file(key_file, material)
        click.echo(f"created key file {key_file} (active key {material.active_kek_id})")
    if not secret_file.exists() and not os.environ.get("RUTA_SECRET_KEY"):
        _write_private(secret_file, secrets.token_hex(32))
        click.echo(f"created secret key file {secret_file}")


@keys_cli.command("rotate")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000))
def keys_rotate(batch: int) -> None:
    """Make a new active KEK and re-wrap every data key under it (resumable)."""
    _refuse_under_credentials("`keys rotate`")
    ring = _keyring_or_exit()
    new_id = ring.rotate()
    total = count_keys_to_rewrap(db.session, new_id)
    click.echo(f"new active key {new_id}; {total} data keys to re-wrap")
    with click.progressbar(length=total, label="re-wrapping", file=sys.stderr) as bar:
        done = rewrap_all(db.session, ring, batch, bar.update)
    click.echo(f"done: {done} data keys now under {new_id}")
    click.echo(_anchor_now(ring))


@users_cli.command("create")
@click.argument("username")
@click.option("--institution", required=True, help="Institution code, e.g. PNC-SON")
@click.option(
    "--role", required=True, help="pnc_agent, health_staff, womens_office, supervisor, admin"
)
@click.option("--name", default="", help="Display name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input")
def users_create(
    username: str, institution: str, role: str, name: str, password_stdin: bool
) -> None:
    """Create a user; prints one JSON line with the TOTP secret to hand over in person."""
    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    if password_stdin and not password:
        raise click.ClickException("no password on standard input")
    try:
        ring = get_keyring()
        new = create_user(
            db.session,
            ring,
            username=username,
            institution_code=institution,
            role=role,
            display_name=name,
            password=password,
            with_totp=current_app.config["RUTA_REQUIRE_MFA"],
        )
        record_event(
            db.session,
            ring.audit_key,
            CLI_ACTOR,
            "user_create",
            object_type="user",
            object_id=new.user.id,
            detail=f"role={new.user.role}",
        )
        db.session.commit()
    except DomainError as error:
        db.session.rollback()
        raise click.ClickException(error.message) from None
    line = {"id": new.user.id, "username": new.user.username, "totp_secret": new.totp_secret}
    if new.one_time_password:
        line["one_time_password"] = new.one_time_password
    click.echo(json.dumps(line))


@users_cli.command("disable")
@click.argument("username")
def users_disable(username: str) -> None:
    """Disable a user: every session and token of theirs ends at once."""
    user = find_user(db.session, username)
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    disable_user(user)
    record_event(
        db.session,
        get_keyring().audit_key,
        CLI_ACTOR,
        "user_update",
        object_type="user",
        object_id=user.id,
        detail="disabled",
    )
    db.session.commit()
    click.echo(f"disabled {user.username}")


@users_cli.command("end-sessions")
@click.argument("username", required=False)
@click.option("--all", "everyone", is_flag=True, help="Every user's sessions and tokens")
def users_end_sessions(username: str | None, everyone: bool) -> None:
    """End every web session and API token of one user, or (--all) of every user."""
    if everyone == bool(username):
        raise click.UsageError("give a USERNAME or --all, not both")
    if everyone:
        count = end_everyones_sessions(db.session)
        object_id, detail, said = None, "end_sessions_all", f"ended the sessions of {count} users"
    else:
        user = find_user(db.session, username or "")
        if user is None:
            raise click.ClickException(f"no user {username!r}")
        end_all_sessions(user)
        object_id, detail, said = user.id, "end_sessions", f"ended the sessions of {user.username}"
    record_event(
        db.session,
        get_keyring().audit_key,
        CLI_ACTOR,
        "user_update",
        object_type="user",
        object_id=object_id,
        detail=detail,
    )
    db.session.commit()
    click.echo(said)


@catalogue_cli.command("load")
def catalogue_load() -> None:
    """The 2024 territory, services and protection measures (idempotent)."""
    report = load_catalogues(db.session)
    db.session.commit()
    for level, added in report.added.items():
        click.echo(f"{level}: {added} added, {report.updated[level]} updated")
    click.echo("catalogues loaded")


@referrals_cli.command("flag-overdue")
def referrals_flag_overdue() -> None:
    """Notify both sides and the supervisors of newly overdue referrals (run it from cron)."""
    count = flag_overdue(db.session)
    db.session.commit()
    click.echo(f"{count} referrals newly overdue")


@search_cli.command("reindex")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000))
def search_reindex(batch: int) -> None:
    """(Re)build the name tokens and phone indexes of every survivor (resumable: each
    batch is committed; a second run rewrites the same values)."""
    ring = get_keyring()
    total = count_survivors(db.session)
    done, after = 0, None
    with click.progressbar(length=total, label="indexing", file=sys.stderr) as bar:
        while True:
            count, after = reindex_batch(db.session, ring, after, batch)
            db.session.commit()
            if count == 0:
                break
            done += count
            bar.update(count)
    click.echo(f"done: {done} survivors indexed")


@demo_cli.command("load")
def demo_load() -> None:
    """Load the demo network and users (idempotent); prints logins only when it creates them."""
    load_directory(db.session)
    password = os.environ.get("RUTA_DEMO_PASSWORD") or secrets.token_urlsafe(12)
    created = load_demo_users(
        db.session, get_keyring(), password, with_totp=current_app.config["RUTA_REQUIRE_MFA"]
    )
    db.session.commit()
    if not created:
        click.echo("demo network present; demo users exist already")
        return
    lines = [f"Demo logins (password for all: {password})"]
    lines += [
        f"  {login.username:<12} {login.role:<14} {login.institution:<8} "
        f"TOTP secret: {login.totp_secret or '-'}"
        for login in created
    ]
    text = "\n".join(lines) + "\n"
    # Beside the secret file (instance/ by default), so that a run with its own
    # RUTA_SECRET_FILE, such as a test, never overwrites another instance's logins.
    logins_file = Path(current_app.config["RUTA_SECRET_FILE"]).parent / DEMO_LOGINS_FILE
    _write_private(logins_file, text)
    click.echo(text)


@records_cli.command("purge")
@click.option("--dry-run", is_flag=True, help="Only list what would be purged.")
@click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 10_000))
def records_purge(dry_run: bool, batch: int) -> None:
    """Destroy the keys of closed records past their retention period and of approved
    erasures (held ones excepted); safe to interrupt and to run again."""
    ring = _keyring_or_exit()
    years = current_app.config["RUTA_RETENTION_YEARS"]
    if not dry_run:
        _refuse_under_credentials("`records purge`")
        try:
            moved = sweep(db.session, ring)
        except (KeyFileError, OSError) as error:
            db.session.rollback()
            raise click.ClickException(f"cannot write the key file: {error}") from None
        if moved:
            click.echo(f"{moved} data keys put under their retention cohort key")
    due, erasures, kept = due_cases(db.session, ring, years)
    numbers = case_numbers(db.session, set(due))
    if dry_run:
        click.echo(f"would purge {len(due)} records ({kept} kept longer: minors)")
        for case_id in due:
            click.echo(f"  {numbers[case_id]}")
        return
    with click.progressbar(length=len(due), label="purging", file=sys.stderr) as bar:
        report = purge(db.session, ring, years, batch, bar.update, due, erasures)
    _print_purge(report, kept)
    click.echo(_anchor_now(ring))


def _print_purge(report: PurgeReport, kept: int) -> None:
    click.echo(
        f"purged {len(report.purged)} records ({len(report.erased)} by erasure request); "
        f"{kept} kept longer (minors); {report.rekeyed} data keys re-keyed; "
        f"{len(report.cohorts_destroyed)} cohort keys destroyed"
    )
    for number in report.purged:
        click.echo(f"  {number}")
    if report.under_kek:
        click.echo(
            f"warning: {len(report.under_kek)} of them were under the main key, not a "
            "cohort key: database backups made before this run still open them until "
            "`keys rotate` and the old key's removal (docs/retention.md)",
            err=True,
        )


def _keyring_or_exit() -> KeyRing:
    try:
        return get_keyring()
    except KeyFileError as error:
        raise click.ClickException(str(error)) from None


def _anchor_now(ring: KeyRing) -> str:
    try:
        anchor, path = write_anchor(
            db.session, ring.audit_key, current_app.config["RUTA_AUDIT_ANCHOR_DIR"]
        )
    except (AnchorError, OSError) as error:
        raise click.ClickException(f"no anchor written: {error}") from None
    finally:
        db.session.rollback()
    return f"anchored {anchor.count} events (last event {anchor.last_id}) in {path}"


@audit_cli.command("anchor")
def audit_anchor() -> None:
    """Append the sealed head of the audit chain to today's anchor file (also from cron)."""
    click.echo(_anchor_now(_keyring_or_exit()))


def _broken(event_id: int | None, problem: str | None) -> NoReturn:
    where = f"broken at event {event_id}" if event_id else "broken anchor"
    click.echo(f"{where}: {problem}", err=True)
    sys.exit(1)


def _anchor_note(check: AnchorCheck) -> str:
    if check.anchor is None:
        return f"no anchor yet in {current_app.config['RUTA_AUDIT_ANCHOR_DIR']}"
    return f"anchor of {check.anchor.at} ({check.anchor.count} events) ok"


@audit_cli.command("verify")
def audit_verify() -> None:
    """Check the audit hash chain and its newest anchors; exit 1 naming the first broken
    or missing event."""
    audit_key = _keyring_or_exit().audit_key
    result = verify_chain(db.session, audit_key)
    if not result.ok:
        _broken(result.broken_event_id, result.problem)
    anchor_dir = current_app.config["RUTA_AUDIT_ANCHOR_DIR"]
    check = check_anchors(db.session, audit_key, anchor_dir, result.events - result.pending)
    if not check.ok:
        _broken(check.broken_event_id, check.problem)
    click.echo(f"ok {result.events} events")
    # On stderr: scripts read stdout, which stays `ok N events` (CONTRACT.md §2).
    click.echo(_anchor_note(check), err=True)
    if result.pending:
        click.echo(f"{result.pending} of them not sealed yet (`audit seal` links them)", err=True)


@audit_cli.command("seal")
def audit_seal() -> None:
    """Chain the audit events written since the last seal (the application does it by
    itself every RUTA_AUDIT_SEAL_SECONDS while it writes)."""
    try:
        result = seal(db.session, _keyring_or_exit().audit_key, wait=True)
    except SealRefused as refused:
        raise click.ClickException(str(refused)) from None
    if result.problem:
        raise click.ClickException(f"sealing stopped: {result.problem}; run `audit verify`")
    click.echo(f"sealed {result.linked} events; the chain holds {result.count}")


def register(app: Flask) -> None:
    for group in (
        keys_cli,
        users_cli,
        demo_cli,
        audit_cli,
        catalogue_cli,
        referrals_cli,
        search_cli,
        records_cli,
    ):
        app.cli.add_command(group)
