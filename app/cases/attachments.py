"""Attachment storage: cleaned bytes sealed with the case's data key, under random names.

When a scanner is configured (RUTA_CLAMD), the bytes as sent are scanned by clamd first
(`antivirus`): a detection is refused like a bad file (422) and audited, and a scanner
that cannot answer is `Unavailable` (503); either way nothing is written.

Only ciphertext is ever written: the upload is rebuilt in memory (`sanitise`: a PDF
without active content, an image re-encoded), sealed,
and the sealed blob goes to a temporary file in the same directory, which is fsynced and
renamed into place, so a crash leaves either nothing or a whole file. The content is
sealed with the attachment's id as associated data: a file copied over another
attachment's does not decrypt. A store that cannot be written or read (missing,
read-only, full) is `Unavailable` (503), never a 500. The download's name and type come
from the cleaned content (`adjunto-<id>.pdf`), never from what the uploader called it.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

from flask_babel import gettext

from app.audit.service import audit, audit_change
from app.auth.caller import Caller
from app.auth.throttle_store import charge_read, charge_write
from app.cases import access, policy
from app.cases.antivirus import SIZE_LIMIT, Clamd
from app.cases.care_models import Attachment
from app.cases.files import safe_filename
from app.cases.sanitise import EXTENSIONS, RefusedFile, sanitise
from app.core.db import DbSession
from app.core.errors import NotFound, Unavailable
from app.core.i18n import N_
from app.core.ids import new_id
from app.core.time import utcnow
from app.crypto.envelope import FieldCipher
from app.crypto.keyring import KeyRing
from app.crypto.service import cipher_for

TABLE = "attachments"
_STORAGE_NAME = re.compile(r"[0-9a-f]{32}")
INFECTED = N_("El archivo fue rechazado por el antivirus.")
TOO_LARGE_TO_SCAN = N_("El archivo es demasiado grande para que el antivirus lo revise.")


class RefusedByAntivirus(RefusedFile):
    """clamd named a signature in the upload, or did not read it to the end. `finding`
    (the signature's name, or SIZE_LIMIT) goes to the audit log, the file's name never."""

    def __init__(self, case_id: uuid.UUID, finding: str) -> None:
        super().__init__(gettext(TOO_LARGE_TO_SCAN if finding == SIZE_LIMIT else INFECTED))
        self.case_id = case_id
        self.finding = finding


def attachment_path(directory: Path, storage_name: str) -> Path:
    """The file of a storage name; anything but 32 hex digits could escape the directory."""
    if not _STORAGE_NAME.fullmatch(storage_name):
        raise ValueError("invalid attachment storage name")
    return directory / storage_name


def _ensure_directory(directory: Path) -> None:
    if not directory.is_dir():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        directory.chmod(0o700)  # mkdir's mode is reduced by the umask


def _write_atomically(path: Path, ciphertext: bytes) -> None:
    """Temp file (0600, same directory), fsync, rename; then fsync the directory entry."""
    _ensure_directory(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(ciphertext)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def store_attachment(
    session: DbSession,
    cipher: FieldCipher,
    *,
    case_id: uuid.UUID,
    institution_id: int,
    user_id: int,
    directory: Path,
    filename: str,
    data: bytes,
    description: str | None,
) -> Attachment:
    """Check, rebuild, seal and write the file, then add its row; the caller commits."""
    clean = sanitise(data)
    content_type, cleaned = clean.content_type, clean.content
    attachment_id = new_id()  # the id is sealed into every field, so it comes first
    attachment = Attachment(
        id=attachment_id,
        case_id=case_id,
        institution_id=institution_id,
        user_id=user_id,
        filename_enc=cipher.seal(TABLE, attachment_id, "filename", safe_filename(filename)),
        description_enc=cipher.seal(
            TABLE, attachment_id, "description", (description or "").strip() or None
        ),
        content_type=content_type,
        size=len(cleaned),
        storage_name=secrets.token_hex(16),
    )
    path = attachment_path(directory, attachment.storage_name)
    try:
        _write_atomically(path, cipher.seal(TABLE, attachment_id, "content", cleaned) or b"")
    except OSError as exc:  # no directory, read-only, disk full (ENOSPC)…
        with contextlib.suppress(OSError):  # renamed, then the directory's fsync failed
            path.unlink(missing_ok=True)
        raise Unavailable("attachment store not writable", {"cause": store_failure(exc)}) from exc
    try:
        session.add(attachment)
        session.flush()
    except BaseException:
        path.unlink(missing_ok=True)  # no row points at it: do not leave ciphertext behind
        raise
    return attachment


def read_attachment(cipher: FieldCipher, attachment: Attachment, directory: Path) -> bytes:
    """The stored (cleaned) bytes; DecryptionError if the file was altered or moved."""
    path = attachment_path(directory, attachment.storage_name)
    try:
        blob = path.read_bytes()
    except FileNotFoundError as exc:
        raise NotFound(
            "attachment file missing", {"file": [gettext("El archivo no se encuentra.")]}
        ) from exc
    except OSError as exc:  # the store is there but cannot be read (permissions, I/O)
        raise Unavailable("attachment store not readable", {"cause": store_failure(exc)}) from exc
    return cipher.open_bytes(TABLE, attachment.id, "content", blob) or b""


def add_attachment(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    upload: Upload,
    directory: Path,
    *,
    scanner: Clamd | None,
) -> tuple[Attachment, FieldCipher]:
    """An upload added to a case the caller may add to; audited with its type only.
    Scanned as sent, before sanitising: the original is what may carry the malware."""
    charge_write(caller.id, "upload")
    case = access.case_for(session, caller, case_id).case
    if scanner is not None:
        refuse_if_detected(scanner, case.id, upload.data)
    cipher = cipher_for(ring, case.data_key)
    attachment = store_attachment(
        session,
        cipher,
        case_id=case.id,
        institution_id=caller.institution_id,
        user_id=caller.id,
        directory=directory,
        filename=upload.filename,
        data=upload.data,
        description=upload.description,
    )
    case.updated_at = utcnow()
    audit_change(
        session,
        ring.audit_key,
        caller,
        case.id,
        "attachment",
        attachment.id,
        f"attachment:{attachment.content_type}",
    )
    return attachment, cipher


def refuse_if_detected(scanner: Clamd, case_id: uuid.UUID, data: bytes) -> None:
    verdict = scanner.scan(data)  # ScannerUnavailable (503) when clamd cannot answer
    if verdict.refused is not None:
        raise RefusedByAntivirus(case_id, verdict.refused)


def record_antivirus_refusal(
    session: DbSession, ring: KeyRing, caller: Caller, refusal: RefusedByAntivirus
) -> None:
    """What a refused upload leaves behind, once the request is rolled back: who tried,
    on which case, and what clamd found. The faces keep it (`record_despite_failure`)."""
    audit(
        session,
        ring.audit_key,
        caller,
        "attachment_refused",
        object_type="attachment",
        case_id=refusal.case_id,
        detail=f"antivirus:{refusal.finding}",
    )


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    description: str | None = None


@dataclass(frozen=True)
class Download:
    content: bytes
    content_type: str
    name: str


def download_attachment(
    session: DbSession,
    ring: KeyRing,
    caller: Caller,
    case_id: uuid.UUID | None,
    attachment_id: uuid.UUID | None,
    directory: Path,
) -> Download:
    """The file's bytes for a party that may see it, audited before they leave (a read:
    allowed on a closed case too)."""
    found = access.case_for(session, caller, case_id, closed_ok=True)
    charge_read(caller.id, "attachment")
    attachment = session.get(Attachment, attachment_id) if attachment_id else None
    if (
        attachment is None
        or attachment.case_id != found.case.id
        or not policy.sees_part(found.view, caller.institution_id, attachment.institution_id)
    ):
        raise NotFound("attachment not found")
    cipher = cipher_for(ring, found.case.data_key)
    content = read_attachment(cipher, attachment, directory)
    audit(
        session,
        ring.audit_key,
        caller,
        "attachment_download",
        object_type="attachment",
        object_id=attachment.id,
        case_id=found.case.id,
    )
    return Download(content, attachment.content_type, download_name(attachment))


def download_name(attachment: Attachment) -> str:
    """`adjunto-1a2b3c4d.pdf`: the extension of the type the content really is. The
    uploader's name (kept, sealed, for the case page) could say `.html` or `.exe`."""
    return f"adjunto-{attachment.id.hex[:8]}{EXTENSIONS.get(attachment.content_type, '')}"


def store_failure(error: OSError) -> str:
    """What went wrong with the store, for the log: the errno's name, never the path."""
    return errno.errorcode.get(error.errno or 0, type(error).__name__)
