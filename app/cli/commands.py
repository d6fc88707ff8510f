"""The command line of CONTRACT.md §2: keys, users, demo and audit."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.audit.anchors import AnchorCheck, AnchorError, check_anchors, write_anchor
from app.audit.compare import compare_shipped
from app.audit.seal import SealRefused, seal
from app.audit.service import Actor, chain_key, record_event, record_key_switch, verify_chain
from app.audit.ship import STATE_FILE as SHIP_STATE_FILE
from app.audit.ship import Target, ship, target_for
from app.audit.syslog_tls import ShipError, TlsFiles
from app.auth.models import ROLES
from app.auth.service import (
    create_user,
    disable_user,
    end_all_sessions,
    end_everyones_sessions,
    find_user,
)
from app.cases import survivor_codes
from app.cases.access import case_numbers, cases_to_rekey, count_cases_to_rekey, count_survivors
from app.cases.index_rotation import count_left, reindex_under_active_key
from app.cases.name_tokens import reindex_batch
from app.cases.rekey import rekey_case
from app.cli.measures import measures_cli
from app.cli.stats import stats_cli
from app.core.errors import DomainError
from app.core.time import utcnow
from app.crypto.blind_index import status_code_subkey
from app.crypto.keyring import (
    RELOAD_CHECK_SECONDS,
    KeyFileError,
    KeyMaterial,
    KeyRing,
    write_key_file,
)
from app.crypto.service import count_keys_to_rewrap, get_keyring, recheck_canary, rewrap_all
from app.directory.catalogue import load_catalogues
from app.extensions import db
from app.referrals.merge import move_referrals
from app.referrals.service import flag_overdue
from app.retention.purge import PurgeReport, due_cases, purge, sweep

keys_cli = AppGroup("keys", help="Key-encryption keys and the Flask secret.")
users_cli = AppGroup("users", help="User accounts.")
audit_cli = AppGroup("audit", help="The audit log.")
referrals_cli = AppGroup("referrals", help="Referral housekeeping.")
catalogue_cli = AppGroup("catalogue", help="Territory, services, protection measures.")
search_cli = AppGroup("search", help="The blind indexes that find a survivor.")
records_cli = AppGroup("records", help="Retention: purging records past their period.")

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


def write_private(path: Path, text: str) -> None:
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
        if not ring.has_statistics_key:
            _refuse_under_credentials("adding the statistics key")
            ring.add_statistics_key()
            click.echo(f"added the statistics key {ring.statistics_key_id} (the others kept)")
    else:
        material = KeyMaterial.generate()
        write_key_file(key_file, material)
        click.echo(f"created key file {key_file} (active key {material.active_kek_id})")
    if not secret_file.exists() and not os.environ.get("RUTA_SECRET_KEY"):
        write_private(secret_file, secrets.token_hex(32))
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
@click.option("--role", required=True, help=", ".join(ROLES))
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
        report = purge(
            db.session,
            ring,
            years,
            batch,
            bar.update,
            due,
            erasures,
            Path(current_app.config["RUTA_ATTACHMENTS_DIR"]),
        )
    _print_purge(report, kept)
    click.echo(_anchor_now(ring))


def _print_purge(report: PurgeReport, kept: int) -> None:
    click.echo(
        f"purged {len(report.purged)} records ({len(report.erased)} by erasure request); "
        f"{kept} kept longer (minors); {report.rekeyed} data keys re-keyed; "
        f"{len(report.cohorts_destroyed)} cohort keys destroyed; "
        f"{report.files_removed} attachment files removed"
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
            db.session, ring.audit_keys, current_app.config["RUTA_AUDIT_ANCHOR_DIR"]
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
    audit_key = _keyring_or_exit().audit_keys
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
        result = seal(db.session, _keyring_or_exit().audit_keys, wait=True)
    except SealRefused as refused:
        raise click.ClickException(str(refused)) from None
    if result.problem:
        raise click.ClickException(f"sealing stopped: {result.problem}; run `audit verify`")
    click.echo(f"sealed {result.linked} events; the chain holds {result.count}")


def _ship_target() -> Target:
    config = current_app.config
    url = config.get("RUTA_AUDIT_SHIP_URL")
    if not url:
        raise click.ClickException("RUTA_AUDIT_SHIP_URL is not set: nowhere to ship to")
    files = TlsFiles(
        config.get("RUTA_AUDIT_SHIP_CA"),
        config.get("RUTA_AUDIT_SHIP_CERT"),
        config.get("RUTA_AUDIT_SHIP_KEY"),
    )
    try:
        return target_for(url, files, config.get("RUTA_AUDIT_SHIP_FACILITY", "local0"))
    except ShipError as error:
        raise click.ClickException(str(error)) from None


def _ship_progress(sent: int, total: int) -> None:
    click.echo(f"shipped {sent}/{total} events", err=True)


@audit_cli.command("ship")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000))
def audit_ship(batch: int) -> None:
    """Send the audit events not shipped yet to RUTA_AUDIT_SHIP_URL, in the chain's
    order (run it every minute; an interrupted run resends, never skips)."""
    target = _ship_target()
    state = Path(current_app.config["RUTA_AUDIT_ANCHOR_DIR"]) / SHIP_STATE_FILE
    report = ship(
        db.session, _keyring_or_exit().audit_key, CLI_ACTOR, target, state, batch, _ship_progress
    )
    db.session.commit()
    click.echo(f"shipped {report.sent} events (last event {report.last_id}) to {target.name}")
    if report.failure:
        raise click.ClickException(report.failure)


@audit_cli.command("compare")
@click.argument("shipped", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def audit_compare(shipped: Path) -> None:
    """Compare a shipped copy (JSON lines) with the database; exit 1 naming every event
    missing from it or different in it."""
    report = compare_shipped(db.session, shipped)
    db.session.rollback()
    for number in report.unreadable:
        click.echo(f"line {number}: not a shipped audit event", err=True)
    for event_id in report.missing:
        click.echo(f"missing: event {event_id}")
    for event_id, fields in report.different.items():
        click.echo(f"different: event {event_id} ({', '.join(fields)})")
    summary = (
        f"{report.compared} events compared: {len(report.missing)} missing, "
        f"{len(report.different)} different"
    )
    if not report.ok:
        raise click.ClickException(summary)
    click.echo(f"ok {summary}")


def register(app: Flask) -> None:
    for group in (
        keys_cli,
        users_cli,
        audit_cli,
        catalogue_cli,
        referrals_cli,
        search_cli,
        records_cli,
        measures_cli,
        stats_cli,
    ):
        app.cli.add_command(group)
    # A release leaves the demo out (release.sh): its command is there only in a checkout.
    if importlib.util.find_spec("app.cli.demo") is not None:
        from app.cli.demo import demo_cli

        app.cli.add_command(demo_cli)


# ---- replacing keys (docs/security.md, "Replacing keys") -------------------------------

SETTLE_OPTION = click.option(
    "--settle",
    default=RELOAD_CHECK_SECONDS + 1,
    show_default=True,
    type=click.FloatRange(0, 600),
    help="Seconds for serving workers to take up the new key before the old one goes.",
)


def _in_batches(step: Callable[[int], int], batch: int, limit: int | None, bar: Any) -> int:
    """Run `step(size)` (rows it redid) and commit, batch after batch, until it finds
    nothing more or `limit` rows are done: an interruption loses one batch at most."""
    done = 0
    while limit is None or done < limit:
        size = batch if limit is None else min(batch, limit - done)
        moved = step(size)
        db.session.commit()
        if moved == 0:
            break
        done += moved
        bar.update(moved)
    return done


def _reindex_all(ring: KeyRing, batch: int, limit: int | None, bar: Any) -> int:
    return _in_batches(
        lambda size: reindex_under_active_key(db.session, ring, size), batch, limit, bar
    )


@keys_cli.command("rotate-index")
@click.option("--batch", default=500, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--limit", type=click.IntRange(1), help="Re-index at most N survivors this run.")
@SETTLE_OPTION
def keys_rotate_index(batch: int, limit: int | None, settle: float) -> None:
    """Replace the index key: recompute every blind index and name token under a new
    one, then retire the old (resumable; searches find everyone meanwhile)."""
    _refuse_under_credentials("`keys rotate-index`")
    ring = _keyring_or_exit()
    began = time.monotonic()
    new_id = ring.rotate_index_key()
    recheck_canary(db.session, ring)  # before the old key can leave the file
    db.session.commit()
    total = count_left(db.session, ring)
    click.echo(f"active index key {new_id}; {total} survivors to re-index")
    with click.progressbar(length=total, label="re-indexing", file=sys.stderr) as bar:
        done = _reindex_all(ring, batch, limit, bar)
        if limit is None or done < limit:
            # A worker that has not re-read the key file yet may still write with the old key.
            time.sleep(max(0.0, began + settle - time.monotonic()))
            done += _reindex_all(ring, batch, None, bar)
    left = count_left(db.session, ring)
    if left:
        click.echo(f"{done} re-indexed; {left} left under the old key: run it again")
        return
    _retire_index_keys(ring, new_id)
    click.echo(f"done: {done} survivors re-indexed under {new_id}")


def _retire_index_keys(ring: KeyRing, new_id: str) -> None:
    gone = ring.retire_index_keys(status_code_subkey)
    detail = f"index={new_id} retired={','.join(gone) or '-'}"
    record_event(db.session, ring.audit_key, CLI_ACTOR, "key_rotation", detail=detail[:200])
    db.session.commit()
    if gone:
        click.echo(f"retired index keys {', '.join(gone)} (their status-code subkeys stay)")


def _seal_all(ring: KeyRing) -> int:
    try:
        result = seal(db.session, ring.audit_keys, wait=True)
    except SealRefused as refused:
        raise click.ClickException(str(refused)) from None
    if result.problem:
        raise click.ClickException(f"sealing stopped: {result.problem}; run `audit verify`")
    return result.count


@keys_cli.command("rotate-audit")
def keys_rotate_audit() -> None:
    """Replace the audit key: a switch event sealed under the old key names the new one,
    which signs events, links and anchors from there on (the old one stays, to verify)."""
    _refuse_under_credentials("`keys rotate-audit`")
    ring = _keyring_or_exit()
    _seal_all(ring)  # what is pending first, with an interrupted run's switch
    if chain_key(db.session, ring.audit_keys).key_id == ring.audit_keys.active_id:
        ring.rotate_audit_key()
    new_id = ring.audit_keys.active_id
    switch = record_key_switch(db.session, ring.audit_keys, CLI_ACTOR)
    recheck_canary(db.session, ring)
    db.session.commit()
    count = _seal_all(ring)
    click.echo(f"active audit key {new_id} from event {switch.id}; the chain holds {count}")
    click.echo(_anchor_now(ring))


REFERRAL_TABLES = ("referrals", "referral_events")  # re-sealed by the referrals' mover


def _rekey_batch(ring: KeyRing, made_before: datetime, batch: int, number: str | None) -> int:
    cases = cases_to_rekey(db.session, made_before, batch, number)
    directory = current_app.config["RUTA_ATTACHMENTS_DIR"]
    old_files: list[Path] = []
    for case in cases:
        old_files += rekey_case(
            db.session, ring, CLI_ACTOR, case, directory, (move_referrals,), REFERRAL_TABLES
        )
    db.session.commit()
    for path in old_files:  # the database points at the new files now
        path.unlink(missing_ok=True)
    return len(cases)


@keys_cli.command("rekey-cases")
@click.option("--case", "number", help="Only the case of this number.")
@click.option("--batch", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option(
    "--older-than",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S"]),
    help="Re-key the data keys made before this UTC time (to resume a stopped run).",
)
def keys_rekey_cases(number: str | None, batch: int, older_than: datetime | None) -> None:
    """Give cases new data keys and seal every ciphertext of theirs (attachments too)
    again under them; the old keys are destroyed. Resumable, one commit per batch."""
    ring = _keyring_or_exit()
    made_before = older_than.replace(tzinfo=UTC) if older_than else utcnow()
    stamp = made_before.strftime("%Y-%m-%dT%H:%M:%S")
    total = count_cases_to_rekey(db.session, made_before, number)
    if number is not None and total == 0:
        raise click.ClickException(f"no case {number} to re-key (unknown or purged)")
    click.echo(f"{total} cases to re-key (to resume: --older-than {stamp})")
    done = 0
    with click.progressbar(length=total, label="re-keying", file=sys.stderr) as bar:
        while moved := _rekey_batch(ring, made_before, batch, number):
            done += moved
            bar.update(moved)
    click.echo(f"done: {done} cases re-keyed")
    click.echo(_anchor_now(ring))


# ---- the statistics key (docs/statistics.md, "Counting women") --------------------------


def _recode_all(ring: KeyRing, batch: int, limit: int | None, bar: Any) -> int:
    return _in_batches(
        lambda size: survivor_codes.recode_under_active_key(db.session, ring, size),
        batch,
        limit,
        bar,
    )


def _recode(ring: KeyRing, batch: int, limit: int | None) -> tuple[int, int]:
    """(codes made, survivors still coded by another key)."""
    total = survivor_codes.count_left(db.session, ring)
    click.echo(f"statistics key {ring.statistics_key_id}; {total} survivor codes to make")
    with click.progressbar(length=total, label="coding", file=sys.stderr) as bar:
        done = _recode_all(ring, batch, limit, bar)
    return done, survivor_codes.count_left(db.session, ring)


BATCH_OPTION = click.option(
    "--batch", default=500, show_default=True, type=click.IntRange(1, 100_000)
)
LIMIT_OPTION = click.option(
    "--limit", type=click.IntRange(1), help="Code at most N survivors this run."
)


@keys_cli.command("statistics-codes")
@BATCH_OPTION
@LIMIT_OPTION
def keys_statistics_codes(batch: int, limit: int | None) -> None:
    """Make the survivor codes that are missing (after the upgrade that adds them)."""
    ring = _keyring_or_exit()
    done, left = _recode(ring, batch, limit)
    click.echo(f"done: {done} survivor codes made; {left} left")


@keys_cli.command("rotate-statistics")
@BATCH_OPTION
@LIMIT_OPTION
@SETTLE_OPTION
def keys_rotate_statistics(batch: int, limit: int | None, settle: float) -> None:
    """Replace the statistics key: every survivor code is made again under a new key
    and the old key is destroyed, so exports made before no longer link to new ones
    (resumable: run it again after an interruption)."""
    _refuse_under_credentials("`keys rotate-statistics`")
    ring = _keyring_or_exit()
    began = time.monotonic()
    new_id = ring.rotate_statistics_key()
    done, left = _recode(ring, batch, limit)
    if not left and (limit is None or done < limit):
        # A worker that has not re-read the key file yet may still code with the old key.
        time.sleep(max(0.0, began + settle - time.monotonic()))
        more, left = _recode(ring, batch, None)
        done += more
    if left:
        click.echo(f"{done} coded; {left} left under the old key: run it again")
        return
    gone = ring.destroy_retiring_statistics_keys()
    detail = f"statistics={new_id} destroyed={gone}"
    record_event(db.session, ring.audit_key, CLI_ACTOR, "key_rotation", detail=detail)
    db.session.commit()
    click.echo(f"done: {done} survivor codes made under {new_id}; {gone} old keys destroyed")
