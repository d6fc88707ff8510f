"""gzip for text answers (HTML, CSS, JS, JSON): the offices' links are slow and shared.

What is left alone: a client that does not accept gzip, a download (any answer with a
"attachment" disposition, the survivor's files included), a body under `MIN_SIZE` (gzip would
add more than it saves), a partial or empty answer (206, 204, 304), a streamed one, and
one already encoded.

BREACH (docs/security.md §8): compressed HTML over TLS leaks, through its length, how well
a guess matches a secret in the same body (the CSRF token, her data) when an attacker can
put the guess there. So an HTML answer to a request that carried input (a form post, a
query string) is sent uncompressed: only pages that reflect nothing the request chose are
compressed. SameSite=Strict cookies already keep a cross-site page from making the
signed-in requests the attack needs; this is the second wall.
"""

from __future__ import annotations

import gzip
from collections import OrderedDict

from flask import Flask, Request, Response, request

COMPRESSIBLE = frozenset(
    {
        "text/html",
        "text/css",
        "text/javascript",
        "application/javascript",
        "application/json",
        "application/problem+json",
        "image/svg+xml",
    }
)
MIN_SIZE = 500  # bytes: below this the gzip header and trailer eat the gain
MAX_SIZE = 5 * 1024 * 1024  # bytes: the largest page or asset ever compressed in memory
LEVEL = 6  # zlib's default: most of the gain of 9 for a fraction of its CPU
STATIC_CACHE_SIZE = 64  # compressed static files kept, by ETag: they change only on deploy
NO_BODY = frozenset({204, 206, 304})

_static_cache: OrderedDict[str, bytes] = OrderedDict()


def accepts_gzip(incoming: Request) -> bool:
    return incoming.accept_encodings["gzip"] > 0


def reflects_input(incoming: Request, response: Response) -> bool:
    """An HTML answer that may carry what the request sent (see BREACH above)."""
    carried_input = incoming.method not in ("GET", "HEAD") or bool(incoming.query_string)
    return carried_input and response.mimetype == "text/html"


def is_download(response: Response) -> bool:
    """Saved as a file, not shown (static files are sent "inline" and are shown)."""
    disposition = response.headers.get("Content-Disposition", "")
    return disposition.strip().lower().startswith("attachment")


def should_compress(incoming: Request, response: Response) -> bool:
    return (
        response.mimetype in COMPRESSIBLE
        and response.status_code not in NO_BODY
        and "Content-Encoding" not in response.headers
        and not is_download(response)
        and (response.direct_passthrough or not response.is_streamed)
        and accepts_gzip(incoming)
        and not reflects_input(incoming, response)
    )


def body_of(response: Response) -> bytes:
    """The whole body; a static file (sent in passthrough mode) is read from its file,
    which is then closed."""
    if not response.direct_passthrough:
        return response.get_data()
    source = response.response
    try:
        data = b"".join(part if isinstance(part, bytes) else part.encode() for part in source)
    finally:
        close = getattr(source, "close", None)
        if close is not None:
            close()
    response.direct_passthrough = False
    return data


def compressed(data: bytes, etag: str | None) -> bytes:
    """gzip of `data`; a static file's (known by its ETag) is compressed once."""
    if etag is None:
        return gzip.compress(data, compresslevel=LEVEL, mtime=0)
    if etag not in _static_cache:
        _static_cache[etag] = gzip.compress(data, compresslevel=LEVEL, mtime=0)
        if len(_static_cache) > STATIC_CACHE_SIZE:
            _static_cache.popitem(last=False)
    return _static_cache[etag]


def gzip_response(response: Response) -> Response:
    # Whether or not this answer is compressed, another request may get the other form.
    if response.mimetype in COMPRESSIBLE:
        response.vary.add("Accept-Encoding")
    if not should_compress(request, response):
        return response
    length = response.content_length
    if length is not None and not MIN_SIZE <= length <= MAX_SIZE:
        return response
    data = body_of(response)
    if not MIN_SIZE <= len(data) <= MAX_SIZE:
        return response
    etag, _weak = response.get_etag()
    static_etag = etag if request.endpoint == "static" and etag else None
    response.set_data(compressed(data, static_etag))  # also sets Content-Length
    response.headers["Content-Encoding"] = "gzip"
    if etag:
        # The same file in another encoding: weakly equal, so If-None-Match still hits.
        response.set_etag(etag, weak=True)
    return response


def compress_responses(app: Flask) -> None:
    """Registered first among the after-request hooks (Flask runs them last to first),
    so the body is compressed once every other hook is done with it."""
    app.after_request_funcs.setdefault(None, []).insert(0, gzip_response)
