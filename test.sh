#!/usr/bin/env bash
# Ruta: run the whole test suite. Arguments go to pytest (./test.sh -k audit -x).
# Always on SQLite; then on PostgreSQL too when TEST_DATABASE_URL or DATABASE_URL
# names one (postgresql...). Both runs happen even if the first fails.
# RUTA_SKIP_BROWSER=1 skips installing Chromium (the browser tests then skip).
# RUTA_SKIP_CLAMAV=1 skips installing clamav-daemon (the antivirus tests then skip).
# RUTA_SETUP_ONLY=1 stops after installing (used by the Makefile's lint targets).
set -euo pipefail
cd "$(dirname "$0")"

VENV=.venv
STAMP="$VENV/.requirements-dev.sha256"

# A venv whose interpreter no longer runs (Python upgraded or removed) is rebuilt.
if ! "$VENV/bin/python" -c '' 2>/dev/null; then
    if ! command -v python3 >/dev/null; then
        echo "test.sh: python3 not found; Ruta needs Python 3.11 or newer." >&2
        exit 1
    fi
    if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "test.sh: Ruta needs Python 3.11 or newer; python3 is $(python3 -V 2>&1)." >&2
        exit 1
    fi
    echo "Creating $VENV ..."
    rm -rf "$VENV"
    python3 -m venv "$VENV"
fi

# requirements-dev.lock includes requirements.lock, so a change to either reinstalls.
# The locks (tools/lock_hashes.py) carry PyPI's sha256 of every file: pip refuses any other.
want=$(cat requirements.lock requirements-dev.lock | sha256sum | cut -d' ' -f1)
if [[ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]]; then
    echo "Installing requirements-dev.lock ..."
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        --require-hashes -r requirements-dev.lock
    echo "$want" > "$STAMP"
fi

# .mo files are build products (not in git): compile them when translations exist.
if [[ -d app/translations ]] && [[ -n "$(find app/translations -name '*.po' -print -quit)" ]]; then
    "$VENV/bin/pybabel" -q compile -d app/translations -f  # -q belongs to pybabel, not compile
fi

if [[ "${RUTA_SETUP_ONLY:-0}" == 1 ]]; then
    exit 0
fi

# Browser tests drive Debian's Chromium (test tools cannot download their own here).
if [[ "${RUTA_SKIP_BROWSER:-0}" != 1 && ! -x /usr/bin/chromium ]]; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        echo "Installing Chromium for the browser tests ..."
        if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
               DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null; then
            echo "test.sh: WARNING: could not install chromium; browser tests will be skipped." >&2
            export RUTA_SKIP_BROWSER=1
        fi
    else
        echo "test.sh: WARNING: /usr/bin/chromium missing and cannot apt-get install it" \
             "(not root); browser tests will be skipped." >&2
        export RUTA_SKIP_BROWSER=1
    fi
fi

# The antivirus tests start Debian's clamd with a signature of their own: no signature
# download (freshclam) is run or needed. Without clamd, tests/test_antivirus.py skips.
if [[ "${RUTA_SKIP_CLAMAV:-0}" != 1 && ! -x /usr/sbin/clamd ]]; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        echo "Installing clamav-daemon for the antivirus tests ..."
        if ! { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
               DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clamav-daemon; } >/dev/null; then
            echo "test.sh: WARNING: could not install clamav-daemon; antivirus tests will be skipped." >&2
        fi
    else
        echo "test.sh: WARNING: /usr/sbin/clamd missing and cannot apt-get install it" \
             "(not root); antivirus tests will be skipped." >&2
    fi
fi

# axe-core (npm, pinned in package-lock.json) is injected into pages by the browser tests.
if [[ "${RUTA_SKIP_BROWSER:-0}" != 1 && ! -f node_modules/axe-core/axe.min.js ]]; then
    if command -v npm >/dev/null; then
        echo "Installing axe-core for the browser tests ..."
        npm ci --no-audit --no-fund --loglevel=error >/dev/null
    else
        echo "test.sh: WARNING: npm missing; the browser tests cannot check accessibility" \
             "and will fail (install nodejs and npm, or set RUTA_SKIP_BROWSER=1)." >&2
    fi
fi

# pytest exit 5 means "no tests collected" (e.g. a -k that matches nothing): not a failure.
run_pytest() {
    local rc=0
    "$@" "$VENV/bin/python" -m pytest -q "${pytest_args[@]}" || rc=$?
    if [[ $rc == 5 ]]; then
        echo "test.sh: WARNING: pytest collected no tests." >&2
        rc=0
    fi
    return "$rc"
}
pytest_args=("$@")
# One worker per core and one more (RUTA_TEST_WORKERS=0 runs in this process; -n given
# wins): the session tests of the browser wait in real time for sessions to end, and the
# extra worker keeps the cores busy meanwhile (7 min 26 s on SQLite on 2 cores, 8 min 8 s
# with two workers). A worker that runs out of tests takes some of another's (worksteal).
workers="${RUTA_TEST_WORKERS:-$(( $(nproc 2>/dev/null || echo 1) + 1 ))}"
if [[ " $* " != *" -n "* && "$workers" != 0 ]]; then
    pytest_args=(-n "$workers" --dist worksteal "${pytest_args[@]}")
fi

# The tests' files (a database copy per test: about 2 GB a run) go to memory when /dev/shm
# has room for them: SQLite's commits then wait for no disk (SQLite on 2 cores: 7 min 57 s
# to 6 min 59 s). RUTA_TEST_TMP=disk, or a --basetemp given, keeps pytest's own choice.
if [[ "${RUTA_TEST_TMP:-memory}" != disk && " $* " != *" --basetemp"* && -d /dev/shm && -w /dev/shm ]] &&
   (( $(df -Pk /dev/shm | awk 'NR == 2 {print $4}') > 4 * 1024 * 1024 )); then
    basetemp="/dev/shm/ruta-tests-$$"
    trap 'rm -rf "$basetemp"' EXIT
    pytest_args=(--basetemp "$basetemp" "${pytest_args[@]}")
fi

echo "== SQLite =="
sqlite_rc=0
run_pytest env -u DATABASE_URL -u TEST_DATABASE_URL || sqlite_rc=$?

pg_url="${TEST_DATABASE_URL:-${DATABASE_URL:-}}"
pg_rc=skipped
if [[ "$pg_url" == postgresql* ]]; then
    echo "== PostgreSQL =="
    pg_rc=0
    # DATABASE_URL is unset so the tests can only touch the test database.
    run_pytest env -u DATABASE_URL TEST_DATABASE_URL="$pg_url" || pg_rc=$?
fi

echo "== Summary =="
echo "SQLite:     $([[ $sqlite_rc == 0 ]] && echo passed || echo "FAILED (exit $sqlite_rc)")"
case "$pg_rc" in
    skipped) echo "PostgreSQL: skipped (set TEST_DATABASE_URL=postgresql+psycopg://...)" ;;
    0)       echo "PostgreSQL: passed" ;;
    *)       echo "PostgreSQL: FAILED (exit $pg_rc)" ;;
esac
if [[ $sqlite_rc == 0 && ( $pg_rc == 0 || $pg_rc == skipped ) ]]; then
    exit 0
fi
exit 1
