"""The platform's settings: one declared schema, loaded from defaults, then
``config.ini``, then environment variables.

Every option has a default, a help text and a type that coerces the raw
string. A bad value raises :class:`ConfigError` naming the section, the option
and where the value came from, so a misconfigured deployment fails at start.

The environment variable for ``[section] option`` is
``CONSULT_<SECTION>_<OPTION>`` unless the option names another one; a few
names are fixed because operators rely on them (``CONSULT_DATABASE_URL``,
``CONSULT_REDIS_URL``, ``CONSULT_DATA_DIR``, ``CONSULT_SECRET_KEY``,
``CONSULT_BASE_URL``).
"""

from __future__ import annotations

import configparser
import os
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

CONFIG_ENV = "CONSULT_CONFIG"


class ConfigError(ValueError):
    """A configuration value is missing or invalid; the message says where it came from."""


# --- coercions -------------------------------------------------------------


def _str(value: str) -> str:
    return value.strip()


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise ValueError("expected true or false")


def _int(value: str) -> int:
    return int(value.strip())


def _positive_int(value: str) -> int:
    number = int(value.strip())
    if number <= 0:
        raise ValueError("expected a positive whole number")
    return number


def _non_negative_int(value: str) -> int:
    number = int(value.strip())
    if number < 0:
        raise ValueError("expected zero or a positive whole number")
    return number


def _port(value: str) -> int:
    number = int(value.strip())
    if not 0 <= number <= 65535:
        raise ValueError("expected a TCP port between 0 and 65535")
    return number


def _http_url(value: str) -> str:
    value = value.strip().rstrip("/")
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise ValueError("expected an absolute http:// or https:// URL")
    return value


def _optional_http_url(value: str) -> str:
    return _http_url(value) if value.strip() else ""


def _database_url(value: str) -> str:
    value = value.strip()
    if not value:
        return ""
    scheme = value.split(":", 1)[0]
    if "://" not in value or not (scheme.startswith("sqlite") or scheme.startswith("postgresql")):
        raise ValueError("expected a sqlite:/// or postgresql:// URL")
    if scheme in {"postgresql", "postgres"}:
        # psycopg 3 is the driver we ship; plain URLs from operators mean it.
        value = "postgresql+psycopg" + value[len(scheme) :]
    return value


def _redis_url(value: str) -> str:
    value = value.strip()
    if value and urlsplit(value).scheme not in {"redis", "rediss", "unix"}:
        raise ValueError("expected a redis://, rediss:// or unix:// URL, or empty")
    return value


def _choice(*choices: str) -> Callable[[str], str]:
    def coerce(value: str) -> str:
        value = value.strip().lower()
        if value not in choices:
            raise ValueError("expected one of " + ", ".join(choices))
        return value

    return coerce


def _comma_list(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class Option:
    default: str
    help: str
    type: Callable[[str], Any] = _str
    env: str | None = None  # None means CONSULT_<SECTION>_<OPTION>
    secret: bool = False


# The schema. Later issues add sections here, never elsewhere.
SCHEMA: Mapping[str, Mapping[str, Option]] = {
    "app": {
        "data_dir": Option(
            "data",
            "Folder for the embedded database, generated secrets, uploads and outgoing "
            "mail files. Relative paths are resolved from the working directory.",
            env="CONSULT_DATA_DIR",
        ),
        "base_url": Option(
            "",
            "Public URL of the platform, used in emails, calendar events and feeds. Empty: "
            "the address `consult serve` listens on ([server] host and port). Set it in "
            "production (e.g. https://consult.example.org).",
            _optional_http_url,
            env="CONSULT_BASE_URL",
        ),
        "secret_key": Option(
            "",
            "Key that signs sessions, tokens and links. Empty: generated once and kept in "
            "<data_dir>/secret_key. Set it (from the environment) when several app servers "
            "share one database.",
            env="CONSULT_SECRET_KEY",
            secret=True,
        ),
        "auto_migrate": Option(
            "true",
            "Apply database migrations when the app starts. Turn off in production and "
            "run `consult db upgrade` from the deployment instead.",
            _bool,
        ),
        "log_level": Option("info", "Log level.", _choice("debug", "info", "warning", "error")),
        "maintenance_minutes": Option(
            "60",
            "How often calendar indexes are extended past time (by `consult worker`, or by "
            "the app when no Redis is configured). 0 turns it off.",
            _non_negative_int,
        ),
    },
    "server": {
        "host": Option("127.0.0.1", "Address `consult serve` listens on."),
        "port": Option("8000", "Port `consult serve` listens on.", _port),
    },
    "database": {
        "url": Option(
            "",
            "SQLAlchemy URL of the database holding accounts, bookings and calendars. Empty: "
            "an SQLite file <data_dir>/consult.db. Production: postgresql://user@host/db.",
            _database_url,
            env="CONSULT_DATABASE_URL",
            secret=True,
        ),
        "pool_size": Option("10", "Connections per process in the PostgreSQL pool.", _positive_int),
    },
    "redis": {
        "url": Option(
            "",
            "Redis URL for background jobs (rq). Empty: jobs run inside the app process.",
            _redis_url,
            env="CONSULT_REDIS_URL",
            secret=True,
        ),
    },
    "auth": {
        "access_token_minutes": Option(
            "15", "Lifetime of API access tokens, in minutes.", _positive_int
        ),
        "refresh_token_days": Option(
            "30", "Lifetime of API refresh tokens, in days.", _positive_int
        ),
        "login_window_minutes": Option(
            "5",
            "Window over which failed logins are counted. Also the longest time a real owner "
            "can be kept out by someone else's failed attempts.",
            _positive_int,
        ),
        "max_failures_per_account_and_ip": Option(
            "5", "Failed logins allowed per account from one address per window.", _positive_int
        ),
        "max_failures_per_ip": Option(
            "30", "Failed logins allowed from one address per window.", _positive_int
        ),
        "max_failures_per_account": Option(
            "50",
            "Failed logins allowed per account from all addresses per window.",
            _positive_int,
        ),
        "min_password_length": Option("10", "Shortest password accepted.", _positive_int),
        "secure_cookies": Option(
            "auto",
            "Mark cookies Secure: true, false, or auto (when base_url is https).",
            _choice("auto", "true", "false"),
        ),
    },
    "dav": {
        "max_content_length": Option(
            "10000000",
            "Largest request body accepted on /dav, in bytes; larger requests get 413.",
            _positive_int,
        ),
        "max_resource_size": Option(
            "1000000",
            "Largest single calendar object accepted on /dav, in bytes.",
            _positive_int,
        ),
        "max_occurrences": Option(
            "5000",
            "Most occurrences of one recurring event expanded for a query or an index span.",
            _positive_int,
        ),
    },
    "video": {
        "open_before_minutes": Option(
            "10", "How long before a booking's start its video room opens.", _non_negative_int
        ),
        "close_after_minutes": Option(
            "30", "How long after a booking's end its video room stays open.", _non_negative_int
        ),
        "join_token_seconds": Option(
            "120",
            "Lifetime of the signed join token the app issues before a WebSocket connects to a "
            "room. Short: the page fetches a fresh one on every (re)connect.",
            _positive_int,
        ),
        "heartbeat_seconds": Option(
            "20",
            "Interval of the browser's heartbeat on the room WebSocket; a connection silent for "
            "three intervals is closed.",
            _positive_int,
        ),
        "stun_urls": Option(
            "",
            "Comma-separated STUN URLs given to browsers, e.g. stun:turn.example.com:3478. "
            "Empty: no STUN server (host candidates and TURN only).",
            _comma_list,
        ),
        "turn_urls": Option(
            "",
            "Comma-separated TURN URLs, e.g. turn:turn.example.com:3478?transport=udp,"
            "turns:turn.example.com:5349?transport=tcp. Needs turn_secret.",
            _comma_list,
        ),
        "turn_secret": Option(
            "",
            "The static-auth-secret of coturn's use-auth-secret mode; the app derives "
            "time-limited TURN credentials from it.",
            secret=True,
        ),
        "turn_ttl_seconds": Option(
            "21600",
            "Lifetime of generated TURN credentials. TURN refreshes allocations with the same "
            "credentials, so this must outlast the longest session.",
            _positive_int,
        ),
        "ice_transport_policy": Option(
            "all",
            "ICE policy of the browser-to-browser connection: all, or relay (only TURN "
            "candidates, which hides the two people's addresses from each other).",
            _choice("all", "relay"),
        ),
        "direct_timeout_seconds": Option(
            "15",
            "How long browsers try a direct (or TURN) connection before the platform's relay "
            "takes over.",
            _positive_int,
        ),
        "relay_url": Option(
            "",
            "URL of the media relay's control API (`consult video`), e.g. "
            "http://127.0.0.1:8765. Empty: no relay fallback.",
            _optional_http_url,
        ),
        "relay_host": Option("127.0.0.1", "Address the relay's control API listens on."),
        "relay_port": Option("8765", "Port the relay's control API listens on.", _port),
        "relay_stun_urls": Option(
            "",
            "Comma-separated STUN URLs the relay uses to learn its public address. Empty: the "
            "relay offers the addresses of its own interfaces only.",
            _comma_list,
        ),
        "relay_max_sessions": Option(
            "20",
            "Most one-on-one sessions the relay carries at once; more are refused (each "
            "decodes and re-encodes two streams).",
            _positive_int,
        ),
        "relay_max_width": Option("640", "Widest video the relay forwards.", _positive_int),
        "relay_max_height": Option("360", "Tallest video the relay forwards.", _positive_int),
        "relay_max_fps": Option("15", "Highest frame rate the relay forwards.", _positive_int),
        "message_max_length": Option(
            "2000", "Longest chat message accepted, in characters.", _positive_int
        ),
        "message_email_delay_minutes": Option(
            "10",
            "Messages to someone who is not in the room are batched into one email per "
            "booking and window of this many minutes.",
            _positive_int,
        ),
    },
    "smtp": {
        "host": Option(
            "",
            "SMTP server that sends the platform's email. Empty (the embedded default): "
            "messages are written as .eml files under <data_dir>/outbox/ and logged.",
        ),
        "port": Option("587", "Port of the SMTP server.", _port),
        "security": Option(
            "starttls",
            "Connection security: none, starttls (upgrade a plain connection, usually port "
            "587) or tls (TLS from the start, usually port 465).",
            _choice("none", "starttls", "tls"),
        ),
        "user": Option("", "SMTP user name. Empty: do not authenticate."),
        "password": Option("", "SMTP password (set it in the environment).", secret=True),
        "from": Option(
            "Consult <no-reply@localhost>",
            "Sender of every email, as Name <address>; its domain also names Message-IDs.",
        ),
        "timeout_seconds": Option(
            "30", "Longest wait for the SMTP server on one operation.", _positive_int
        ),
    },
    "notifications": {
        "reminder_offsets": Option(
            "24h, 1h",
            "Default reminders before each session, comma-separated, with unit m, h or d "
            "(e.g. 24h, 1h). Professionals change theirs on /notifications/settings.",
            _comma_list,
        ),
        "max_attempts": Option(
            "8",
            "Attempts to send one email before it is recorded as a permanent failure "
            "(an SMTP 5xx answer fails it at once).",
            _positive_int,
        ),
        "retry_base_seconds": Option(
            "60",
            "First retry delay after a temporary SMTP error; doubles each attempt.",
            _positive_int,
        ),
        "retry_max_seconds": Option("3600", "Longest delay between two attempts.", _positive_int),
        "lease_seconds": Option(
            "300",
            "How long a worker holds a message it is sending. Another worker may take it over "
            "only after this, so keep it well above timeout_seconds in [smtp].",
            _positive_int,
        ),
        "sweep_seconds": Option(
            "30",
            "Interval of the sweep that sends what is due (without Redis) or what a lost job "
            "left behind (in consult worker: Redis down or emptied, a worker killed). 0 turns "
            "the sweep off: only for tests.",
            _non_negative_int,
        ),
        "redispatch_after_seconds": Option(
            "120",
            "How long a due message may wait for its rq job before the worker's sweep sends it "
            "itself (the lease keeps a message from being sent twice).",
            _positive_int,
        ),
    },
    "sync": {
        "interval_minutes": Option(
            "10",
            "How often each connected outside calendar (CalDAV, ICS, Google, Microsoft) is "
            "mirrored into the professional's busy time, in minutes.",
            _positive_int,
        ),
        "jitter_seconds": Option(
            "60",
            "Each calendar's next sync moves by a random amount up to this many seconds either "
            "way, so calendars connected together do not all sync at the same moment.",
            _non_negative_int,
        ),
        "dispatch_seconds": Option(
            "60",
            "How often the scheduler looks for calendars due for a sync (an rq job with Redis, "
            "a timer inside the app without it). 0 turns periodic sync off; sync now and the "
            "sync before a booking still work.",
            _non_negative_int,
        ),
        "max_backoff_minutes": Option(
            "60",
            "Longest wait before retrying a calendar whose sync failed. The wait starts at one "
            "minute and doubles with each failure in a row up to this.",
            _positive_int,
        ),
        "max_age_before_booking_seconds": Option(
            "300",
            "Before a booking is confirmed, the professional's outside calendars last synced "
            "longer ago than this are synced first. 0: before every booking.",
            _non_negative_int,
        ),
        "pre_booking_timeout_seconds": Option(
            "5",
            "Longest time a booking waits for that sync. After it the booking is checked "
            "against the mirrors as they are, and the slow calendar's error is recorded.",
            _positive_int,
        ),
        "request_timeout_seconds": Option(
            "30",
            "Timeout of each request to an outside calendar server, in seconds.",
            _positive_int,
        ),
        "max_feed_bytes": Option(
            "20000000",
            "Largest download accepted from an outside calendar (an ICS feed, a CalDAV or API "
            "response), in bytes. A larger one is refused with an error; the mirror is kept.",
            _positive_int,
        ),
        "max_events": Option(
            "20000",
            "Most events one outside calendar may hold. A larger calendar is refused with an "
            "error and its mirror is kept as it was.",
            _positive_int,
        ),
        "allow_private_addresses": Option(
            "false",
            "Allow calendar URLs on loopback, private, link-local or otherwise internal "
            "addresses. Keep it off on a public server, or any user could make the server "
            "fetch internal URLs; turn it on to sync from a calendar server on your own network.",
            _bool,
        ),
        "google_client_id": Option(
            "",
            "OAuth client id of a Google Cloud 'web application' with the Calendar API enabled "
            "and <base_url>/calendars/oauth/google/callback as redirect URI. Empty: Google "
            "Calendar cannot be connected.",
        ),
        "google_client_secret": Option("", "OAuth client secret for Google.", secret=True),
        "google_auth_url": Option(
            "https://accounts.google.com/o/oauth2/v2/auth",
            "Google's OAuth authorization endpoint.",
            _http_url,
        ),
        "google_token_url": Option(
            "https://oauth2.googleapis.com/token", "Google's OAuth token endpoint.", _http_url
        ),
        "google_revoke_url": Option(
            "https://oauth2.googleapis.com/revoke",
            "Google's OAuth revocation endpoint (used when a calendar is removed).",
            _http_url,
        ),
        "google_api_url": Option(
            "https://www.googleapis.com/calendar/v3",
            "Base URL of the Google Calendar API.",
            _http_url,
        ),
        "microsoft_client_id": Option(
            "",
            "Application (client) id of a Microsoft Entra app registration with the delegated "
            "permissions Calendars.ReadWrite and offline_access and "
            "<base_url>/calendars/oauth/microsoft/callback as redirect URI. Empty: Outlook / "
            "Microsoft 365 cannot be connected.",
        ),
        "microsoft_client_secret": Option(
            "", "Client secret of that app registration.", secret=True
        ),
        "microsoft_auth_url": Option(
            "https://login.microsoftonline.com/common/oauth2/v2.0/authorize",
            "Microsoft identity platform authorization endpoint.",
            _http_url,
        ),
        "microsoft_token_url": Option(
            "https://login.microsoftonline.com/common/oauth2/v2.0/token",
            "Microsoft identity platform token endpoint.",
            _http_url,
        ),
        "microsoft_graph_url": Option(
            "https://graph.microsoft.com/v1.0", "Base URL of Microsoft Graph.", _http_url
        ),
    },
    "payments": {
        "secret_key": Option(
            "",
            "Stripe secret key (sk_live_... or sk_test_...), taken only from the environment. "
            "Empty: no online payment, and paid services cannot be published.",
            env="CONSULT_STRIPE_SECRET_KEY",
            secret=True,
        ),
        "publishable_key": Option(
            "",
            "Stripe publishable key (pk_...) for Stripe.js and the mobile SDKs, taken only "
            "from the environment. Needed whenever the secret key is set.",
            env="CONSULT_STRIPE_PUBLISHABLE_KEY",
            secret=True,
        ),
        "webhook_secret": Option(
            "",
            "Signing secret (whsec_...) of the webhook endpoint <base_url>/webhooks/stripe "
            "registered in Stripe, taken only from the environment. Empty: webhooks are "
            "refused and payments are confirmed by the server-side check alone.",
            env="CONSULT_STRIPE_WEBHOOK_SECRET",
            secret=True,
        ),
        "hold_minutes": Option(
            "10",
            "Minutes a paid slot is held while the client pays; unpaid, it is freed after.",
            _positive_int,
        ),
        "gateway": Option(
            "payments.stripe_gateway:StripeGateway",
            "The payment gateway adapter, as module:attribute.",
        ),
        "stripe_js_url": Option(
            "https://js.stripe.com/v3/",
            "URL of Stripe.js v3, loaded by the payment page (tests use localstripe's stand-in).",
            lambda value: _http_url(value) + ("/" if value.strip().endswith("/") else ""),
        ),
        "stripe_api_base": Option(
            "https://api.stripe.com",
            "Base URL of Stripe's API (tests point it at localstripe).",
            _http_url,
        ),
        "request_timeout_seconds": Option(
            "10", "Timeout of one request to Stripe, in seconds.", _positive_int
        ),
        "network_retries": Option(
            "1",
            "Retries of a request to Stripe after a network error (with the same "
            "idempotency key, so nothing happens twice).",
            _non_negative_int,
        ),
        "sweep_seconds": Option(
            "60",
            "How often the app looks for holds past their time and refunds not yet sent "
            "(work a lost job left behind); 0 = never.",
            _non_negative_int,
        ),
    },
    "ops": {
        "log_format": Option(
            "text",
            "Log lines: text (readable, the embedded default) or json (one JSON object per "
            "line, for a log collector in production).",
            _choice("text", "json"),
        ),
        "metrics_token": Option(
            "",
            "Bearer token that GET /metrics (Prometheus text format) requires. Empty: the app "
            "serves no /metrics (use metrics_port for a separate listener instead).",
            secret=True,
        ),
        "metrics_port": Option(
            "0",
            "Port of a separate metrics listener on 127.0.0.1 (consult worker always uses this "
            "one; the app only when metrics_token is empty). 0 = none.",
            _port,
        ),
        "request_id_header": Option(
            "X-Request-ID",
            "Header carrying the request id from the proxy (taken when present and sane, "
            "generated otherwise) and sent back on every response.",
        ),
        "sentry_dsn": Option(
            "",
            "Sentry DSN for error reports; empty = off. Personal data is scrubbed before "
            "anything is sent.",
            env="CONSULT_SENTRY_DSN",
            secret=True,
        ),
        "sentry_environment": Option("production", "Environment name in Sentry reports."),
    },
    # END OF SCHEMA: packages add their sections above this line.
}


class _Section(Mapping[str, Any]):
    def __init__(self, name: str, values: dict[str, Any]) -> None:
        self._name = name
        self._values = values

    def __getattr__(self, option: str) -> Any:
        try:
            return self._values[option]
        except KeyError:
            raise AttributeError(f"no option {option!r} in section [{self._name}]") from None

    def __getitem__(self, option: str) -> Any:
        return self._values[option]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


@dataclass(frozen=True)
class Settings:
    """Resolved settings: ``settings.database.url``; ``sources`` says where each came from."""

    values: Mapping[str, Mapping[str, Any]]
    sources: Mapping[tuple[str, str], str] = field(default_factory=dict)
    files_read: tuple[str, ...] = ()

    def __getattr__(self, section: str) -> _Section:
        values = object.__getattribute__(self, "values")
        if section not in values:
            raise AttributeError(f"no section [{section}]")
        return _Section(section, dict(values[section]))

    @property
    def data_dir(self) -> Path:
        return Path(self.values["app"]["data_dir"])

    @property
    def database_url(self) -> str:
        return str(self.values["database"]["url"])

    def describe(self) -> list[str]:
        """Lines for the start-up log: every option, its source, secrets masked."""
        lines = []
        for section, options in SCHEMA.items():
            for name, option in options.items():
                value = self.values[section][name]
                shown = _mask(str(value)) if option.secret else str(value)
                source = self.sources.get((section, name), "default")
                lines.append(f"[{section}] {name} = {shown} ({source})")
        return lines


def _mask(value: str) -> str:
    if not value:
        return ""
    if "://" in value:
        parts = urlsplit(value)
        if parts.password:
            return value.replace(parts.password, "***")
        return value
    return "***"


def env_name(section: str, name: str, option: Option) -> str:
    return option.env or f"CONSULT_{section.upper()}_{name.upper()}"


def load_settings(
    config_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Mapping[str, Any]] | None = None,
) -> Settings:
    """Resolve settings from defaults, then the config file, then ``environ``, then
    ``overrides`` (used by tests and the CLI's flags).

    ``config_file`` defaults to ``$CONSULT_CONFIG`` or ``./config.ini`` when it exists.
    Raises :class:`ConfigError` for an unknown section or option or a bad value.
    Also derives what depends on other options (the SQLite path from ``data_dir``) and
    creates the data folder and the persisted secret key when they are missing.
    """
    environ = os.environ if environ is None else environ
    raw: dict[str, dict[str, tuple[str, str]]] = {
        section: {name: (opt.default, "default") for name, opt in options.items()}
        for section, options in SCHEMA.items()
    }
    files_read: list[str] = []

    path = config_file or environ.get(CONFIG_ENV)
    if path is None and Path("config.ini").is_file():
        path = "config.ini"
    if path is not None:
        parser = configparser.ConfigParser(interpolation=None)
        try:
            with open(path, encoding="utf-8") as handle:
                parser.read_file(handle)
        except OSError as error:
            raise ConfigError(f"cannot read config file {path}: {error.strerror}") from error
        except configparser.Error as error:
            raise ConfigError(f"config file {path} is not valid INI: {error}") from error
        files_read.append(str(path))
        for section in parser.sections():
            if section not in SCHEMA:
                raise ConfigError(f"unknown section [{section}] in {path}")
            for name, value in parser.items(section):
                if name not in SCHEMA[section]:
                    raise ConfigError(f"unknown option {name!r} in section [{section}] in {path}")
                raw[section][name] = (value, f"file {path}")

    for section, options in SCHEMA.items():
        for name, option in options.items():
            variable = env_name(section, name, option)
            if variable in environ:
                raw[section][name] = (environ[variable], f"environment variable {variable}")

    for section, given in (overrides or {}).items():
        for name, value in given.items():
            if section not in SCHEMA or name not in SCHEMA[section]:
                raise ConfigError(f"unknown option {name!r} in section [{section}] in overrides")
            raw[section][name] = (str(value), "overrides")

    values: dict[str, dict[str, Any]] = {}
    sources: dict[tuple[str, str], str] = {}
    for section, options in SCHEMA.items():
        values[section] = {}
        for name, option in options.items():
            text, source = raw[section][name]
            sources[(section, name)] = source
            try:
                values[section][name] = option.type(text)
            except (ValueError, TypeError) as error:
                raise ConfigError(
                    f"invalid value for option {name!r} in section [{section}] "
                    f"(from {source}): {error}"
                ) from error

    _derive(values, sources)
    return Settings(MappingProxyType(values), MappingProxyType(sources), tuple(files_read))


def served_url(host: str, port: int) -> str:
    """The http:// address a browser on this machine reaches ``consult serve`` at:
    a wildcard host (all interfaces) is reached through the loopback address."""
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _derive(values: dict[str, dict[str, Any]], sources: dict[tuple[str, str], str]) -> None:
    data_dir = Path(values["app"]["data_dir"]).expanduser().resolve()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"invalid value for option 'data_dir' in section [app] "
            f"(from {sources[('app', 'data_dir')]}): cannot create {data_dir}: {error.strerror}"
        ) from error
    values["app"]["data_dir"] = str(data_dir)

    if not values["database"]["url"]:
        values["database"]["url"] = f"sqlite:///{data_dir / 'consult.db'}"
        sources[("database", "url")] = "default (data_dir)"

    if not values["app"]["base_url"]:
        values["app"]["base_url"] = served_url(values["server"]["host"], values["server"]["port"])
        sources[("app", "base_url")] = "default ([server] host and port)"

    if not values["app"]["secret_key"]:
        values["app"]["secret_key"] = _persisted_secret(data_dir / "secret_key")
        sources[("app", "secret_key")] = f"generated in {data_dir / 'secret_key'}"
    elif len(values["app"]["secret_key"]) < 16:
        raise ConfigError(
            "invalid value for option 'secret_key' in section [app] "
            f"(from {sources[('app', 'secret_key')]}): use at least 16 characters"
        )


def _persisted_secret(path: Path) -> str:
    """Read the secret in ``path``, creating it (mode 0600) on first use."""
    try:
        return path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pass
    secret = secrets.token_urlsafe(48)
    try:
        # O_EXCL: when two processes start at once, one writes and both read the same key.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="ascii").strip()
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secret + "\n")
    return secret


def render_config_ini() -> str:
    """The documented ``config.ini``: every option, commented out, at its default."""
    lines = [
        "# Configuration of the consultation platform.",
        "# Every option is shown at its default, commented out. Environment variables",
        "# override this file; each option names its variable. Keep secrets (database",
        "# password, keys) in the environment, not here.",
        "",
    ]
    for section, options in SCHEMA.items():
        lines.append(f"[{section}]")
        for name, option in options.items():
            for help_line in _wrap(option.help):
                lines.append(f"# {help_line}")
            lines.append(f"# Environment: {env_name(section, name, option)}")
            lines.append(f"#{name} = {option.default}")
            lines.append("")
    return "\n".join(lines)


def _wrap(text: str, width: int = 86) -> list[str]:
    words, lines, current = text.split(), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    if current:
        lines.append(current)
    return lines
