"""Settings: read once from the INI file and the environment, validated, then frozen.

The environment variables are those of the original deployment guide, so a deployment
written for it works unchanged. Every bad value raises :class:`ConfigError` with one line
that names the variable and the rule; secrets never appear in that line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from argon2.profiles import get_default_parameters
from sqlalchemy.engine import URL, make_url

from orbitflow.pixel_ids import META_PIXEL_ID, META_PIXEL_ID_RULE, TIKTOK_PIXEL_CODE, TIKTOK_PIXEL_CODE_RULE
from orbitflow.shared import shared
from orbitflow.tenants.zones import valid_zone

MIN_SECRET_LENGTH = 32
DEFAULT_POOL_SIZE = 20
DEFAULT_POOL_TIMEOUT = 10
# Prisma's connection-pool options in a DATABASE_URL written for the original: read by
# pool_options(), so parse_database_url() accepts them.
PRISMA_POOL_OPTIONS = {"connection_limit", "pool_timeout"}
DEFAULT_IMPORT_MAX_BYTES = 2 * 1024 * 1024
DEFAULT_PHONE_REGION = "US"
LOCAL_HOSTS = {"localhost", "127.0.0.1", "::1"}
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}
# sslmode values (Prisma's, libpq's and MySQL's spellings) and what they ask of TLS.
SSL_OFF = {"disable", "disabled"}
SSL_PREFERRED = {"prefer", "preferred", "allow"}
SSL_REQUIRED = {"require", "required"}
SSL_VERIFIED = {"verify-ca", "verify_ca", "verify-full", "verify_full", "verify_identity"}


class ConfigError(Exception):
    """A setting is missing or malformed; the message is one line for the operator."""


@dataclass(frozen=True)
class DatabaseSettings:
    url: URL
    # DATABASE_REPLICA_URL's own settings (its options, TLS demand and pool), or None.
    replica: DatabaseSettings | None = None
    pool_size: int = DEFAULT_POOL_SIZE
    connect_args: dict = field(default_factory=dict)
    # Seconds a request waits for a free pooled connection before giving up (503).
    pool_timeout: int = DEFAULT_POOL_TIMEOUT
    # The URL option that demands an encrypted connection (``sslmode=require``), if any:
    # a connection the server answers in plain text is then refused.
    tls_required_by: str | None = None
    # The setting these came from, named in the messages about them.
    variable: str = "DATABASE_URL"

    @property
    def is_sqlite(self) -> bool:
        return self.url.get_backend_name() == "sqlite"


@dataclass(frozen=True)
class DeliverySettings:
    """The outbox's workers and outgoing HTTP (``orbitflow.deliveries.*`` in the INI)."""

    # A worker thread in each app process; off where dedicated `orbitflow worker`s run.
    worker_thread: bool = True
    batch_size: int = 20
    poll_seconds: float = 1.0
    # How long a claimed delivery stays a worker's before another may take it over.
    claim_seconds: int = 300
    allow_private_networks: bool = False
    http_timeout_seconds: float = 10.0
    # Kept out of repr(): the URL may carry the SMTP password.
    smtp_url: str | None = field(default=None, repr=False)
    mail_from: str | None = None
    # Where the ad platforms' server events go (a local fake in tests).
    pixels_meta_api_url: str = "https://graph.facebook.com"
    pixels_tiktok_api_url: str = "https://business-api.tiktok.com"


@dataclass(frozen=True)
class PasswordHashing:
    """The argon2id cost of a password hash. The library's defaults unless the INI says
    otherwise; cheaper values are refused in production (the tests use the cheapest)."""

    time_cost: int
    memory_kib: int
    parallelism: int


LIBRARY_PASSWORD_HASHING = PasswordHashing(
    time_cost=get_default_parameters().time_cost,
    memory_kib=get_default_parameters().memory_cost,
    parallelism=get_default_parameters().parallelism,
)


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings
    # Kept out of repr() so a logged or printed Settings never shows the secret.
    auth_secret: str = field(repr=False)
    auth_url: str
    trust_host: bool
    production: bool
    plugins: tuple[str, ...]
    timezone: str
    facebook_pixel_id: str | None
    tiktok_pixel_id: str | None
    max_body_bytes: int
    session_idle_seconds: int
    session_absolute_seconds: int
    lockout_threshold: int
    lockout_seconds: int
    ratelimit_storage: str
    # Leads: the CSV import's size cap, and where numbers without a country code are read.
    import_max_bytes: int
    default_phone_region: str
    password_hashing: PasswordHashing
    # Shared buffers and caches across processes and replicas (None: each process's own).
    redis_url: str | None = field(default=None, repr=False)
    # ENCRYPTION_KEY's Fernet keys, the first encrypting (orbitflow.crypto); never shown.
    encryption_keys: tuple[str, ...] = field(default=(), repr=False)
    # The raw INI values (they may hold the secret too), for plugins to parse their own
    # settings from at start-up; never read in a request.
    extra: Mapping[str, str] = field(default_factory=dict, repr=False)
    deliveries: DeliverySettings = field(default_factory=DeliverySettings)
    # AUTH_URL was given (not the development default): absolute URLs are built from it
    # and requests for other host names are refused.
    auth_url_set: bool = False
    # AUTH_SECRET_PREVIOUS during a rotation: signed values made with it still verify.
    auth_secret_previous: str | None = field(default=None, repr=False)
    # PORT and WEB_CONCURRENCY, which production.ini's gunicorn reads too
    # (orbitflow.gunicorn_hooks): checked with the rest, so a bad one is one line.
    port: int = 3000
    web_concurrency: int = 1
    # METRICS_TOKEN: GET /metrics answers the bearer of this token (off when unset).
    metrics_token: str | None = field(default=None, repr=False)

    @property
    def auth_secrets(self) -> tuple[str, ...]:
        """The secrets signed values verify with, the one that signs first."""
        if self.auth_secret_previous and self.auth_secret_previous != self.auth_secret:
            return (self.auth_secret, self.auth_secret_previous)
        return (self.auth_secret,)

    @property
    def secure_cookies(self) -> bool:
        return self.auth_url.startswith("https://")


def _first(env: Mapping[str, str], *names: str) -> str | None:
    for name in names:
        value = env.get(name)
        if value not in (None, ""):
            return value
    return None


def parse_bool(name: str, value: str | None, default: bool = False) -> bool:
    if value is None:
        return default
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be true or false, got {value!r}")


def parse_int(name: str, value: str | None, default: int, minimum: int = 0) -> int:
    if value is None or value.strip() == "":
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {number}")
    return number


def parse_database_url(name: str, raw: str) -> tuple[URL, dict]:
    """Accept the seed's ``mysql://user:p%40ss@host:3306/db?ssl=true`` and SQLAlchemy URLs.

    ``mysql://`` and ``mariadb://`` select the ``mariadb`` driver. The seed's ``ssl`` query
    options become driver connect arguments instead of URL query parameters.
    """
    raw = raw.strip()
    parts = urlsplit(raw)
    if not parts.scheme:
        raise ConfigError(f"{name} must be a URL like mysql://user:password@host:3306/orbitflow")
    scheme = parts.scheme.lower()
    connect_args: dict = {}
    if scheme.startswith("sqlite"):
        try:
            return make_url(raw), connect_args
        except Exception:
            raise ConfigError(f"{name} is not a valid sqlite URL") from None
    if scheme not in {"mysql", "mariadb", "mariadb+mariadbconnector", "mysql+mariadbconnector"}:
        raise ConfigError(f"{name} must use mysql:// or mariadb:// (or sqlite:///), got {scheme}://")
    if not parts.hostname:
        raise ConfigError(f"{name} must name the database host")
    database = parts.path.lstrip("/")
    if not database:
        raise ConfigError(f"{name} must name the database, as in mysql://user:pass@host:3306/orbitflow")
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"{name} has a port that is not a number") from None
    for key, value in parse_qsl(parts.query):
        key = key.lower()
        if key == "ssl":
            connect_args["ssl"] = value.lower() not in FALSE_WORDS | SSL_OFF
        elif key == "sslmode":
            mode = value.lower()
            if mode not in SSL_OFF | SSL_PREFERRED | SSL_REQUIRED | SSL_VERIFIED:
                raise ConfigError(f"{name} sslmode must be disable, prefer, require, verify-ca or verify-full")
            connect_args["ssl"] = mode not in SSL_OFF
            if mode in SSL_VERIFIED:
                connect_args["ssl_verify_cert"] = True
        elif key in {"sslaccept"}:
            connect_args["ssl"] = True
            connect_args["ssl_verify_cert"] = value.lower() == "strict"
        elif key in {"ssl_ca", "sslca", "sslcert"}:
            connect_args["ssl"] = True
            connect_args["ssl_ca"] = value
        elif key in {"connect_timeout", "connecttimeout"}:
            connect_args["connect_timeout"] = parse_int(f"{name} connect_timeout", value, 10, 1)
        elif key in {"read_timeout", "write_timeout"}:
            connect_args[key] = parse_int(f"{name} {key}", value, 60, 1)
        elif key == "socket_timeout":
            # Prisma's socket_timeout: how long to wait for the server on a connection.
            seconds = parse_int(f"{name} socket_timeout", value, 60, 1)
            connect_args.setdefault("read_timeout", seconds)
            connect_args.setdefault("write_timeout", seconds)
        elif key in PRISMA_POOL_OPTIONS:
            pass
        else:
            raise ConfigError(f"{name} has an unknown option {key!r}")
    url = URL.create(
        "mariadb+mariadbconnector",
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        host=parts.hostname,
        port=port,
        database=unquote(database),
    )
    return url, connect_args


def tls_required_by(raw: str) -> str | None:
    """The option of a MariaDB URL that demands an encrypted connection, as written.

    ``sslmode=require`` (and the verify modes), ``ssl=true``, ``sslaccept`` and a CA file
    all ask for TLS; ``sslmode=prefer`` and no option take what the server offers."""
    parts = urlsplit(raw.strip())
    if parts.scheme.lower().startswith("sqlite"):
        return None
    demanded = None
    for key, value in parse_qsl(parts.query):
        key, word = key.lower(), value.lower()
        if key == "sslmode":
            demanded = f"sslmode={value}" if word in SSL_REQUIRED | SSL_VERIFIED else None
        elif key == "ssl":
            demanded = f"ssl={value}" if word not in FALSE_WORDS | SSL_OFF else None
        elif key in {"sslaccept", "ssl_ca", "sslca", "sslcert"}:
            demanded = demanded or f"{key}={value}"
    return demanded


def pool_options(name: str, raw: str) -> dict[str, int]:
    """Prisma's ``connection_limit`` (the pool size) and ``pool_timeout`` (seconds to wait
    for a free connection) from a DATABASE_URL's query, when it has them."""
    options: dict[str, int] = {}
    for key, value in parse_qsl(urlsplit(raw.strip()).query):
        key = key.lower()
        if key == "connection_limit":
            options["pool_size"] = parse_int(f"{name} connection_limit", value, DEFAULT_POOL_SIZE, 1)
        elif key == "pool_timeout":
            # Prisma's 0 means "wait for ever"; a request that waits for ever helps no one.
            options["pool_timeout"] = parse_int(f"{name} pool_timeout", value, DEFAULT_POOL_TIMEOUT, 1)
    return options


def replica_settings(raw: str, pool_size: int, pool_timeout: int) -> DatabaseSettings:
    """DATABASE_REPLICA_URL read as DATABASE_URL is: its own options (time-outs, TLS and
    the demand for it, Prisma's pool options), the primary's pool where it names none."""
    name = "DATABASE_REPLICA_URL"
    url, connect_args = parse_database_url(name, raw)
    options = pool_options(name, raw)
    return DatabaseSettings(
        url,
        None,
        options.get("pool_size", pool_size),
        connect_args,
        options.get("pool_timeout", pool_timeout),
        tls_required_by=tls_required_by(raw),
        variable=name,
    )


def parse_redis_url(value: str | None) -> str | None:
    """REDIS_URL: where every app process and replica shares its rate-limit counters."""
    if value is None:
        return None
    value = value.strip()
    if urlsplit(value).scheme not in {"redis", "rediss"} or not urlsplit(value).hostname:
        raise ConfigError("REDIS_URL must be a URL like redis://redis:6379/0 (or rediss:// for TLS)")
    return value


def parse_region(name: str, value: str | None, default: str) -> str:
    """An ISO 3166 two-letter region that phonenumbers knows, upper-cased."""
    import phonenumbers

    if value is None or value.strip() == "":
        return default
    region = value.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(f"{name} must be a two-letter country code such as US or DE, got {value!r}")
    return region


def parse_pixel_id(candidates: list[tuple[str, object]], pattern: re.Pattern[str], rule: str) -> str | None:
    """An installation's default pixel: the first of ``(name, value)`` that is set,
    checked by the rule of the company settings; the message names where it came from."""
    for name, raw in candidates:
        if raw is None or not str(raw).strip():
            continue
        value = str(raw).strip()
        if not pattern.match(value):
            raise ConfigError(f"{name} must be {rule}, got {raw!r}")
        return value
    return None


def validate_auth_url(value: str, production: bool) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"AUTH_URL must be an absolute http(s) URL such as https://crm.example.com, got {value!r}")
    if value.endswith("/"):
        raise ConfigError("AUTH_URL must not end with a slash")
    if parts.path or parts.query or parts.fragment:
        raise ConfigError("AUTH_URL must be the site's origin only, without a path, query or fragment")
    if production and parts.scheme != "https" and parts.hostname not in LOCAL_HOSTS:
        raise ConfigError("AUTH_URL must use https in production (http is allowed for localhost only)")
    return value


def parse_seconds(name: str, value: str | None, default: float, minimum: float) -> float:
    if value is None or value.strip() == "":
        return default
    try:
        number = float(value.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds, got {value!r}") from None
    if number < minimum:
        raise ConfigError(f"{name} must be at least {minimum:g} seconds, got {number:g}")
    return number


def validate_smtp_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"smtp", "smtps", "console"}:
        raise ConfigError("SMTP_URL must start with smtp:// (STARTTLS), smtps:// (TLS) or console://")
    if parts.scheme != "console" and not parts.hostname:
        raise ConfigError("SMTP_URL must name the mail server, as in smtp://user:password@mail.example.com:587")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError("SMTP_URL has a port that is not a number") from None
    return value


def load_delivery_settings(ini: Mapping[str, str], env: Mapping[str, str]) -> DeliverySettings:
    prefix = "orbitflow.deliveries."
    smtp_url = _first(env, "SMTP_URL") or ini.get("orbitflow.smtp_url") or None
    mail_from = _first(env, "MAIL_FROM") or ini.get("orbitflow.mail_from") or None
    if mail_from is not None and "@" not in mail_from:
        raise ConfigError(f"MAIL_FROM must be an e-mail address such as crm@example.com, got {mail_from!r}")
    return DeliverySettings(
        worker_thread=parse_bool(f"{prefix}worker_thread", ini.get(f"{prefix}worker_thread"), True),
        batch_size=parse_int(f"{prefix}batch_size", ini.get(f"{prefix}batch_size"), 20, 1),
        poll_seconds=parse_seconds(f"{prefix}poll_seconds", ini.get(f"{prefix}poll_seconds"), 1.0, 0.01),
        claim_seconds=parse_int(f"{prefix}claim_seconds", ini.get(f"{prefix}claim_seconds"), 300, 1),
        allow_private_networks=parse_bool(
            "WEBHOOKS_ALLOW_PRIVATE_NETWORKS",
            _first(env, "WEBHOOKS_ALLOW_PRIVATE_NETWORKS") or ini.get("orbitflow.webhooks_allow_private_networks"),
        ),
        http_timeout_seconds=parse_seconds(
            f"{prefix}http_timeout_seconds", ini.get(f"{prefix}http_timeout_seconds"), 10.0, 0.1
        ),
        smtp_url=validate_smtp_url(smtp_url) if smtp_url else None,
        mail_from=mail_from,
        pixels_meta_api_url=parse_api_base_url(
            "PIXELS_META_API_URL",
            _first(env, "PIXELS_META_API_URL") or ini.get("orbitflow.pixels.meta_api_url"),
            "https://graph.facebook.com",
        ),
        pixels_tiktok_api_url=parse_api_base_url(
            "PIXELS_TIKTOK_API_URL",
            _first(env, "PIXELS_TIKTOK_API_URL") or ini.get("orbitflow.pixels.tiktok_api_url"),
            "https://business-api.tiktok.com",
        ),
    )


def parse_api_base_url(name: str, value: str | None, default: str) -> str:
    """An http(s) base URL without a query; a trailing slash is dropped."""
    if value is None or not value.strip():
        return default
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ConfigError(f"{name} must be an http(s) base URL such as {default}, got {value!r}")
    return value


def parse_password_hashing(ini: Mapping[str, str], production: bool) -> PasswordHashing:
    """``orbitflow.password_time_cost``, ``orbitflow.password_memory_kib`` and
    ``orbitflow.password_parallelism``; in production none may be below the library's
    default, so a test setting copied into production.ini stops start-up."""
    default = LIBRARY_PASSWORD_HASHING

    def read(name: str, minimum: int) -> int:
        key = f"orbitflow.password_{name}"
        return parse_int(key, ini.get(key), getattr(default, name), minimum)

    cost = PasswordHashing(
        time_cost=read("time_cost", 1), memory_kib=read("memory_kib", 8), parallelism=read("parallelism", 1)
    )
    # argon2's own rule: at least 8 KiB of memory per lane.
    if cost.memory_kib < 8 * cost.parallelism:
        raise ConfigError(
            f"orbitflow.password_memory_kib must be at least 8 x orbitflow.password_parallelism "
            f"({8 * cost.parallelism}), got {cost.memory_kib}"
        )
    if production:
        for name in ("time_cost", "memory_kib", "parallelism"):
            if getattr(cost, name) < getattr(default, name):
                raise ConfigError(
                    f"orbitflow.password_{name} must be at least the argon2 default {getattr(default, name)} "
                    f"in production, got {getattr(cost, name)}"
                )
    return cost


def parse_encryption_keys(value: str | None, auth_secret: str) -> tuple[str, ...]:
    """ENCRYPTION_KEY: comma-separated Fernet keys, or one derived from AUTH_SECRET."""
    from orbitflow.crypto import BadEncryptionKey, parse_keys

    try:
        return parse_keys(value, auth_secret)
    except BadEncryptionKey as error:
        raise ConfigError(str(error)) from None


MAX_WORKERS = 64
DEFAULT_PORT = 3000


def parse_port(raw: str | None) -> int:
    """PORT: the listening port, 3000 when unset."""
    if raw is None or raw.strip() == "":
        return DEFAULT_PORT
    if not raw.strip().isdigit() or not 0 < int(raw) < 65536:
        raise ConfigError(f"PORT must be a number from 1 to 65535, got {raw!r}")
    return int(raw)


def parse_web_concurrency(raw: str | None) -> int:
    """WEB_CONCURRENCY: server worker processes, 1 when unset."""
    if raw is None or raw.strip() == "":
        return 1
    if not raw.strip().isdigit() or not 1 <= int(raw) <= MAX_WORKERS:
        raise ConfigError(f"WEB_CONCURRENCY must be a number of processes from 1 to {MAX_WORKERS}, got {raw!r}")
    return int(raw)


def load_settings(ini: Mapping[str, str], environ: Mapping[str, str] | None = None) -> Settings:
    """Build :class:`Settings` from INI values, the environment overriding them."""
    env = os.environ if environ is None else environ
    production = parse_bool("orbitflow.production", ini.get("orbitflow.production"), False)

    raw_db = _first(env, "DATABASE_URL") or ini.get("sqlalchemy.url")
    if not raw_db:
        raise ConfigError("DATABASE_URL is required (or sqlalchemy.url in the INI file)")
    url, connect_args = parse_database_url("DATABASE_URL", raw_db)
    from_url = pool_options("DATABASE_URL", raw_db)
    # DB_POOL_SIZE when set, else Prisma's connection_limit in the URL, else the INI's value.
    explicit_pool_size = _first(env, "DB_POOL_SIZE")
    if explicit_pool_size is None and "pool_size" in from_url:
        pool_size = from_url["pool_size"]
    else:
        pool_size = parse_int(
            "DB_POOL_SIZE", explicit_pool_size or ini.get("orbitflow.db_pool_size"), DEFAULT_POOL_SIZE, minimum=1
        )

    pool_timeout = from_url.get("pool_timeout", DEFAULT_POOL_TIMEOUT)
    replica_raw = _first(env, "DATABASE_REPLICA_URL") or ini.get("sqlalchemy.replica_url")
    replica = replica_settings(replica_raw, pool_size, pool_timeout) if replica_raw else None

    secret = _first(env, "AUTH_SECRET") or ini.get("orbitflow.auth_secret")
    if not secret:
        raise ConfigError("AUTH_SECRET is required: generate one with `openssl rand -base64 32`")
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(f"AUTH_SECRET must be at least {MIN_SECRET_LENGTH} characters long")
    previous = _first(env, "AUTH_SECRET_PREVIOUS") or ini.get("orbitflow.auth_secret_previous") or None
    if previous is not None and len(previous) < MIN_SECRET_LENGTH:
        raise ConfigError(f"AUTH_SECRET_PREVIOUS must be at least {MIN_SECRET_LENGTH} characters long")

    auth_url = _first(env, "AUTH_URL", "NEXTAUTH_URL") or ini.get("orbitflow.auth_url")
    auth_url_set = bool(auth_url)
    if not auth_url:
        if production:
            raise ConfigError("AUTH_URL is required in production, e.g. https://crm.example.com")
        auth_url = "http://localhost:6543"
    validate_auth_url(auth_url, production)

    # Only the environment's TZ: work outside requests reads it there too (tenants.zones).
    tz = _first(env, "TZ") or "UTC"
    if not valid_zone(tz.lstrip(":")):
        raise ConfigError(f"TZ must be an IANA time zone such as Europe/Berlin, got {tz!r}")

    plugin_names = _first(env, "ORBITFLOW_PLUGINS")
    if plugin_names is None:
        plugin_names = ini.get("orbitflow.plugins", "")
    plugins = tuple(dict.fromkeys(plugin_names.replace(",", " ").split()))

    return Settings(
        database=DatabaseSettings(
            url, replica, pool_size, connect_args, pool_timeout, tls_required_by=tls_required_by(raw_db)
        ),
        auth_secret=secret,
        auth_url=auth_url,
        port=parse_port(env.get("PORT")),
        web_concurrency=parse_web_concurrency(env.get("WEB_CONCURRENCY")),
        trust_host=parse_bool("AUTH_TRUST_HOST", _first(env, "AUTH_TRUST_HOST") or ini.get("orbitflow.trust_host")),
        production=production,
        plugins=plugins,
        timezone=tz.lstrip(":"),
        facebook_pixel_id=parse_pixel_id(
            [(name, env.get(name)) for name in ("FACEBOOK_PIXEL_ID", "NEXT_PUBLIC_FACEBOOK_PIXEL_ID")]
            + [("orbitflow.facebook_pixel_id", ini.get("orbitflow.facebook_pixel_id"))],
            META_PIXEL_ID,
            f"a Meta pixel id ({META_PIXEL_ID_RULE})",
        ),
        tiktok_pixel_id=parse_pixel_id(
            [(name, env.get(name)) for name in ("TIKTOK_PIXEL_ID", "NEXT_PUBLIC_TIKTOK_PIXEL_ID")]
            + [("orbitflow.tiktok_pixel_id", ini.get("orbitflow.tiktok_pixel_id"))],
            TIKTOK_PIXEL_CODE,
            f"a TikTok pixel code ({TIKTOK_PIXEL_CODE_RULE})",
        ),
        max_body_bytes=parse_int(
            "orbitflow.max_body_bytes", ini.get("orbitflow.max_body_bytes"), 10 * 1024 * 1024, 1024
        ),
        session_idle_seconds=parse_int(
            "orbitflow.session_idle_minutes", ini.get("orbitflow.session_idle_minutes"), 120, 1
        )
        * 60,
        session_absolute_seconds=parse_int("orbitflow.session_max_hours", ini.get("orbitflow.session_max_hours"), 24, 1)
        * 3600,
        lockout_threshold=parse_int("orbitflow.lockout_threshold", ini.get("orbitflow.lockout_threshold"), 5, 1),
        lockout_seconds=parse_int("orbitflow.lockout_minutes", ini.get("orbitflow.lockout_minutes"), 15, 1) * 60,
        ratelimit_storage=parse_redis_url(_first(env, "REDIS_URL"))
        or ini.get("orbitflow.ratelimit_storage", "memory://"),
        import_max_bytes=parse_int(
            "orbitflow.leads.import_max_bytes", ini.get("orbitflow.leads.import_max_bytes"), DEFAULT_IMPORT_MAX_BYTES, 1
        ),
        redis_url=parse_redis_url(_first(env, "REDIS_URL") or ini.get("orbitflow.redis_url")),
        encryption_keys=parse_encryption_keys(
            _first(env, "ENCRYPTION_KEY") or ini.get("orbitflow.encryption_key"), secret
        ),
        default_phone_region=parse_region(
            "orbitflow.default_phone_region", ini.get("orbitflow.default_phone_region"), DEFAULT_PHONE_REGION
        ),
        password_hashing=parse_password_hashing(ini, production),
        extra={k: v for k, v in ini.items() if isinstance(v, str)},
        deliveries=load_delivery_settings(ini, env),
        auth_url_set=auth_url_set,
        auth_secret_previous=previous,
        metrics_token=_first(env, "METRICS_TOKEN") or ini.get("orbitflow.metrics_token") or None,
    )


def get_settings(registry) -> Settings:
    """The application's settings (provided by :func:`orbitflow.app.make_app`)."""
    return shared(registry, Settings)
