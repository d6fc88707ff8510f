"""Configuration read from the environment, typed and checked at start-up.

Every setting named in CONTRACT.md §1 lives here. Secrets are never given a default:
the Flask secret comes from RUTA_SECRET_KEY or the file `keys init` writes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

BASE_DIR = Path(__file__).resolve().parent
INSTANCE_DIR = BASE_DIR / "instance"


class ConfigError(RuntimeError):
    """The environment does not describe a runnable application."""


def _flag(env: Mapping[str, str], name: str, default: bool) -> bool:
    value = env.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}: expected a boolean (1/0), got {value!r}")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 1) -> int:
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError as exc:
        raise ConfigError(f"{name}: expected a whole number, got {value!r}") from exc
    if number < minimum:
        raise ConfigError(f"{name}: expected a number of at least {minimum}, got {value!r}")
    return number


def _path(value: str) -> Path:
    path = Path(value)
    return path if path.is_absolute() else BASE_DIR / path


def _optional_path(env: Mapping[str, str], name: str) -> Path | None:
    value = env.get(name)
    return _path(value) if value else None


SHIP_FACILITIES = ("local0", "authpriv")


def _facility(env: Mapping[str, str]) -> str:
    value = env.get("RUTA_AUDIT_SHIP_FACILITY") or "local0"
    if value not in SHIP_FACILITIES:
        raise ConfigError(f"RUTA_AUDIT_SHIP_FACILITY: expected local0 or authpriv, got {value!r}")
    return value


def normalise_database_url(url: str) -> str:
    """Make a relative SQLite path relative to the repo root, not Flask's instance folder."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        return prefix + str(BASE_DIR / url[len(prefix) :])
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        # psycopg 3 is the only PostgreSQL driver we ship.
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def clamd_address(value: str | None) -> str | tuple[str, int] | None:
    """RUTA_CLAMD: clamd's Unix socket (an absolute path) or `host:port`; empty: none."""
    if not value:
        return None
    if value.startswith("/"):
        return value
    host, _, port = value.rpartition(":")
    if host and port.isdigit() and 0 < int(port) < 65536:
        return host.strip("[]"), int(port)
    raise ConfigError(f"RUTA_CLAMD: expected a socket path or host:port, got {value!r}")


def _cookie_name(name: str, secure: bool) -> str:
    return f"__Host-{name}" if secure else name


def read_secret_key(env: Mapping[str, str], secret_file: Path) -> str | None:
    if env.get("RUTA_SECRET_KEY"):
        return env["RUTA_SECRET_KEY"]
    if secret_file.exists():
        return secret_file.read_text().strip() or None
    return None


# ---- systemd credentials (docs/deployment-secrets.md) -----------------------------------

KEK_CREDENTIAL = "ruta-kek"
FLASK_KEY_CREDENTIAL = "ruta-secret-key"
# Credentials whose contents replace a variable of the environment, when present.
URL_CREDENTIALS = {"ruta-database-url": "DATABASE_URL", "ruta-redis-url": "REDIS_URL"}


def credentials_directory(env: Mapping[str, str]) -> Path | None:
    """Where systemd put the credentials it decrypted for this service, if it did."""
    value = env.get("CREDENTIALS_DIRECTORY")
    if not value:
        return None
    if not Path(value).is_dir():
        raise ConfigError(f"CREDENTIALS_DIRECTORY: {value} is not a directory")
    return Path(value)


def with_credentials(env: Mapping[str, str]) -> Mapping[str, str]:
    """The environment as the credentials override it: the key file and the Flask secret
    come only from there (RUTA_SECRET_KEY is ignored), the URLs when their file exists."""
    directory = credentials_directory(env)
    if directory is None:
        return env
    merged = {name: value for name, value in env.items() if name != "RUTA_SECRET_KEY"}
    # The anchors stay where they were: the credentials directory is read-only.
    default_secret = _path(env.get("RUTA_SECRET_FILE", "instance/secret_key"))
    if not merged.get("RUTA_AUDIT_ANCHOR_DIR"):
        merged["RUTA_AUDIT_ANCHOR_DIR"] = str(default_secret.parent / "audit-anchors")
    merged["RUTA_KEY_FILE"] = str(directory / KEK_CREDENTIAL)
    merged["RUTA_SECRET_FILE"] = str(directory / FLASK_KEY_CREDENTIAL)
    for name, variable in URL_CREDENTIALS.items():
        if (directory / name).is_file():
            merged[variable] = (directory / name).read_text().strip()
    return merged


# ---- backends: the outbound allowlist and the client keys (docs/deployment-network.md) --

DEFAULT_PORTS = {"postgresql": 5432, "postgres": 5432, "redis": 6379, "rediss": 6379}
# Set by the features that talk to them; read here by name so that no host escapes the
# allowlist.
OUTBOUND_SETTINGS = ("DATABASE_URL", "REDIS_URL", "RUTA_AUDIT_SHIP_URL", "RUTA_CLAMD")


def _host_port(value: str, default_port: int | None = None) -> tuple[str, int | None] | None:
    """`host[:port]` of a URL or a bare `host:port`; None for a file or a socket path."""
    parts = urlsplit(value if "://" in value else "//" + value)
    if not parts.hostname or parts.scheme in {"unix", "file", "sqlite"}:
        return None
    try:
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"not a valid port in {parts.netloc!r}") from exc
    scheme = parts.scheme.split("+", 1)[0]
    return parts.hostname.lower(), port or DEFAULT_PORTS.get(scheme, default_port)


def _endpoints(name: str, value: str) -> Iterator[tuple[str, int | None]]:
    if value.startswith(("/", "unix:")):
        return  # a Unix socket or a mounted directory: not the network
    found = _host_port(value)
    if found:
        yield found
    if name == "DATABASE_URL":  # libpq's `host=` parameters (several hosts, failover)
        for host in parse_qs(urlsplit(value).query).get("host", []):
            if not host.startswith("/"):
                extra = _host_port(host, DEFAULT_PORTS["postgresql"])
                if extra:
                    yield extra


def _allowed(entries: list[tuple[str, int | None]], host: str, port: int | None) -> bool:
    return any(host == h and (p is None or p == port) for h, p in entries)


def check_outbound_allowlist(env: Mapping[str, str]) -> None:
    """With RUTA_OUTBOUND_ALLOW set, every host Ruta would connect to must be in it."""
    allow = env.get("RUTA_OUTBOUND_ALLOW", "")
    if not allow.strip():
        return
    try:
        entries = [found for item in allow.split(",") if (found := _host_port(item.strip()))]
    except ConfigError as exc:
        raise ConfigError(f"RUTA_OUTBOUND_ALLOW: {exc}") from exc
    refused = [
        f"{name} -> {host}" + (f":{port}" if port else "")
        for name in OUTBOUND_SETTINGS
        for host, port in _endpoints(name, env.get(name, ""))
        if not _allowed(entries, host, port)
    ]
    if refused:
        raise ConfigError(
            f"RUTA_OUTBOUND_ALLOW does not allow {', '.join(refused)}: "
            "add the host there, or correct the setting"
        )


CLIENT_KEYS = {"DATABASE_URL": "sslkey", "REDIS_URL": "ssl_keyfile"}


def _too_open(info: os.stat_result) -> bool:
    # libpq's own rule: 0600 or less, or 0640 or less for a key owned by root.
    if info.st_uid == 0 and os.geteuid() != 0:
        return bool(info.st_mode & 0o037)
    return bool(info.st_mode & 0o077)


def check_client_keys(env: Mapping[str, str]) -> None:
    """A client key that others may read is refused here, in one clear line: libpq would
    refuse it deep in the first connection, and Redis's TLS not at all."""
    for name, parameter in CLIENT_KEYS.items():
        for value in parse_qs(urlsplit(env.get(name, "")).query).get(parameter, []):
            key = Path(value)
            if not key.is_file():
                raise ConfigError(f"{name}: the client key {parameter}={key} does not exist")
            info = key.stat()
            if _too_open(info):
                raise ConfigError(
                    f"{name}: the client key {parameter}={key} may be read by others "
                    f"(mode {stat.S_IMODE(info.st_mode):04o}); run `chmod 600 {key}`"
                )


@dataclass
class Settings:
    """The settings the app is built from; `to_flask()` gives Flask's config mapping."""

    database_url: str
    key_file: Path
    attachments_dir: Path
    secret_file: Path
    secret_key: str | None
    require_mfa: bool
    redis_url: str | None
    # Case-number prefix for an institution whose department the map does not know; a
    # case is otherwise numbered by its opening institution's department (DOMAIN.md).
    department: str = "SON"
    secure_cookies: bool = True
    testing: bool = False
    # Where systemd's credentials are (CREDENTIALS_DIRECTORY): the key file there is
    # read-only, so the commands that would write it refuse (docs/deployment-secrets.md).
    credentials_dir: Path | None = None
    token_lifetime: timedelta = timedelta(hours=12)
    # A token unused this long is refused: a forgotten script's token does not live 12 h.
    token_idle: timedelta = timedelta(minutes=30)
    # Case reads per user in a rolling hour (app/auth/read_limit.py): bulk copying stops.
    case_reads_per_hour: int = 300
    # Case writes per user in a rolling hour (app/auth/write_limit.py): a flood of
    # intakes, notes or uploads stops at the person who sends it.
    case_writes_per_hour: int = 600
    # Open logins per account, web sessions and API tokens together; a new sign-in ends
    # the least recently used beyond it (app/auth/sessions.py::make_room).
    max_sessions: int = 5
    idle_timeout: timedelta = timedelta(minutes=30)
    session_lifetime: timedelta = timedelta(hours=12)
    break_glass_minutes: int = 60
    # Reverse proxies in front of the app whose X-Forwarded-For we trust (0: none).
    proxies: int = 0
    # Where the audit chain's anchors go (None: `audit-anchors` beside the secret file,
    # instance/audit-anchors by default), and how old the newest may get while writing.
    audit_anchor_dir: Path | None = None
    audit_anchor_seconds: int = 600
    # How often a worker chains the events written since the last seal (0: after every
    # audited request). Until then a deleted event goes unnoticed (docs/audit.md).
    audit_seal_seconds: int = 1
    # Years a closed record is kept before `records purge` destroys its key; a survivor
    # under 18 when it closed is kept until she is 18 plus these years.
    retention_years: int = 10
    # Where `audit ship` sends the audit events (syslog+tls://host:6514 or file:///path;
    # None: nowhere), the CA that signs the log host's certificate (None: the system's),
    # our client certificate and key if the log host asks for one, and the facility.
    audit_ship_url: str | None = None
    audit_ship_ca: Path | None = None
    audit_ship_cert: Path | None = None
    audit_ship_key: Path | None = None
    audit_ship_facility: str = "local0"
    # The antivirus that scans every upload (app/cases/antivirus.py); None: no scan, and
    # a production start-up (secure cookies) says so in a warning.
    clamd: str | tuple[str, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = with_credentials(os.environ if env is None else env)
        check_outbound_allowlist(env)
        check_client_keys(env)
        secret_file = _path(env.get("RUTA_SECRET_FILE", "instance/secret_key"))
        return cls(
            database_url=normalise_database_url(
                env.get("DATABASE_URL", "sqlite:///instance/ruta.db")
            ),
            key_file=_path(env.get("RUTA_KEY_FILE", "instance/keys/kek")),
            attachments_dir=_path(env.get("RUTA_ATTACHMENTS_DIR", "instance/attachments")),
            secret_file=secret_file,
            secret_key=read_secret_key(env, secret_file),
            credentials_dir=credentials_directory(env),
            require_mfa=_flag(env, "RUTA_REQUIRE_MFA", True),
            redis_url=env.get("REDIS_URL") or None,
            department=env.get("RUTA_DEPARTMENT", "SON").upper(),
            # Cookies travel only over TLS (and pages send HSTS); ./run.sh's demo serves
            # plain HTTP on 127.0.0.1 and sets it to 0.
            secure_cookies=_flag(env, "RUTA_SECURE_COOKIES", True),
            idle_timeout=timedelta(minutes=_int(env, "RUTA_IDLE_MINUTES", 30)),
            session_lifetime=timedelta(hours=_int(env, "RUTA_SESSION_HOURS", 12)),
            token_lifetime=timedelta(hours=_int(env, "RUTA_TOKEN_HOURS", 12)),
            token_idle=timedelta(minutes=_int(env, "RUTA_TOKEN_IDLE_MINUTES", 30)),
            case_reads_per_hour=_int(env, "RUTA_CASE_READS_PER_HOUR", 300),
            case_writes_per_hour=_int(env, "RUTA_CASE_WRITES_PER_HOUR", 600),
            max_sessions=_int(env, "RUTA_MAX_SESSIONS", 5),
            break_glass_minutes=_int(env, "RUTA_BREAK_GLASS_MINUTES", 60),
            proxies=_int(env, "RUTA_PROXIES", 0, minimum=0),
            audit_anchor_dir=_path(env["RUTA_AUDIT_ANCHOR_DIR"])
            if env.get("RUTA_AUDIT_ANCHOR_DIR")
            else None,
            audit_anchor_seconds=_int(env, "RUTA_AUDIT_ANCHOR_SECONDS", 600),
            audit_seal_seconds=_int(env, "RUTA_AUDIT_SEAL_SECONDS", 1, minimum=0),
            retention_years=_int(env, "RUTA_RETENTION_YEARS", 10),
            audit_ship_url=env.get("RUTA_AUDIT_SHIP_URL") or None,
            audit_ship_ca=_optional_path(env, "RUTA_AUDIT_SHIP_CA"),
            audit_ship_cert=_optional_path(env, "RUTA_AUDIT_SHIP_CERT"),
            audit_ship_key=_optional_path(env, "RUTA_AUDIT_SHIP_KEY"),
            audit_ship_facility=_facility(env),
            clamd=clamd_address(env.get("RUTA_CLAMD")),
        )

    def to_flask(self) -> dict[str, Any]:
        # No ping before each checkout (a round trip per request): connections older
        # than five minutes are replaced, and a read that meets one the database
        # dropped is tried again (app/core/http.py).
        engine_options: dict[str, Any] = {"pool_recycle": 300}
        if self.database_url.startswith("sqlite"):
            engine_options = {"connect_args": {"timeout": 30}}
        config: dict[str, Any] = {
            "SQLALCHEMY_DATABASE_URI": self.database_url,
            "SQLALCHEMY_ENGINE_OPTIONS": engine_options,
            "SQLALCHEMY_RECORD_QUERIES": False,
            "SECRET_KEY": self.secret_key,
            "RUTA_SECRET_FILE": self.secret_file,
            "RUTA_KEY_FILE": self.key_file,
            "RUTA_CREDENTIALS_DIR": self.credentials_dir,
            "RUTA_ATTACHMENTS_DIR": self.attachments_dir,
            "RUTA_REQUIRE_MFA": self.require_mfa,
            "RUTA_DEPARTMENT": self.department,
            "RUTA_TOKEN_LIFETIME": self.token_lifetime,
            "RUTA_TOKEN_IDLE": self.token_idle,
            "RUTA_CASE_READS_PER_HOUR": self.case_reads_per_hour,
            "RUTA_CASE_WRITES_PER_HOUR": self.case_writes_per_hour,
            "RUTA_MAX_SESSIONS": self.max_sessions,
            "RUTA_IDLE_TIMEOUT": self.idle_timeout,
            "RUTA_SESSION_LIFETIME": self.session_lifetime,
            "RUTA_BREAK_GLASS_MINUTES": self.break_glass_minutes,
            "RUTA_PROXIES": self.proxies,
            "RUTA_AUDIT_ANCHOR_DIR": self.audit_anchor_dir
            or self.secret_file.parent / "audit-anchors",
            "RUTA_AUDIT_ANCHOR_SECONDS": self.audit_anchor_seconds,
            "RUTA_AUDIT_SEAL_SECONDS": self.audit_seal_seconds,
            "RUTA_RETENTION_YEARS": self.retention_years,
            "RUTA_AUDIT_SHIP_URL": self.audit_ship_url,
            "RUTA_AUDIT_SHIP_CA": self.audit_ship_ca,
            "RUTA_AUDIT_SHIP_CERT": self.audit_ship_cert,
            "RUTA_AUDIT_SHIP_KEY": self.audit_ship_key,
            "RUTA_AUDIT_SHIP_FACILITY": self.audit_ship_facility,
            "RUTA_CLAMD": self.clamd,
            "REDIS_URL": self.redis_url,
            "RATELIMIT_STORAGE_URI": self.redis_url or "memory://",
            "RATELIMIT_HEADERS_ENABLED": True,
            "TESTING": self.testing,
            "SESSION_COOKIE_HTTPONLY": True,
            # Strict: no cross-site request ever carries the session (CSRF defence in depth).
            "SESSION_COOKIE_SAMESITE": "Strict",
            "SESSION_COOKIE_SECURE": self.secure_cookies,
            # __Host-: the browser keeps it only if Secure, Path=/ and without Domain, so
            # neither a sibling subdomain nor a plain-HTTP page can plant or read it.
            "SESSION_COOKIE_NAME": _cookie_name("ruta_session", self.secure_cookies),
            "SESSION_COOKIE_PATH": "/",
            "SESSION_COOKIE_DOMAIN": None,
            "REMEMBER_COOKIE_NAME": _cookie_name("ruta_remember", self.secure_cookies),
            "REMEMBER_COOKIE_PATH": "/",
            "REMEMBER_COOKIE_HTTPONLY": True,
            "REMEMBER_COOKIE_SECURE": self.secure_cookies,
            "REMEMBER_COOKIE_SAMESITE": "Strict",
            "RUTA_SECURE_COOKIES": self.secure_cookies,
            "PERMANENT_SESSION_LIFETIME": self.session_lifetime,
            "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the login session
            "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,
            "JSON_SORT_KEYS": False,
            "BABEL_DEFAULT_LOCALE": "es",
            "BABEL_DEFAULT_TIMEZONE": "America/El_Salvador",
        }
        config.update(self.extra)
        return config
