"""Transport (issue 15): TLS-only cookies and HSTS by default, TLS to PostgreSQL and Redis.

The TLS tests generate a certificate authority and a server certificate in a temporary
directory and start a real PostgreSQL (`initdb`, `postgres`) and a real Redis
(`redis-server --tls-port`) that accept TLS connections only; they are skipped where
those programs are not installed. See docs/deployment-tls.md.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import text

from app import create_app
from app.core.http import HSTS
from app.extensions import db, limiter
from config import Settings
from tests.auth_helpers import otp, web_login
from tests.conftest import PASSWORD, make_settings, migrate_to_head

HTTPS = "https://localhost"
REPO = Path(__file__).resolve().parent.parent


# ---- cookies and HSTS ------------------------------------------------------------------


def test_secure_cookies_are_the_default_and_only_an_explicit_0_turns_them_off(tmp_path):
    env = {"RUTA_SECRET_KEY": "x", "RUTA_SECRET_FILE": str(tmp_path / "secret")}
    assert Settings.from_env(env).secure_cookies is True
    assert Settings.from_env({**env, "RUTA_SECURE_COOKIES": ""}).secure_cookies is True
    assert Settings.from_env({**env, "RUTA_SECURE_COOKIES": "0"}).secure_cookies is False
    config = Settings.from_env(env).to_flask()
    assert config["SESSION_COOKIE_NAME"] == "__Host-ruta_session"
    assert config["SESSION_COOKIE_SECURE"] and config["REMEMBER_COOKIE_SECURE"]


def test_run_sh_serves_its_plain_http_demo_with_secure_cookies_off_explicitly():
    script = (REPO / "run.sh").read_text()
    assert 'export RUTA_SECURE_COOKIES="${RUTA_SECURE_COOKIES:-0}"' in script
    assert script.index("RUTA_SECURE_COOKIES") < script.index("exec ")


@pytest.fixture
def secure_app(settings: Settings) -> Iterator[Any]:
    from app.cli.demo import load_directory

    settings.secure_cookies = True
    app = create_app(settings)
    with app.app_context():
        load_directory(db.session)
        db.session.commit()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def set_cookies(response: Any) -> list[str]:
    return response.headers.getlist("Set-Cookie")


def assert_host_cookie(header: str) -> None:
    """The rules a browser enforces for a `__Host-` cookie, and ours on top."""
    name, _, _ = header.partition("=")
    assert name.startswith("__Host-ruta_"), header  # the session, the trusted device
    attributes = [part.strip().lower() for part in header.split(";")[1:]]
    assert "secure" in attributes
    assert "path=/" in attributes
    assert not any(a.startswith("domain=") for a in attributes)
    assert "httponly" in attributes
    assert "samesite=strict" in attributes


def test_with_secure_cookies_the_session_cookie_is_host_prefixed_and_login_works(
    secure_app, make_person
):
    person = make_person("pnc_agent", "PNC-SON")
    client = secure_app.test_client()
    client.environ_base["wsgi.url_scheme"] = "https"
    form = client.get("/login", base_url=HTTPS)
    cookies = set_cookies(form)
    assert cookies, "the login form stores its CSRF token in the session cookie"
    for header in cookies:
        assert_host_cookie(header)
    signed_in = web_login(client, person.username, PASSWORD, otp(person.totp_secret))
    assert signed_in.status_code == 302, signed_in.get_data(as_text=True)
    for header in set_cookies(signed_in):
        assert_host_cookie(header)
    assert any(h.startswith("__Host-ruta_session=") for h in set_cookies(signed_in))
    assert client.get_cookie("ruta_session") is None
    assert client.get("/", base_url=HTTPS).status_code == 200  # the cookie is honoured


@pytest.mark.parametrize(
    "path", ["/login", "/", "/status", "/no-such-page", "/api/v1/institutions", "/api/v1/nope"]
)
def test_every_answer_sends_hsts_when_cookies_are_secure(secure_app, path):
    response = secure_app.test_client().get(path, base_url=HTTPS)
    assert response.headers["Strict-Transport-Security"] == HSTS
    assert HSTS == "max-age=31536000; includeSubDomains"


def test_without_secure_cookies_there_is_no_hsts_and_the_plain_cookie_name(app, client):
    response = client.get("/login")
    assert "Strict-Transport-Security" not in response.headers
    (cookie,) = set_cookies(response)
    assert cookie.startswith("ruta_session=") and "Secure" not in cookie


# ---- a certificate authority of our own -------------------------------------------------


@dataclass(frozen=True)
class Pki:
    directory: Path
    ca: Path  # the CA certificate clients are told to trust
    other_ca: Path  # a CA that did not sign the server's certificate
    cert: Path
    key: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _certificate(
    subject: str, key: Any, issuer: str, issuer_key: Any, *, ca: bool, dns: list[str]
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(_name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    else:
        # The name is "localhost" only: a client that connects to 127.0.0.1 with
        # verify-full must refuse it, which shows the host name is checked.
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in dns]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def _pem(path: Path, data: bytes, mode: int = 0o644) -> Path:
    path.write_bytes(data)
    path.chmod(mode)
    return path


def make_pki(directory: Path) -> Pki:
    ca_key, other_key, server_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    ca = _certificate("Ruta test CA", ca_key, "Ruta test CA", ca_key, ca=True, dns=[])
    other = _certificate("Someone else", other_key, "Someone else", other_key, ca=True, dns=[])
    server = _certificate(
        "localhost", server_key, "Ruta test CA", ca_key, ca=False, dns=["localhost"]
    )
    encoding = serialization.Encoding.PEM
    key_bytes = server_key.private_bytes(
        encoding, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return Pki(
        directory=directory,
        ca=_pem(directory / "ca.pem", ca.public_bytes(encoding)),
        other_ca=_pem(directory / "other-ca.pem", other.public_bytes(encoding)),
        cert=_pem(directory / "server.pem", server.public_bytes(encoding)),
        key=_pem(directory / "server.key", key_bytes, 0o600),
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(ready: Any, process: subprocess.Popen[bytes], log: Path, what: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited: {log.read_text(errors='replace')}")
        with contextlib.suppress(Exception):
            if ready():
                return
        time.sleep(0.2)
    raise RuntimeError(f"{what} did not start: {log.read_text(errors='replace')}")


@contextlib.contextmanager
def serving(command: list[str], log: Path, cwd: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A server process, its output in `log` (a pipe nobody reads could stall it)."""
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, cwd=cwd)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)


# ---- PostgreSQL over TLS (sslmode=verify-full) --------------------------------------------


def _as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: there, run it as the `postgres` user."""
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@dataclass(frozen=True)
class TlsPostgres:
    pki: Pki
    port: int

    def url(self, **query: str) -> str:
        params = "&".join(f"{key}={value}" for key, value in query.items())
        return f"postgresql+psycopg://postgres@localhost:{self.port}/postgres?{params}"


@pytest.fixture(scope="module")
def tls_postgres() -> Iterator[TlsPostgres]:
    if not (shutil.which("initdb") and shutil.which("postgres")):
        pytest.skip("PostgreSQL server programs (initdb, postgres) are not installed")
    if os.geteuid() == 0 and not shutil.which("runuser"):
        pytest.skip("running as root without runuser to start PostgreSQL as postgres")
    top = Path(tempfile.mkdtemp(prefix="ruta-tls-pg-"))
    try:
        pki = make_pki(top)
        data = top / "data"
        if os.geteuid() == 0:
            shutil.chown(top, "postgres")
            for path in (pki.cert, pki.key):
                shutil.chown(path, "postgres")
        subprocess.run(
            _as_postgres(["initdb", "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync"]),
            check=True,
            capture_output=True,
            timeout=120,
            cwd=top,
        )
        # TLS connections only: a plain one finds no pg_hba.conf line and is refused.
        (data / "pg_hba.conf").write_text(
            "hostssl all all 127.0.0.1/32 trust\nhostssl all all ::1/128 trust\n"
        )
        if os.geteuid() == 0:
            shutil.chown(data / "pg_hba.conf", "postgres")
        port = free_port()
        settings = {
            "listen_addresses": "127.0.0.1",
            "ssl": "on",
            "ssl_cert_file": pki.cert,
            "ssl_key_file": pki.key,
            "fsync": "off",
            "max_connections": "20",
            "shared_buffers": "16MB",
        }
        options = [arg for key, value in settings.items() for arg in ("-c", f"{key}={value}")]
        command = ["postgres", "-D", str(data), "-p", str(port), "-k", str(top), *options]
        log = top / "postgres.log"
        with serving(_as_postgres(command), log, top) as server:
            conninfo = (
                f"host=localhost port={port} user=postgres dbname=postgres "
                f"sslmode=verify-full sslrootcert={pki.ca} connect_timeout=3"
            )
            wait_for(lambda: psycopg.connect(conninfo).close() is None, server, log, "postgres")
            yield TlsPostgres(pki, port)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_database_url_tls_parameters_reach_psycopg(tls_postgres, tmp_path):
    ca = str(tls_postgres.pki.ca)
    settings = make_settings(tmp_path, tls_postgres.url(sslmode="verify-full", sslrootcert=ca))
    app = create_app(settings, for_cli=True)
    with app.app_context():
        _, params = db.engine.dialect.create_connect_args(db.engine.url)
        assert params["sslmode"] == "verify-full"
        assert params["sslrootcert"] == ca
        db.engine.dispose()


def test_the_app_talks_to_postgresql_over_verified_tls(tls_postgres, tmp_path):
    ca = str(tls_postgres.pki.ca)
    settings = make_settings(tmp_path, tls_postgres.url(sslmode="verify-full", sslrootcert=ca))
    migrate_to_head(settings)  # the migrations themselves ran over TLS
    app = create_app(settings)  # the start-up key checks too
    try:
        refused = app.test_client().post(
            "/api/v1/auth/token", json={"username": "nadie", "password": "no es"}
        )
        assert refused.status_code == 401  # the user lookup went to the database
        with app.app_context():
            ssl, version = db.session.execute(
                text("SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
            ).one()
            assert ssl is True and version.startswith("TLS")
            db.session.remove()
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize(
    ("host", "trusted", "mode", "refusal"),
    [
        ("localhost", "other_ca", "verify-full", "certificate verify failed"),
        ("127.0.0.1", "ca", "verify-full", "does not match host name"),
        ("localhost", "ca", "disable", "no encryption"),
    ],
    ids=["untrusted-ca", "wrong-host-name", "plain-text"],
)
def test_postgresql_refuses_what_verify_full_is_there_to_refuse(
    tls_postgres, host, trusted, mode, refusal
):
    conninfo = (
        f"host={host} port={tls_postgres.port} user=postgres dbname=postgres "
        f"sslmode={mode} sslrootcert={getattr(tls_postgres.pki, trusted)} connect_timeout=3"
    )
    with pytest.raises(psycopg.OperationalError, match=refusal):
        psycopg.connect(conninfo)
    # verify-ca checks the authority but not the name: the same host is accepted.
    if refusal == "does not match host name":
        psycopg.connect(conninfo.replace("verify-full", "verify-ca")).close()


# ---- Redis over TLS (rediss://) -------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_redis() -> Iterator[tuple[Pki, int]]:
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    top = Path(tempfile.mkdtemp(prefix="ruta-tls-redis-"))
    try:
        pki = make_pki(top)
        port = free_port()
        settings = {
            "port": "0",  # no plain-text port at all
            "tls-port": str(port),
            "bind": "127.0.0.1",
            "tls-cert-file": str(pki.cert),
            "tls-key-file": str(pki.key),
            "tls-ca-cert-file": str(pki.ca),
            "tls-auth-clients": "no",
            "save": "",
            "appendonly": "no",
            "dir": str(top),
        }
        command = ["redis-server", *(arg for k, v in settings.items() for arg in (f"--{k}", v))]
        log = top / "redis.log"
        with serving(command, log, top) as server:
            client = redis.Redis(
                host="localhost",
                port=port,
                ssl=True,
                ssl_ca_certs=str(pki.ca),
                socket_connect_timeout=2,
            )
            wait_for(client.ping, server, log, "redis-server")
            client.close()
            yield pki, port
    finally:
        shutil.rmtree(top, ignore_errors=True)


def rediss_url(port: int, ca: Path) -> str:
    return (
        f"rediss://localhost:{port}/0"
        f"?ssl_ca_certs={ca}&ssl_cert_reqs=required&ssl_check_hostname=true"
    )


def test_a_rediss_url_puts_the_limiter_and_login_throttle_on_verified_tls(
    tls_redis, settings, make_person
):
    pki, port = tls_redis
    settings.redis_url = rediss_url(port, pki.ca)
    app = create_app(settings)
    try:
        with app.app_context():
            storage = limiter.storage
            pool = storage.storage.connection_pool
            assert pool.connection_class.__name__ == "SSLConnection"
            assert pool.connection_kwargs["ssl_ca_certs"] == str(pki.ca)
            assert pool.connection_kwargs["ssl_check_hostname"] is True
            assert storage.check()
        direct = redis.Redis(host="localhost", port=port, ssl=True, ssl_ca_certs=str(pki.ca))
        direct.flushdb()
        failed = app.test_client().post(
            "/api/v1/auth/token", json={"username": "agente.x", "password": "no es"}
        )
        assert failed.status_code == 401
        assert direct.dbsize() > 0  # the throttle counted the failure in Redis, over TLS
        direct.close()
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_a_redis_whose_certificate_is_not_trusted_is_refused(tls_redis):
    pki, port = tls_redis
    untrusted = redis.Redis.from_url(rediss_url(port, pki.other_ca), socket_connect_timeout=2)
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        untrusted.ping()
    wrong_name = redis.Redis(
        host="127.0.0.1", port=port, ssl=True, ssl_ca_certs=str(pki.ca), socket_connect_timeout=2
    )
    with pytest.raises(redis.ConnectionError, match=r"certificate verify failed|match"):
        wrong_name.ping()
