#!/usr/bin/env bash
# Ruta: set up and serve the application on http://127.0.0.1:${RUTA_PORT:-5000}.
# Creates .venv, installs requirements.txt, migrates, loads the demo network
# (unless RUTA_NO_DEMO=1) and serves with gunicorn until Ctrl-C. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
STAMP="$VENV/.requirements.sha256"

# A venv whose interpreter no longer runs (Python upgraded or removed) is rebuilt.
if ! "$VENV/bin/python" -c '' 2>/dev/null; then
    if ! command -v python3 >/dev/null; then
        echo "run.sh: python3 not found; Ruta needs Python 3.11 or newer." >&2
        exit 1
    fi
    if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "run.sh: Ruta needs Python 3.11 or newer; python3 is $(python3 -V 2>&1)." >&2
        exit 1
    fi
    echo "Creating $VENV ..."
    rm -rf "$VENV"
    python3 -m venv "$VENV"
fi

# Install only when requirements.lock changed since the last successful install; the
# lock (tools/lock_hashes.py) carries PyPI's sha256 of every file: pip refuses any other.
want=$(sha256sum requirements.lock | cut -d' ' -f1)
if [[ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
    echo "Installing requirements.lock ..."
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --require-hashes -r requirements.lock
    echo "$want" > "$STAMP"
fi

# .mo files are build products (not in git): compile them when translations exist.
if [[ -d app/translations ]] && [[ -n "$(find app/translations -name '*.po' -print -quit)" ]]; then
    "$VENV/bin/pybabel" -q compile -d app/translations -f  # -q belongs to pybabel, not compile
fi

# Demo convenience: no TOTP needed to sign in. Production default stays 1.
export RUTA_REQUIRE_MFA="${RUTA_REQUIRE_MFA:-0}"
# The demo serves plain HTTP on 127.0.0.1, where a Secure (__Host-) cookie would never
# come back: cookies without Secure and no HSTS, here only. Production default stays 1.
export RUTA_SECURE_COOKIES="${RUTA_SECURE_COOKIES:-0}"
# DATABASE_URL passes through as given; an empty one means the default SQLite
# file instance/ruta.db, so it is unset rather than handed to the app as "".
if [[ -z "${DATABASE_URL:-}" ]]; then
    unset DATABASE_URL
fi

flask() { "$VENV/bin/flask" --app wsgi "$@"; }

mkdir -p instance
flask keys init      # idempotent: creates instance/keys/kek and the secret key if missing
flask db upgrade
flask catalogue load  # municipalities, services, protection measures (idempotent)
if [[ "${RUTA_NO_DEMO:-0}" != 1 ]]; then
    flask demo load  # idempotent: prints the demo logins only when it creates them
    if [[ -f instance/demo-logins.txt ]]; then
        echo "(demo logins are kept in instance/demo-logins.txt)"
    fi
fi

port="${RUTA_PORT:-5000}"
echo "Ruta: serving http://127.0.0.1:$port (Ctrl-C to stop)"
exec "$VENV/bin/gunicorn" --bind "127.0.0.1:$port" --workers "${RUTA_WORKERS:-2}" \
    --access-logfile - wsgi:app
