"""Uploads made harmless: a PDF rewritten without active content, an image re-encoded.

Pure: bytes in, `Clean` (bytes, type, extension) out, or `RefusedFile` (422). The type
comes from the bytes (`files.clean_upload`: magic numbers and a walk of the structure,
metadata chunks and trailers already gone), never from the name or the declared type.

Threats: a PDF can run JavaScript when opened (/OpenAction, /AA, /JavaScript), launch a
program or open a local file (/Launch, file: URIs), carry other files (/EmbeddedFiles)
or forms that post data away (AcroForm/XFA). An image file can be a polyglot (PNG bytes
followed by HTML), carry GPS coordinates, or declare 60,000 × 60,000 pixels to exhaust a
worker's memory once decoded. So a PDF is rebuilt by qpdf (pikepdf) from the objects
that remain once every action and embedded file is cut off, and an image is decoded and
encoded afresh by Pillow, after its declared size is checked from the header alone.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from io import BytesIO
from typing import Any

import pikepdf
from flask_babel import gettext
from PIL import Image

from app.cases.files import JPEG, MAX_BYTES, PDF, PNG, clean_upload
from app.core.errors import InvalidInput

EXTENSIONS = {PDF: ".pdf", PNG: ".png", JPEG: ".jpg"}
# 40 megapixels (a 48 MP phone photo is saved at 12 MP): decoded as RGBA that is 160 MB
# at most, the memory one upload may take. Checked before Pillow decodes anything.
MAX_PIXELS = 40_000_000
JPEG_QUALITY = 90

# Actions a document may keep: moving inside itself, and web or mail links.
_SAFE_ACTIONS = frozenset({"/GoTo", "/Named"})
_SAFE_URI_SCHEMES = (b"http://", b"https://", b"mailto:")
# Keys that hold, or lead to, something that runs or something embedded.
_ACTIVE_KEYS = ("/AA", "/JS", "/Next", "/EF", "/RF", "/OpenAction")
_CATALOG_KEYS = ("/AcroForm", "/Collection", "/Metadata", "/Perms")  # forms (XFA), portfolios
_NAME_TREES = ("/JavaScript", "/EmbeddedFiles", "/AlternatePresentations")
# Annotations that play, embed or script something, and form fields left without an
# appearance once the form is flattened; links lose their unsafe actions.
_ACTIVE_ANNOTATIONS = frozenset(
    {"/FileAttachment", "/RichMedia", "/Screen", "/Movie", "/Sound", "/3D", "/Widget"}
)
# EXIF orientation → the transpose that shows the photo upright (EXIF 2.3, tag 0x0112).
_ORIENTATION_TAG = 0x0112
_UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


class RefusedFile(InvalidInput):
    """The upload cannot be made safe (or is not a real PDF, PNG or JPEG)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, {"file": [message]})


@dataclass(frozen=True)
class Clean:
    content: bytes
    content_type: str
    extension: str


def sanitise(data: bytes) -> Clean:
    """The upload rebuilt from its content alone, or RefusedFile."""
    content_type, stripped = clean_upload(data)  # size, real type, metadata (InvalidInput)
    if content_type == PDF:
        cleaned = clean_pdf(stripped)
    else:
        cleaned = reencode_image(stripped, content_type, original=data)
    if len(cleaned) > MAX_BYTES:
        raise RefusedFile(gettext("Una vez limpiado, el archivo supera los 20 MB permitidos."))
    return Clean(cleaned, content_type, EXTENSIONS[content_type])


# ---- PDF -------------------------------------------------------------------------------


def clean_pdf(data: bytes) -> bytes:
    """The document without scripts, actions that leave it, embedded files and forms."""
    try:
        with pikepdf.open(BytesIO(data)) as pdf:
            if len(pdf.pages) == 0:
                raise RefusedFile(gettext("El PDF no tiene páginas."))
            _strip_document(pdf)
            out = BytesIO()
            # Streams are copied, not decoded: a compressed bomb stays compressed. The
            # same upload gives the same file (its /ID from the content, not the clock).
            pdf.save(
                out,
                encryption=False,
                fix_metadata_version=False,
                stream_decode_level=pikepdf.StreamDecodeLevel.none,
                deterministic_id=True,
            )
            return out.getvalue()
    except RefusedFile:
        raise
    except pikepdf.PasswordError as exc:
        raise RefusedFile(
            gettext("El PDF está protegido con contraseña; súbalo sin ella.")
        ) from exc
    except Exception as exc:  # qpdf, or a structure that is not what the standard says
        raise RefusedFile(gettext("El PDF está dañado y no se puede revisar.")) from exc


def _strip_document(pdf: pikepdf.Pdf) -> None:
    root = pdf.Root
    if "/AcroForm" in root:
        # What was typed into the form stays visible, as page content; the fields go.
        pdf.generate_appearance_streams()
        pdf.flatten_annotations("all")
    for key in _CATALOG_KEYS:
        _drop(root, key)
    names = root.get("/Names")
    if isinstance(names, pikepdf.Dictionary):
        for key in _NAME_TREES:
            _drop(names, key)
    _drop(pdf.trailer, "/Info")  # author, software, dates
    for page in pdf.pages:
        annotations = page.obj.get("/Annots")
        if isinstance(annotations, pikepdf.Array):
            kept = [a for a in annotations if _subtype(a) not in _ACTIVE_ANNOTATIONS]
            page.obj["/Annots"] = pikepdf.Array(kept)
    # Every object of the file, reachable or not: qpdf writes only the reachable ones,
    # and what is cut off here is no longer reachable.
    for each in pdf.objects:
        for dictionary in _dictionaries(each):
            _strip_dictionary(dictionary)


def _inline(value: Any) -> bool:
    """A dictionary or array written inside its parent (indirect ones are visited alone)."""
    return isinstance(value, (pikepdf.Dictionary, pikepdf.Array)) and not value.is_indirect


def _dictionaries(obj: Any) -> Iterator[Any]:
    """The dictionaries (and streams) in an object and in its inline parts, iteratively:
    a hostile file can nest deeper than the interpreter's recursion limit."""
    pending = [obj]
    while pending:
        item = pending.pop()
        if isinstance(item, (pikepdf.Stream, pikepdf.Dictionary)):
            yield item
            pending.extend(value for value in item.values() if _inline(value))
        elif isinstance(item, pikepdf.Array):
            pending.extend(value for value in item if _inline(value))


def _strip_dictionary(dictionary: Any) -> None:
    for key in _ACTIVE_KEYS:
        _drop(dictionary, key)
    if "/A" in dictionary and not _safe_action(dictionary["/A"]):
        del dictionary["/A"]


def _safe_action(action: Any) -> bool:
    if not isinstance(action, pikepdf.Dictionary):
        return False
    kind = str(action.get("/S", ""))
    if kind == "/URI":
        uri = action.get("/URI")
        return isinstance(uri, pikepdf.String) and bytes(uri).lower().startswith(_SAFE_URI_SCHEMES)
    return kind in _SAFE_ACTIONS


def _subtype(annotation: Any) -> str:
    if not isinstance(annotation, pikepdf.Dictionary):
        return ""
    return str(annotation.get("/Subtype", ""))


def _drop(dictionary: Any, key: str) -> None:
    if key in dictionary:
        del dictionary[key]


# ---- images ----------------------------------------------------------------------------


def declared_size(data: bytes, content_type: str) -> tuple[int, int]:
    """Width and height from the header, read before anything is decoded."""
    if content_type == PNG:  # IHDR is the first chunk (files.py checked it)
        width, height = struct.unpack_from(">II", data, 16)
        return width, height
    pos = 2
    while pos + 9 <= len(data):  # JPEG: the segments up to the frame header (SOFn)
        marker, length = data[pos + 1], struct.unpack_from(">H", data, pos + 2)[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack_from(">HH", data, pos + 5)
            return width, height
        pos += 2 + length
    raise RefusedFile(gettext("La imagen JPEG está dañada."))


def reencode_image(data: bytes, content_type: str, original: bytes | None = None) -> bytes:
    """Decoded and encoded afresh: only pixels survive (no metadata, no trailing bytes).
    `original`: the upload before its metadata was stripped, for the photo's orientation."""
    width, height = declared_size(data, content_type)
    if width * height > MAX_PIXELS:
        raise RefusedFile(
            gettext(
                "La imagen es demasiado grande (%(width)s × %(height)s píxeles); "
                "el máximo es %(most)s megapíxeles.",
                width=width,
                height=height,
                most=MAX_PIXELS // 1_000_000,
            )
        )
    turn = orientation(original) if original is not None and content_type == JPEG else 1
    try:
        with Image.open(BytesIO(data), formats=[content_type.split("/")[1].upper()]) as image:
            if image.size != (width, height) or not width or not height:
                raise ValueError("the decoder reads another size than the header")
            image.load()
            return _encode(image, content_type, turn)
    except Exception as exc:  # a decoder fed hostile bytes can fail in any way: refuse
        raise RefusedFile(gettext("La imagen está dañada y no se puede revisar.")) from exc


def _encode(image: Image.Image, content_type: str, turn: int) -> bytes:
    """Pixels only; of what the file said, the colour profile and transparency stay."""
    keep = {key: image.info[key] for key in ("icc_profile", "transparency") if key in image.info}
    image.info = {}  # Pillow's encoders read a comment (and more) from here
    picture = image.transpose(_UPRIGHT[turn]) if turn in _UPRIGHT else image
    out = BytesIO()
    if content_type == PNG:
        picture.save(out, "PNG", **keep)
        return out.getvalue()
    if picture.mode not in ("L", "RGB", "CMYK"):
        picture = picture.convert("RGB")
    keep.pop("transparency", None)
    picture.save(out, "JPEG", quality=JPEG_QUALITY, **keep)
    return out.getvalue()


def orientation(original: bytes) -> int:
    """The photo's EXIF orientation (1: upright). The tag goes with the rest of the
    metadata, so the pixels are turned instead; unreadable EXIF leaves them as they are."""
    try:
        with Image.open(BytesIO(original), formats=["JPEG"]) as image:
            value = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # EXIF is only a hint here
        return 1
    return value if isinstance(value, int) else 1
