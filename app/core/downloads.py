"""Files sent to the browser: always as a download, never rendered."""

from __future__ import annotations

from io import BytesIO

from flask import Response, send_file


def file_response(content: bytes, content_type: str, name: str) -> Response:
    """A decrypted attachment."""
    response = send_file(
        BytesIO(content), mimetype=content_type, as_attachment=True, download_name=name, max_age=0
    )
    # Opened by mistake in a tab, a hostile PDF or image still runs nothing; and the
    # browser takes the type we give (derived from the content), never its own guess.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def csv_response(text: str, filename: str) -> Response:
    """A CSV export, named for the spreadsheet program that opens it."""
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
