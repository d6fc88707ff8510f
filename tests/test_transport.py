"""Transport (issue 15): TLS-only cookies and HSTS by default, TLS to PostgreSQL and Redis.

The TLS tests generate a certificate authority, server and client certificates in a
temporary directory and start a real PostgreSQL (`initdb`, `postgres`) and a real Redis
(`redis-server --tls-port`) that accept TLS connections only; Ruta signs in to both with
its client certificate and no password (ASVS 13.2.1). They are skipped where those
programs are not installed. See docs/deployment-tls.md. The outbound allowlist of
docs/deployment-network.md (RUTA_OUTBOUND_ALLOW) is tested at the end.
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
from dataclasses import dataclass, field
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
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app import create_app
from app.core.http import HSTS
from app.extensions import db, limiter
from config import ConfigError, Settings
from tests.auth_helpers import otp, web_login
from tests.conftest import PASSWORD, make_settings, migrate_to_head
from tests.test_startup import run_entry_point, the_one_line

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
    ca_key: Any = field(repr=False)
    other_key: Any = field(repr=False)


@dataclass(frozen=True)
class ClientCert:
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
    elif dns:
        # The name is "localhost" only: a client that connects to 127.0.0.1 with
        # verify-full must refuse it, which shows the host name is checked.
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(name) for name in dns]), critical=False
        )
    else:  # a client's: its common name is the role it signs in as
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
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
        ca_key=ca_key,
        other_key=other_key,
    )


def issue_client(pki: Pki, role: str, *, by_other_ca: bool = False) -> ClientCert:
    """A client certificate for `role` (its CN), signed by the test CA or the other one."""
    issuer, issuer_key = (
        ("Someone else", pki.other_key) if by_other_ca else ("Ruta test CA", pki.ca_key)
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _certificate(role, key, issuer, issuer_key, ca=False, dns=[])
    stem = f"client-{role}-{'other' if by_other_ca else 'ca'}"
    encoding = serialization.Encoding.PEM
    key_bytes = key.private_bytes(
        encoding, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return ClientCert(
        cert=_pem(pki.directory / f"{stem}.pem", cert.public_bytes(encoding)),
        key=_pem(pki.directory / f"{stem}.key", key_bytes, 0o600),
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


# The application's role (the migrations' default RUTA_DB_APP_ROLE) signs in with its
# certificate alone; `postgres`, which sets the test server up, by trust.
APP_ROLE = "ruta_app"
APP_DATABASE = "ruta"


@dataclass(frozen=True)
class TlsPostgres:
    pki: Pki
    port: int

    def url(self, user: str = "postgres", database: str = "postgres", **query: str) -> str:
        params = "&".join(f"{key}={value}" for key, value in query.items())
        return f"postgresql+psycopg://{user}@localhost:{self.port}/{database}?{params}"

    def app_url(self, client: ClientCert | None, **query: str) -> str:
        """Ruta's DATABASE_URL: verify-full, its certificate and key, no password."""
        certificate = {"sslcert": str(client.cert), "sslkey": str(client.key)} if client else {}
        return self.url(
            APP_ROLE,
            APP_DATABASE,
            sslmode="verify-full",
            sslrootcert=str(self.pki.ca),
            **certificate,
            **query,
        )


def _create_app_role_and_database(conninfo: str) -> None:
    with psycopg.connect(conninfo, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {APP_ROLE} LOGIN")  # no password: there is none to steal
        admin.execute(f"CREATE DATABASE {APP_DATABASE}")


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
        # Ruta's role by a certificate of our CA whose CN is the role's name, nothing else.
        (data / "pg_hba.conf").write_text(
            f"hostssl all {APP_ROLE} 127.0.0.1/32 cert\n"
            f"hostssl all {APP_ROLE} ::1/128 cert\n"
            "hostssl all postgres 127.0.0.1/32 trust\nhostssl all postgres ::1/128 trust\n"
        )
        if os.geteuid() == 0:
            shutil.chown(data / "pg_hba.conf", "postgres")
        port = free_port()
        settings = {
            "listen_addresses": "127.0.0.1",
            "ssl": "on",
            "ssl_cert_file": pki.cert,
            "ssl_key_file": pki.key,
            "ssl_ca_file": pki.ca,  # the CA a client certificate must chain to
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
            _create_app_role_and_database(conninfo)
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


def test_the_app_signs_in_to_postgresql_with_its_client_certificate_alone(tls_postgres, tmp_path):
    client = issue_client(tls_postgres.pki, APP_ROLE)
    url = tls_postgres.app_url(client)
    assert make_url(url).password is None
    admin_url = tls_postgres.url(
        database=APP_DATABASE, sslmode="verify-full", sslrootcert=str(tls_postgres.pki.ca)
    )
    migrate_to_head(make_settings(tmp_path, admin_url))  # the owner migrates, and grants
    app = create_app(Settings.from_env(server_env(tmp_path, DATABASE_URL=url)))
    try:
        refused = app.test_client().post(
            "/api/v1/auth/token", json={"username": "nadie", "password": "no es"}
        )
        assert refused.status_code == 401  # the user lookup went to the database
        with app.app_context():
            role, ssl, client_dn = db.session.execute(
                text(
                    "SELECT current_user, ssl, client_dn FROM pg_stat_ssl "
                    "WHERE pid = pg_backend_pid()"
                )
            ).one()
            db.session.remove()
        assert (role, ssl, client_dn) == (APP_ROLE, True, f"/CN={APP_ROLE}")
    finally:
        with app.app_context():
            db.engine.dispose()


@pytest.mark.parametrize(
    ("certificate", "refusal"),
    [
        (None, "requires a valid client certificate"),
        ("other_ca", "unknown ca|certificate verify failed|alert"),
        ("postgres", f'certificate authentication failed for user "{APP_ROLE}"'),
    ],
    ids=["no-certificate", "certificate-of-another-ca", "certificate-of-another-role"],
)
def test_postgresql_refuses_the_app_without_its_own_certificate(
    tls_postgres, tmp_path, certificate, refusal
):
    pki = tls_postgres.pki
    client = {
        None: None,
        "other_ca": issue_client(pki, APP_ROLE, by_other_ca=True),
        "postgres": issue_client(pki, "postgres"),
    }[certificate]
    settings = make_settings(tmp_path, tls_postgres.app_url(client, connect_timeout="3"))
    with pytest.raises(OperationalError, match=refusal):
        create_app(settings)


def server_env(tmp_path: Path, **settings: str) -> dict[str, str]:
    """What a server's environment holds, for Settings.from_env."""
    return {
        "RUTA_SECRET_KEY": "a secret of the test",
        "RUTA_KEY_FILE": str(tmp_path / "keys" / "kek"),
        "RUTA_SECRET_FILE": str(tmp_path / "secret_key"),
        "RUTA_ATTACHMENTS_DIR": str(tmp_path / "attachments"),
        "RUTA_AUDIT_ANCHOR_DIR": str(tmp_path / "audit-anchors"),
        "RUTA_REQUIRE_MFA": "0",
        **settings,
    }


def test_libpq_itself_refuses_a_client_key_that_others_may_read(tls_postgres):
    client = issue_client(tls_postgres.pki, APP_ROLE)
    client.key.chmod(0o644)
    conninfo = make_url(tls_postgres.app_url(client)).set(drivername="postgresql")
    with pytest.raises(psycopg.OperationalError, match="group or world access"):
        psycopg.connect(conninfo.render_as_string(hide_password=False))


@pytest.mark.parametrize("setting", ["DATABASE_URL", "REDIS_URL"])
def test_a_client_key_that_others_may_read_stops_the_server_in_one_clear_line(
    settings, tmp_path, setting
):
    pki = make_pki(tmp_path)
    client = issue_client(pki, APP_ROLE)
    client.key.chmod(0o644)
    urls = {
        "DATABASE_URL": f"postgresql+psycopg://{APP_ROLE}@localhost:1/ruta?sslmode=verify-full"
        f"&sslrootcert={pki.ca}&sslcert={client.cert}&sslkey={client.key}",
        "REDIS_URL": rediss_url(1, pki.ca, client),
    }
    refused = run_entry_point("python wsgi.py", settings, tmp_path, **{setting: urls[setting]})
    line = the_one_line(refused)
    assert f"{setting}: the client key" in line and str(client.key) in line
    assert "mode 0644" in line and f"chmod 600 {client.key}" in line
    assert "[ConfigError]" in line


def test_a_client_key_of_0600_is_accepted_and_a_missing_one_is_named(tmp_path):
    pki = make_pki(tmp_path)
    client = issue_client(pki, APP_ROLE)
    env = server_env(tmp_path, REDIS_URL=rediss_url(6380, pki.ca, client))
    assert Settings.from_env(env).redis_url == env["REDIS_URL"]
    client.key.unlink()
    with pytest.raises(
        ConfigError, match=r"REDIS_URL: the client key ssl_keyfile=.* does not exist"
    ):
        Settings.from_env(env)


# ---- Redis over TLS (rediss://) -------------------------------------------------------------


@dataclass(frozen=True)
class TlsRedis:
    pki: Pki
    port: int
    client: ClientCert  # Ruta's certificate: Redis asks every client for one


@pytest.fixture(scope="module")
def tls_redis() -> Iterator[TlsRedis]:
    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    top = Path(tempfile.mkdtemp(prefix="ruta-tls-redis-"))
    try:
        pki = make_pki(top)
        client = issue_client(pki, "ruta")
        port = free_port()
        settings = {
            "port": "0",  # no plain-text port at all
            "tls-port": str(port),
            "bind": "127.0.0.1",
            "tls-cert-file": str(pki.cert),
            "tls-key-file": str(pki.key),
            "tls-ca-cert-file": str(pki.ca),
            "tls-auth-clients": "yes",  # a client without a certificate of our CA is refused
            "save": "",
            "appendonly": "no",
            "dir": str(top),
        }
        command = ["redis-server", *(arg for k, v in settings.items() for arg in (f"--{k}", v))]
        log = top / "redis.log"
        with serving(command, log, top) as server:
            ready = direct_redis(TlsRedis(pki, port, client))
            wait_for(ready.ping, server, log, "redis-server")
            ready.close()
            yield TlsRedis(pki, port, client)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def direct_redis(server: TlsRedis, client: ClientCert | None = None) -> redis.Redis:
    """A connection of the test's own, with Ruta's certificate unless told another."""
    client = client or server.client
    return redis.Redis(
        host="localhost",
        port=server.port,
        ssl=True,
        ssl_ca_certs=str(server.pki.ca),
        ssl_certfile=str(client.cert),
        ssl_keyfile=str(client.key),
        socket_connect_timeout=2,
    )


def rediss_url(port: int, ca: Path, client: ClientCert | None = None) -> str:
    certificate = f"&ssl_certfile={client.cert}&ssl_keyfile={client.key}" if client else ""
    return (
        f"rediss://localhost:{port}/0"
        f"?ssl_ca_certs={ca}&ssl_cert_reqs=required&ssl_check_hostname=true{certificate}"
    )


def test_a_rediss_url_puts_the_limiter_and_login_throttle_on_verified_tls(
    tls_redis, settings, make_person
):
    client = tls_redis.client
    settings.redis_url = rediss_url(tls_redis.port, tls_redis.pki.ca, client)
    assert make_url(settings.redis_url.replace("rediss", "redis", 1)).password is None
    app = create_app(settings)
    try:
        with app.app_context():
            storage = limiter.storage
            pool = storage.storage.connection_pool
            assert pool.connection_class.__name__ == "SSLConnection"
            kwargs = pool.connection_kwargs
            assert kwargs["ssl_ca_certs"] == str(tls_redis.pki.ca)
            assert kwargs["ssl_check_hostname"] is True
            # redis-py takes the client certificate from the URL as it is.
            assert (kwargs["ssl_certfile"], kwargs["ssl_keyfile"]) == (
                str(client.cert),
                str(client.key),
            )
            assert storage.check()
        direct = direct_redis(tls_redis)
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


@pytest.mark.parametrize("certificate", [None, "other_ca"], ids=["none", "of-another-ca"])
def test_redis_refuses_a_client_without_a_certificate_of_ours(tls_redis, certificate):
    client = issue_client(tls_redis.pki, "ruta", by_other_ca=True) if certificate else None
    refused = redis.Redis.from_url(
        rediss_url(tls_redis.port, tls_redis.pki.ca, client), socket_connect_timeout=2
    )
    with pytest.raises(redis.ConnectionError):
        refused.ping()
    assert direct_redis(tls_redis).ping()  # and Ruta's own certificate is let in


def test_a_redis_whose_certificate_is_not_trusted_is_refused(tls_redis):
    pki, port, client = tls_redis.pki, tls_redis.port, tls_redis.client
    untrusted = redis.Redis.from_url(
        rediss_url(port, pki.other_ca, client), socket_connect_timeout=2
    )
    with pytest.raises(redis.ConnectionError, match="certificate verify failed"):
        untrusted.ping()
    wrong_name = redis.Redis(
        host="127.0.0.1",
        port=port,
        ssl=True,
        ssl_ca_certs=str(pki.ca),
        ssl_certfile=str(client.cert),
        ssl_keyfile=str(client.key),
        socket_connect_timeout=2,
    )
    with pytest.raises(redis.ConnectionError, match=r"certificate verify failed|match"):
        wrong_name.ping()


# ---- the outbound allowlist (RUTA_OUTBOUND_ALLOW, docs/deployment-network.md) ---------------

REACHABLE = {
    "DATABASE_URL": "postgresql+psycopg://ruta_app@db.example.sv/ruta?sslmode=verify-full",
    "REDIS_URL": "rediss://cache.example.sv:6380/0",
    "RUTA_AUDIT_SHIP_URL": "syslog+tls://logs.example.sv:6514",
    "RUTA_CLAMD": "av.example.sv:3310",
}
ALLOW = "db.example.sv:5432, cache.example.sv:6380,logs.example.sv:6514,AV.example.sv:3310"


def allowlist_env(tmp_path: Path, **changed: str) -> dict[str, str]:
    return server_env(tmp_path, **{"RUTA_OUTBOUND_ALLOW": ALLOW, **REACHABLE, **changed})


def test_every_backend_inside_the_outbound_allowlist_starts(tmp_path):
    assert Settings.from_env(allowlist_env(tmp_path)).redis_url == REACHABLE["REDIS_URL"]
    # A host without a port allows each of its ports; sockets and files need no entry.
    local = allowlist_env(
        tmp_path,
        RUTA_OUTBOUND_ALLOW="db.example.sv,cache.example.sv:6380",
        DATABASE_URL="postgresql+psycopg://ruta_app@db.example.sv:6432/ruta",
        RUTA_AUDIT_SHIP_URL="/mnt/audit-share",
        RUTA_CLAMD="/run/clamav/clamd.ctl",
    )
    Settings.from_env(local)
    Settings.from_env({**local, "DATABASE_URL": "sqlite:///instance/ruta.db"})


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("DATABASE_URL", "postgresql://ruta_app@db.other.sv/ruta", "db.other.sv:5432"),
        ("DATABASE_URL", "postgresql://ruta_app@db.example.sv:5433/ruta", "db.example.sv:5433"),
        (
            "DATABASE_URL",
            "postgresql+psycopg://ruta_app@/ruta?host=db.example.sv:5432&host=standby.sv:5432",
            "standby.sv:5432",
        ),
        ("REDIS_URL", "rediss://:clave@cache.other.sv:6380/0", "cache.other.sv:6380"),
        ("RUTA_AUDIT_SHIP_URL", "syslog+tls://198.51.100.7:6514", "198.51.100.7:6514"),
        ("RUTA_CLAMD", "av.example.sv:3311", "av.example.sv:3311"),
    ],
    ids=["db-host", "db-port", "db-failover-host", "redis", "audit-ship", "clamd"],
)
def test_a_backend_outside_the_outbound_allowlist_is_refused(tmp_path, setting, value, named):
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(allowlist_env(tmp_path, **{setting: value}))
    message = str(refused.value)
    assert message.startswith("RUTA_OUTBOUND_ALLOW does not allow ")
    assert f"{setting} -> {named}" in message
    assert "clave" not in message  # a password in the URL is never repeated
    # Without the allowlist nothing is checked (the network's own rules still apply).
    unchecked = allowlist_env(tmp_path, **{setting: value, "RUTA_OUTBOUND_ALLOW": ""})
    Settings.from_env(unchecked)


def test_a_bad_allowlist_entry_is_named(tmp_path):
    with pytest.raises(ConfigError, match="RUTA_OUTBOUND_ALLOW: not a valid port"):
        Settings.from_env(allowlist_env(tmp_path, RUTA_OUTBOUND_ALLOW="db.example.sv:cinco"))


def test_a_backend_outside_the_allowlist_stops_the_server_in_one_line(settings, tmp_path):
    refused = run_entry_point(
        "gunicorn",
        settings,
        tmp_path,
        RUTA_OUTBOUND_ALLOW="127.0.0.1:5432,cache.example.sv:6380",
        REDIS_URL="rediss://cache.other.sv:6380/0",
    )
    line = the_one_line(refused)
    assert "RUTA_OUTBOUND_ALLOW does not allow" in line
    assert "REDIS_URL -> cache.other.sv:6380" in line and "[ConfigError]" in line
