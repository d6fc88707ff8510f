"""Upload checks for attachments: type by content, image metadata stripped, safe names.

Pure functions on bytes: no Flask, no database. Only PDF, JPEG and PNG are accepted, and
the type is decided from the bytes themselves (magic numbers plus a walk of the file's
structure), never from the file name or the declared content type. Photos of injuries
or documents often carry GPS coordinates, device ids and timestamps that could locate a
survivor: images are rebuilt from the segments/chunks needed to display them and nothing
else, with no re-encoding (no pixel is changed).
"""

from __future__ import annotations

import re
import struct
import unicodedata
import zlib

from flask_babel import gettext

from app.core.errors import InvalidInput

MAX_BYTES = 20 * 1024 * 1024
MAX_FILENAME = 120
FALLBACK_FILENAME = "documento"

PDF, JPEG, PNG = "application/pdf", "image/jpeg", "image/png"

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Critical chunks plus the ancillary ones that change how the pixels look.
_PNG_KEEP = frozenset(
    {b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS", b"gAMA", b"cHRM", b"sRGB", b"iCCP", b"sBIT"}
)

_SOI, _EOI, _SOS, _TEM = 0xD8, 0xD9, 0xDA, 0x01
_APP1, _APP2, _APP14, _APP15, _COM = 0xE1, 0xE2, 0xEE, 0xEF, 0xFE
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}  # C4 DHT, C8 JPG, CC DAC
_RST = frozenset(range(0xD0, 0xD8))
_SCAN_DATA = -1  # pseudo-marker for the entropy-coded bytes that follow an SOS header
_ICC = b"ICC_PROFILE\x00"
# Far above real files (a progressive JPEG has a few dozen segments; encoders write IDAT in
# 8-64 KB chunks), and low enough that a file of tiny pieces cannot tie up a worker.
_MAX_JPEG_SEGMENTS = 10_000
_MAX_PNG_CHUNKS = 100_000
# In scan data 0xFF is followed by 0x00 (a stuffed byte) or a restart marker; else a marker.
_SCAN_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7]")


class _Malformed(ValueError):
    """The bytes claim a type but their structure does not hold together."""


# ---- PDF -------------------------------------------------------------------------------


def _is_pdf(data: bytes) -> bool:
    return data.startswith(b"%PDF-") and b"%%EOF" in data[-1024:]


# ---- JPEG ------------------------------------------------------------------------------


def _scan_end(data: bytes, pos: int) -> int:
    """Index of the marker that ends the entropy-coded data starting at `pos`."""
    found = _SCAN_MARKER.search(data, pos)  # a regex, not a loop: scans are megabytes
    if found is None:
        raise _Malformed("scan data runs off the end")
    return found.start()


def _segment(data: bytes, pos: int, marker: int) -> tuple[bytes, int]:
    """One marker segment (marker, length and payload) whose length field starts at `pos`."""
    if pos + 2 > len(data):
        raise _Malformed("segment length missing")
    (length,) = struct.unpack_from(">H", data, pos)
    if length < 2 or pos + length > len(data):
        raise _Malformed("segment length out of range")
    return bytes((0xFF, marker)) + data[pos : pos + length], pos + length


def _jpeg_pieces(data: bytes) -> list[tuple[int, bytes]]:
    """The file as (marker, raw bytes) from SOI to EOI; whatever follows EOI is left out."""
    if not data.startswith(b"\xff\xd8\xff"):
        raise _Malformed("no SOI")
    pieces: list[tuple[int, bytes]] = [(_SOI, b"\xff\xd8")]
    pos, seen_frame, seen_scan = 2, False, False
    while True:
        if pos >= len(data) or data[pos] != 0xFF:
            raise _Malformed("expected a marker")
        while pos < len(data) and data[pos] == 0xFF:  # fill bytes may precede a marker
            pos += 1
        if pos >= len(data):
            raise _Malformed("file ends inside a marker")
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            if not seen_scan:
                raise _Malformed("no image data")
            pieces.append((_EOI, b"\xff\xd9"))
            return pieces
        if marker in (0x00, _SOI):
            raise _Malformed("marker out of place")
        if marker == _TEM or marker in _RST:
            pieces.append((marker, bytes((0xFF, marker))))
            continue
        if len(pieces) > _MAX_JPEG_SEGMENTS:
            raise _Malformed("too many segments")
        segment, pos = _segment(data, pos, marker)
        pieces.append((marker, segment))
        seen_frame = seen_frame or marker in _SOF
        if marker == _SOS:
            if not seen_frame:
                raise _Malformed("scan before frame header")
            end = _scan_end(data, pos)
            pieces.append((_SCAN_DATA, data[pos:end]))
            pos, seen_scan = end, True


def _keep_jpeg_piece(marker: int, raw: bytes) -> bool:
    if marker in (_COM, _APP1):  # comments; EXIF (GPS, device, dates) and XMP
        return False
    if marker == _APP2:  # keep colour profiles, drop FlashPix/MPF and the like
        return raw[4:].startswith(_ICC)
    # APP14 "Adobe" says how to convert colours; APP13 (IPTC) and the rest are metadata.
    return not (_APP2 < marker <= _APP15 and marker != _APP14)


def _jpeg_kept(data: bytes) -> bytes:
    return b"".join(raw for marker, raw in _jpeg_pieces(data) if _keep_jpeg_piece(marker, raw))


def strip_jpeg_metadata(data: bytes) -> bytes:
    """Drop EXIF, XMP, IPTC, comments and trailers; keep frame, tables and scans verbatim."""
    try:
        return _jpeg_kept(data)
    except _Malformed as exc:
        raise InvalidInput(
            "malformed JPEG", {"file": [gettext("La imagen JPEG está dañada.")]}
        ) from exc


# ---- PNG -------------------------------------------------------------------------------


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """The file as (type, raw chunk bytes) from IHDR to IEND, CRCs checked."""
    if not data.startswith(_PNG_SIGNATURE):
        raise _Malformed("no PNG signature")
    chunks: list[tuple[bytes, bytes]] = []
    pos, seen_data = len(_PNG_SIGNATURE), False
    while pos + 12 <= len(data) and len(chunks) < _MAX_PNG_CHUNKS:
        length, kind = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if length > 0x7FFFFFFF or end > len(data) or not kind.isalpha():
            raise _Malformed("chunk out of range")
        (crc,) = struct.unpack_from(">I", data, end - 4)
        if zlib.crc32(data[pos + 4 : end - 4]) != crc:
            raise _Malformed("chunk CRC mismatch")
        if not chunks and (kind != b"IHDR" or length != 13):
            raise _Malformed("IHDR must come first")
        chunks.append((kind, data[pos:end]))
        pos, seen_data = end, seen_data or kind == b"IDAT"
        if kind == b"IEND":
            if not seen_data:
                raise _Malformed("no image data")
            return chunks
    raise _Malformed("no IEND within the chunk limit")


def _png_kept(data: bytes) -> bytes:
    return _PNG_SIGNATURE + b"".join(raw for kind, raw in _png_chunks(data) if kind in _PNG_KEEP)


def strip_png_metadata(data: bytes) -> bytes:
    """Keep the chunks needed to render, byte for byte; drop text, EXIF, time and the rest."""
    try:
        return _png_kept(data)
    except _Malformed as exc:
        raise InvalidInput(
            "malformed PNG", {"file": [gettext("La imagen PNG está dañada.")]}
        ) from exc


# ---- the upload ------------------------------------------------------------------------


def _identify(data: bytes) -> tuple[str, bytes] | None:
    """The real type and the bytes to keep, from one walk of the structure."""
    if _is_pdf(data):
        return PDF, data
    for kind, clean in ((JPEG, _jpeg_kept), (PNG, _png_kept)):
        try:
            return kind, clean(data)
        except _Malformed:
            continue
    return None


def sniff_type(data: bytes) -> str | None:
    """The content type the bytes really are, or None if not an accepted, well-formed one."""
    found = _identify(data)
    return None if found is None else found[0]


def clean_upload(data: bytes) -> tuple[str, bytes]:
    """Check size and real type; return the content type and the bytes to store."""
    if not data:
        raise InvalidInput("empty file", {"file": [gettext("El archivo está vacío.")]})
    if len(data) > MAX_BYTES:
        raise InvalidInput(
            "file too large", {"file": [gettext("El archivo puede tener como máximo 20 MB.")]}
        )
    found = _identify(data)
    if found is None:
        message = gettext("Solo se aceptan archivos PDF, JPEG o PNG.")
        raise InvalidInput(message, {"file": [message]})
    return found


def safe_filename(name: str) -> str:
    """A display name only (files are stored under random names): no path, no controls."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    # Cc: control characters; Cf: format characters such as U+202E, which can disguise
    # "cod.exe" as "exe.doc" when displayed.
    kept = "".join(
        c for c in unicodedata.normalize("NFC", base) if unicodedata.category(c) not in ("Cc", "Cf")
    )
    kept = kept.strip().strip(".").strip()
    if len(kept) > MAX_FILENAME:
        stem, dot, ext = kept.rpartition(".")
        kept = (
            stem[: MAX_FILENAME - len(ext) - 1] + dot + ext
            if dot and len(ext) <= 10
            else kept[:MAX_FILENAME]
        ).strip()
    return kept or FALLBACK_FILENAME
