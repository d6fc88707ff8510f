"""No search engine lists Ruta: robots.txt refuses every path, every page says noindex,
and every answer (pages, API, files, errors) carries X-Robots-Tag."""

from __future__ import annotations

import re

ROBOTS = "noindex, nofollow"


def test_robots_txt_disallows_everything_without_a_login(client):
    answer = client.get("/robots.txt")
    assert answer.status_code == 200
    assert answer.mimetype == "text/plain"
    assert answer.get_data(as_text=True).splitlines() == ["User-agent: *", "Disallow: /"]
    assert answer.headers["X-Robots-Tag"] == ROBOTS


def test_every_kind_of_answer_says_noindex(client, pnc):
    for path, headers in (
        ("/login", {}),
        ("/status", {}),
        ("/favicon.ico", {}),
        ("/no-such-page", {}),
        ("/", {}),  # the redirect to the login
        ("/api/v1/cases", pnc.headers),
        ("/api/v1/no-such-thing", {}),
    ):
        answer = client.get(path, headers=headers)
        assert answer.headers.get("X-Robots-Tag") == ROBOTS, (path, answer.status_code)


def test_every_page_has_one_robots_meta_in_its_head(client):
    for path in ("/login", "/status"):
        html = client.get(path).get_data(as_text=True)
        head = html.split("</head>")[0]
        metas = re.findall(r'<meta name="robots" content="([^"]+)">', html)
        assert metas == [ROBOTS], path
        assert '<meta name="robots"' in head, path
