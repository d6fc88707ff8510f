"""Attachments: type by content, image metadata stripped, encrypted storage on disk.

What is stored is rebuilt by app/cases/sanitise.py (tests/test_uploads_sanitised.py)."""

from __future__ import annotations

import io
import os
import stat
import struct
import uuid
import zlib
from pathlib import Path

import pikepdf
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload

from app.cases.attachments import attachment_path, read_attachment, store_attachment
from app.cases.care_models import Attachment
from app.cases.files import (
    MAX_BYTES,
    clean_upload,
    safe_filename,
    sniff_type,
    strip_jpeg_metadata,
    strip_png_metadata,
)
from app.cases.models import Case
from app.cases.sanitise import sanitise
from app.core.errors import InvalidInput, NotFound
from app.crypto.envelope import DecryptionError, FieldCipher
from app.crypto.service import cipher_for
from app.extensions import db
from tests import factories
from tests.conftest import Person

SECRET = b"GPS 13.7N Sonsonate"
MARKER = b"RUTA-PLAINTEXT-MARKER-0123456789"  # 32 bytes that must never reach the disk

# ---- samples, built in code ------------------------------------------------------------


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
IHDR = png_chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))  # 1×1 grey, 8 bit
IDAT = png_chunk(b"IDAT", zlib.compress(b"\x00\x80"))  # filter byte, one mid-grey pixel
IEND = png_chunk(b"IEND", b"")
GAMA = png_chunk(b"gAMA", struct.pack(">I", 45455))
PNG_PLAIN = PNG_SIGNATURE + IHDR + IDAT + IEND
PNG_WITH_METADATA = (
    PNG_SIGNATURE
    + IHDR
    + GAMA
    + png_chunk(b"tEXt", b"Comment\x00" + SECRET)
    + png_chunk(b"iTXt", b"Description\x00\x00\x00es\x00\x00" + SECRET)
    + png_chunk(b"eXIf", b"MM\x00*\x00\x00\x00\x08" + SECRET)
    + png_chunk(b"tIME", struct.pack(">HBBBBB", 2026, 10, 30, 21, 15, 0))
    + png_chunk(b"pHYs", struct.pack(">IIB", 2835, 2835, 1))
    + IDAT
    + png_chunk(b"zTXt", b"Author\x00\x00" + zlib.compress(SECRET))
    + IEND
    + b"trailing "
    + SECRET
)


def jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


# A baseline 8×8 greyscale JPEG, mid-grey: one-symbol Huffman tables (code "0" for DC
# category 0 and for end-of-block), so the whole scan is the bits 00 padded with ones.
JFIF = jpeg_segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
DQT = jpeg_segment(0xDB, b"\x00" + b"\x01" * 64)
SOF0 = jpeg_segment(0xC0, b"\x08" + struct.pack(">HH", 8, 8) + b"\x01\x01\x11\x00")
DHT = jpeg_segment(0xC4, b"\x00\x01" + b"\x00" * 15 + b"\x00") + jpeg_segment(
    0xC4, b"\x10\x01" + b"\x00" * 15 + b"\x00"
)
SOS = jpeg_segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
SCAN = b"\x3f"
ICC = jpeg_segment(0xE2, b"ICC_PROFILE\x00\x01\x01" + b"\x00" * 16)
ADOBE = jpeg_segment(0xEE, b"Adobe\x00\x64\x00\x00\x00\x00\x00")
EXIF = jpeg_segment(0xE1, b"Exif\x00\x00MM\x00*GPSLatitude " + SECRET)
XMP = jpeg_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00<x:xmpmeta>" + SECRET)
IPTC = jpeg_segment(0xED, b"Photoshop 3.0\x008BIM" + SECRET)
MPF = jpeg_segment(0xE2, b"MPF\x00" + SECRET)
COM = jpeg_segment(0xFE, SECRET)
JPEG_PLAIN = b"\xff\xd8" + JFIF + DQT + SOF0 + DHT + SOS + SCAN + b"\xff\xd9"
JPEG_WITH_METADATA = (
    b"\xff\xd8"
    + JFIF
    + EXIF
    + XMP
    + ICC
    + IPTC
    + MPF
    + ADOBE
    + COM
    + DQT
    + SOF0
    + DHT
    + SOS
    + SCAN
    + b"\xff\xd9"
    + b"motion photo "
    + SECRET
)

# One page whose content stream is the marker: the cleaner copies streams as they are.
PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [4 0 R] /Count 1 >> endobj\n"
    b"3 0 obj << /Length 32 >> stream\n" + MARKER + b"\nendstream endobj\n"
    b"4 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R >> endobj\n"
    b"trailer << /Root 1 0 R >>\n%%EOF\n"
)


# ---- type by content -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (PDF, "application/pdf"),
        (PNG_PLAIN, "image/png"),
        (PNG_WITH_METADATA, "image/png"),
        (JPEG_PLAIN, "image/jpeg"),
        (JPEG_WITH_METADATA, "image/jpeg"),
    ],
)
def test_accepted_types_are_recognised_by_their_bytes(data: bytes, expected: str) -> None:
    assert sniff_type(data) == expected
    assert clean_upload(data)[0] == expected


def test_the_name_and_declared_type_do_not_matter() -> None:
    # What the browser says about "informe.pdf" never reaches clean_upload: only bytes do.
    assert clean_upload(PNG_PLAIN) == ("image/png", PNG_PLAIN)
    with pytest.raises(InvalidInput) as refused:
        clean_upload(b"just some notes, saved as foto.png\n")
    assert refused.value.fields == {"file": ["Solo se aceptan archivos PDF, JPEG o PNG."]}


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"<!DOCTYPE html><html><script>alert(1)</script></html>", id="html"),
        pytest.param(
            b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg">'
            b"<script>alert(1)</script></svg>",
            id="svg",
        ),
        pytest.param(b"PK\x03\x04\x14\x00\x00\x00\x08\x00" + b"\x00" * 40, id="zip"),
        pytest.param(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", id="gif"),
        pytest.param(PNG_PLAIN[:-12], id="png-without-iend"),
        pytest.param(PNG_PLAIN[:40], id="png-truncated-in-a-chunk"),
        pytest.param(PNG_SIGNATURE + IDAT + IHDR + IEND, id="png-ihdr-not-first"),
        pytest.param(PNG_SIGNATURE + IHDR + IEND, id="png-without-idat"),
        pytest.param(PNG_PLAIN[:-1] + bytes([PNG_PLAIN[-1] ^ 1]), id="png-bad-crc"),
        pytest.param(PNG_SIGNATURE + b"\xff\xff\xff\xffIHDR", id="png-huge-length"),
        pytest.param(JPEG_PLAIN[:-2], id="jpeg-without-eoi"),
        pytest.param(JPEG_PLAIN[:30], id="jpeg-truncated-in-a-segment"),
        pytest.param(b"\xff\xd8\xff\xe0\x00\x01", id="jpeg-length-below-two"),
        pytest.param(b"\xff\xd8" + JFIF + DQT + DHT + SOS + SCAN + b"\xff\xd9", id="jpeg-no-frame"),
        pytest.param(b"\xff\xd8" + JFIF + b"\xff\xd9", id="jpeg-no-scan"),
        pytest.param(b"%PDF-1.4\n%%EOF" + b"x" * 2000, id="pdf-no-eof-at-end"),
        pytest.param(b"%PDF", id="pdf-header-only"),
    ],
)
def test_other_and_malformed_files_are_refused(data: bytes) -> None:
    assert sniff_type(data) is None
    with pytest.raises(InvalidInput) as refused:
        clean_upload(data)
    assert list(refused.value.fields) == ["file"]


def test_size_limits() -> None:
    with pytest.raises(InvalidInput) as empty:
        clean_upload(b"")
    assert "file" in empty.value.fields
    at_limit = b"%PDF-1.7\n" + b"0" * (MAX_BYTES - 9 - 6) + b"%%EOF\n"
    assert len(at_limit) == MAX_BYTES
    assert clean_upload(at_limit) == ("application/pdf", at_limit)
    with pytest.raises(InvalidInput) as too_big:
        clean_upload(at_limit + b"\n")
    assert too_big.value.fields == {"file": ["El archivo puede tener como máximo 20 MB."]}


# ---- metadata stripping ----------------------------------------------------------------


def png_chunk_types(data: bytes) -> list[bytes]:
    types, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        types.append(data[pos + 4 : pos + 8])
        pos += 12 + length
    return types


def test_png_metadata_is_stripped_and_the_image_kept_byte_for_byte() -> None:
    content_type, cleaned = clean_upload(PNG_WITH_METADATA)
    assert content_type == "image/png"
    assert SECRET not in cleaned
    assert zlib.compress(SECRET) not in cleaned
    assert png_chunk_types(cleaned) == [b"IHDR", b"gAMA", b"IDAT", b"IEND"]
    assert cleaned == PNG_SIGNATURE + IHDR + GAMA + IDAT + IEND  # CRCs untouched
    assert sniff_type(cleaned) == "image/png"
    assert strip_png_metadata(cleaned) == cleaned


def test_jpeg_metadata_is_stripped_and_the_scan_kept_verbatim() -> None:
    content_type, cleaned = clean_upload(JPEG_WITH_METADATA)
    assert content_type == "image/jpeg"
    assert SECRET not in cleaned
    assert b"GPSLatitude" not in cleaned
    assert b"Exif" not in cleaned
    assert b"MPF" not in cleaned
    # The colour profile and Adobe transform stay; frame, tables and scan are untouched.
    assert cleaned == (
        b"\xff\xd8" + JFIF + ICC + ADOBE + DQT + SOF0 + DHT + SOS + SCAN + b"\xff\xd9"
    )
    assert sniff_type(cleaned) == "image/jpeg"
    assert strip_jpeg_metadata(cleaned) == cleaned


def test_jpeg_scan_data_with_stuffed_bytes_restarts_and_progressive_scans() -> None:
    scan = b"\x12\xff\x00\x34\xff\xd0\x56"  # a stuffed 0xFF and a restart marker
    second = SOS + b"\x78" + EXIF + DHT + SOS + b"\x9a"  # metadata between scans too
    data = b"\xff\xd8" + DQT + SOF0 + DHT + SOS + scan + second + b"\xff\xff\xd9"
    cleaned = strip_jpeg_metadata(data)
    assert cleaned == (
        b"\xff\xd8"
        + DQT
        + SOF0
        + DHT
        + SOS
        + scan
        + SOS
        + b"\x78"
        + DHT
        + SOS
        + b"\x9a"
        + b"\xff\xd9"
    )


def test_a_file_of_countless_tiny_segments_is_refused() -> None:
    # Walking millions of 4-byte segments would tie up a worker; real files have dozens.
    data = b"\xff\xd8" + b"\xff\xfe\x00\x02" * 20_000 + JPEG_PLAIN[2:]
    assert sniff_type(data) is None
    assert sniff_type(b"\xff\xd8" + b"\xff\xfe\x00\x02" * 100 + JPEG_PLAIN[2:]) == "image/jpeg"


def test_malformed_images_raise_invalid_input_from_the_strippers() -> None:
    for strip, data in ((strip_png_metadata, PNG_PLAIN[:-3]), (strip_jpeg_metadata, PDF)):
        with pytest.raises(InvalidInput):
            strip(data)


_SAMPLES = (PNG_WITH_METADATA, JPEG_WITH_METADATA, PDF)


@st.composite
def near_valid(draw: st.DrawFn) -> bytes:
    """A sample with a cut, a changed byte or a valid header before random bytes."""
    sample = draw(st.sampled_from(_SAMPLES))
    how = draw(st.sampled_from(["cut", "flip", "prefix"]))
    if how == "prefix":
        return sample[: draw(st.integers(0, 30))] + draw(st.binary(max_size=200))
    at = draw(st.integers(0, len(sample) - 1))
    if how == "cut":
        return sample[:at]
    return sample[:at] + bytes([draw(st.integers(0, 255))]) + sample[at + 1 :]


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=400), near_valid()))
def test_clean_upload_returns_or_raises_invalid_input_only(data: bytes) -> None:
    try:
        content_type, cleaned = clean_upload(data)
    except InvalidInput as exc:
        assert list(exc.fields) == ["file"]
        return
    assert sniff_type(cleaned) == content_type


# ---- file names ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("denuncia.pdf", "denuncia.pdf"),
        ("C:\\Users\\ana\\Fotos\\lesión 1.jpg", "lesión 1.jpg"),
        ("../../etc/passwd", "passwd"),
        ("informe\x00\r\n.pdf", "informe.pdf"),
        ("foto\u202egpj.exe", "fotogpj.exe"),
        ("..", "documento"),
        ("/", "documento"),
        ("", "documento"),
        ("   ", "documento"),
        ("a" * 300 + ".pdf", "a" * 116 + ".pdf"),
        ("b" * 300, "b" * 120),
    ],
)
def test_safe_filename(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


# ---- storage ---------------------------------------------------------------------------


def open_case_and_cipher(
    app: Flask, client: FlaskClient, person: Person
) -> tuple[Case, FieldCipher]:
    response = client.post("/api/v1/cases", json=factories.intake(), headers=person.headers)
    assert response.status_code == 201, response.get_json()
    case_id = uuid.UUID(response.get_json()["id"])
    stmt = select(Case).options(joinedload(Case.data_key)).where(Case.id == case_id)
    case = db.session.execute(stmt).scalar_one()
    return case, cipher_for(app.extensions["ruta.keyring"], case.data_key)


def store(
    case: Case,
    person: Person,
    directory: Path,
    cipher: FieldCipher,
    data: bytes,
    filename: str = "informe.pdf",
) -> Attachment:
    return store_attachment(
        db.session,
        cipher,
        case_id=case.id,
        institution_id=case.opened_by_institution_id,
        user_id=person.id,
        directory=directory,
        filename=filename,
        data=data,
        description="Informe médico",
    )


def test_storage_round_trip_writes_only_ciphertext(
    app: Flask, client: FlaskClient, pnc: Person, tmp_path: Path
) -> None:
    directory = tmp_path / "store" / "attachments"
    with app.app_context():
        case, cipher = open_case_and_cipher(app, client, pnc)
        pdf = store(case, pnc, directory, cipher, PDF, filename="../informe\n.pdf")
        png = store(case, pnc, directory, cipher, PNG_WITH_METADATA, filename="foto.png")
        jpeg = store(case, pnc, directory, cipher, JPEG_WITH_METADATA, filename="foto.jpg")
        db.session.commit()

        # What is stored is the rebuilt file (app/cases/sanitise.py), not the upload.
        assert read_attachment(cipher, pdf, directory) == sanitise(PDF).content
        with pikepdf.open(io.BytesIO(sanitise(PDF).content)) as rebuilt:  # the page stays
            assert MARKER in rebuilt.pages[0].Contents.read_bytes()
        assert read_attachment(cipher, png, directory) == sanitise(PNG_WITH_METADATA).content
        assert read_attachment(cipher, jpeg, directory) == sanitise(JPEG_WITH_METADATA).content
        assert (pdf.content_type, pdf.size) == ("application/pdf", len(sanitise(PDF).content))
        assert cipher.open_text("attachments", pdf.id, "filename", pdf.filename_enc) == (
            "informe.pdf"
        )
        assert cipher.open_text("attachments", pdf.id, "description", pdf.description_enc) == (
            "Informe médico"
        )

        names = sorted(p.name for p in directory.iterdir())
        assert names == sorted(a.storage_name for a in (pdf, png, jpeg))  # no temp files left
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700
        for attachment in (pdf, png, jpeg):
            path = attachment_path(directory, attachment.storage_name)
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            on_disk = path.read_bytes()
            assert MARKER not in on_disk
            assert SECRET not in on_disk
            assert b"%PDF" not in on_disk
            assert b"IHDR" not in on_disk


def test_a_file_moved_to_another_attachment_does_not_decrypt(
    app: Flask, client: FlaskClient, pnc: Person, tmp_path: Path
) -> None:
    directory = tmp_path / "files"
    with app.app_context():
        case, cipher = open_case_and_cipher(app, client, pnc)
        first = store(case, pnc, directory, cipher, PDF)
        second = store(case, pnc, directory, cipher, PNG_PLAIN)
        db.session.commit()
        first_path = attachment_path(directory, first.storage_name)
        os.replace(first_path, attachment_path(directory, second.storage_name))
        with pytest.raises(DecryptionError):
            read_attachment(cipher, second, directory)
        with pytest.raises(NotFound):
            read_attachment(cipher, first, directory)
        other_key = FieldCipher(uuid.uuid4(), os.urandom(32))
        with pytest.raises(DecryptionError):
            read_attachment(other_key, second, directory)


def test_refused_uploads_and_failed_rows_leave_no_file(
    app: Flask, client: FlaskClient, pnc: Person, tmp_path: Path
) -> None:
    directory = tmp_path / "files"
    with app.app_context():
        case, cipher = open_case_and_cipher(app, client, pnc)
        with pytest.raises(InvalidInput):
            store(case, pnc, directory, cipher, b"<html></html>")
        with pytest.raises(IntegrityError):  # no such user: the row cannot be written
            store_attachment(
                db.session,
                cipher,
                case_id=case.id,
                institution_id=case.opened_by_institution_id,
                user_id=999_999,
                directory=directory,
                filename="x.pdf",
                data=PDF,
                description=None,
            )
        db.session.rollback()
        assert list(directory.iterdir()) == []


@pytest.mark.parametrize(
    "name", ["../../etc/passwd", "A" * 32, "a" * 31, "a" * 33, "a" * 32 + "\n", "g" * 32, ""]
)
def test_attachment_path_accepts_only_storage_names(name: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="storage name"):
        attachment_path(tmp_path, name)
    assert attachment_path(tmp_path, "0f" * 16) == tmp_path / ("0f" * 16)
