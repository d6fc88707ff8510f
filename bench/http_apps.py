"""The WSGI apps `bench/http_read.py` serves with gunicorn, one server each:

    gunicorn 'bench.http_apps:bare_app()'   # GET /rows/<id>, GET /rows/<id>/with-insert
    gunicorn 'bench.http_apps:ruta_app()'   # Ruta, on the benchmark's throwaway instance

Configured by the environment the benchmark sets: BENCH_HTTP_DATABASE_URL, and for Ruta
BENCH_HTTP_INSTANCE_DIR (key file, attachments, audit anchors: built by bench.common) and
BENCH_HTTP_SECRET_KEY (every worker must sign the session cookie with the same key).
Each worker builds its app after the fork, as `gunicorn wsgi:app` does.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from app import create_app
from bench.common import bare_app as build_bare_app
from bench.common import make_settings

DATABASE_URL = "BENCH_HTTP_DATABASE_URL"
INSTANCE_DIR = "BENCH_HTTP_INSTANCE_DIR"
SECRET_KEY = "BENCH_HTTP_SECRET_KEY"


def bare_app() -> Flask:
    app, _ = build_bare_app(os.environ[DATABASE_URL], seed=False)
    return app


def ruta_app() -> Flask:
    settings = make_settings(Path(os.environ[INSTANCE_DIR]), os.environ[DATABASE_URL])
    settings.secret_key = os.environ[SECRET_KEY]
    return create_app(settings)
