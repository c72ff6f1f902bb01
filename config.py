"""Configuration classes for the chat server, read from environment variables."""

import os
from datetime import timedelta

from app.domain.limits import default_settings


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    return float(value) if value else default


def _env_origins(name: str) -> str | list[str] | None:
    """None means same origin only; "*" allows any origin (never the default)."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if value == "*":
        return "*"
    return [origin.strip() for origin in value.split(",") if origin.strip()]


def _env_list(name: str) -> list[str] | None:
    """A comma-separated list; None when unset or empty."""
    items = [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]
    return items or None


def _env_transports(name: str) -> list[str]:
    value = os.environ.get(name, "").strip() or "polling,websocket"
    transports = [part.strip() for part in value.split(",") if part.strip()]
    unknown = set(transports) - {"polling", "websocket"}
    if unknown or not transports:
        raise RuntimeError(f"{name}={value!r}: use polling, websocket, or both comma-separated")
    return transports


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    SECRET_KEY = os.environ.get("SECRET_KEY") or None
    # None: derived from the instance folder (instance/chat.db) by create_app.
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or None
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    # Set it to run several processes: Socket.IO message queue, presence, limits, stranger queue.
    REDIS_URL = os.environ.get("REDIS_URL") or None
    # Seconds after which a process that stopped beating (it died) has its users leave.
    PRESENCE_TTL = _env_float("PRESENCE_TTL", 30.0)
    CORS_ALLOWED_ORIGINS = _env_origins("CORS_ALLOWED_ORIGINS")
    SOCKETIO_ASYNC_MODE = os.environ.get("SOCKETIO_ASYNC_MODE", "threading")
    # "websocket" alone lets several workers share one port without sticky sessions.
    SOCKETIO_TRANSPORTS = _env_transports("SOCKETIO_TRANSPORTS")
    # engine.io heartbeat, whole seconds: a ping every interval; no pong in the timeout closes
    SOCKETIO_PING_INTERVAL = _env_int("SOCKETIO_PING_INTERVAL", 25)
    SOCKETIO_PING_TIMEOUT = _env_int("SOCKETIO_PING_TIMEOUT", 20)
    # Seconds between two looks of each process for users suspended meanwhile (by the admin
    # page of any process or `flask users suspend`), whose connections it then closes; 0: off.
    SUSPENSION_SWEEP_SECONDS = _env_float("SUSPENSION_SWEEP_SECONDS", 5.0)
    # Seconds a new connection has to complete the Socket.IO connect before it is closed.
    CONNECT_TIMEOUT = _env_float("CONNECT_TIMEOUT", 10.0)
    # Simultaneous Socket.IO connections of one user (all processes together); 0: no cap.
    MAX_CONNECTIONS_PER_USER = _env_int("MAX_CONNECTIONS_PER_USER", 20)

    PASSWORD_HASH_METHOD = os.environ.get("PASSWORD_HASH_METHOD", "scrypt")
    # Sign-in and sign-up limits (Flask-Limiter syntax), kept in Redis when REDIS_URL is set.
    RATELIMIT_ENABLED = _env_bool("RATELIMIT_ENABLED", True)
    LOGIN_RATE = os.environ.get("LOGIN_RATE", "10/minute")  # per address and username
    LOGIN_ADDRESS_RATE = os.environ.get("LOGIN_ADDRESS_RATE", "30/minute")  # per address
    REGISTER_RATE = os.environ.get("REGISTER_RATE", "10/hour")  # per address
    # what one admin's forms may do on /admin (suspend, review reports...): per signed-in user
    ADMIN_ACTION_RATE = os.environ.get("ADMIN_ACTION_RATE", "60/minute")
    TOKEN_MAX_AGE = _env_int("TOKEN_MAX_AGE", int(timedelta(days=7).total_seconds()))
    # Flood control (MESSAGE_RATE ... BLOCK_BURST, ROOM_CREATE_RATE, FLOOD_STRIKES), presence
    # coalescing and the stranger-chat grace: set below, after TestingConfig, from the
    # defaults in app/domain/limits.py and budgets.py.

    # Request bodies (forms, the JSON API): a chat message is at most 4,000 characters.
    MAX_CONTENT_LENGTH = 64 * 1024

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", False)
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    REMEMBER_COOKIE_DURATION = timedelta(days=30)
    WTF_CSRF_TIME_LIMIT = None  # the token lives as long as the session

    HOST = os.environ.get("HOST", "127.0.0.1")
    PORT = _env_int("PORT", 5000)
    # Host names the server answers to (Flask answers 400 to others); None: any.
    TRUSTED_HOSTS = _env_list("TRUSTED_HOSTS")
    # How many reverse proxies in front set X-Forwarded-For/-Proto/-Host/-Port (nginx: 1);
    # 0 ignores those headers, as a server reached directly must.
    PROXY_FIX = _env_int("PROXY_FIX", 0)


class DevelopmentConfig(Config):
    """`make run` / `flask run`: SQLite in instance/, one process, threading mode."""

    ENV_NAME = "development"


class TestingConfig(Config):
    """pytest: isolated from the environment the tests run in."""

    ENV_NAME = "testing"
    TESTING = True
    SECRET_KEY = "testing-secret-key-not-for-production"  # noqa: S105
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    REDIS_URL = None
    PRESENCE_TTL = 30.0
    CORS_ALLOWED_ORIGINS = None
    SOCKETIO_ASYNC_MODE = "threading"
    SOCKETIO_TRANSPORTS = ["polling", "websocket"]
    SOCKETIO_PING_INTERVAL = 25
    SOCKETIO_PING_TIMEOUT = 20
    CONNECT_TIMEOUT = 10.0
    # off: most tests build many apps in one process; the sweep's tests turn it on
    SUSPENSION_SWEEP_SECONDS = 0.0
    MAX_CONNECTIONS_PER_USER = 20
    WTF_CSRF_ENABLED = False
    # Fast hashes keep the suite quick; still real salted hashes checked by werkzeug.
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"  # noqa: S105
    # off: the suite registers many users from one address; the limit tests turn it on
    RATELIMIT_ENABLED = False
    LOGIN_RATE = "10/minute"
    LOGIN_ADDRESS_RATE = "30/minute"
    REGISTER_RATE = "10/hour"
    ADMIN_ACTION_RATE = "60/minute"
    TOKEN_MAX_AGE = 3600
    TRUSTED_HOSTS = None
    PROXY_FIX = 0


def _env_number(name: str, default: float | int) -> float | int:
    """The environment variable `name` as the type of its default."""
    return _env_float(name, default) if isinstance(default, float) else _env_int(name, default)


# The domain's tunable numbers, each defaulted in app/domain (written nowhere else) and read
# from the environment variable of its name; the test config keeps the defaults.
for _name, _default in default_settings().items():
    setattr(Config, _name, _env_number(_name, _default))
    setattr(TestingConfig, _name, _default)


class ProductionConfig(Config):
    """gunicorn deploys: a real SECRET_KEY is required (checked by create_app)."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = _env_bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def config_from_env() -> type[Config]:
    """The config class named by APP_ENV (development when unset)."""
    name = os.environ.get("APP_ENV", "development").strip().lower()
    try:
        return CONFIGS[name]
    except KeyError:
        raise RuntimeError(f"APP_ENV={name!r} is not one of {', '.join(sorted(CONFIGS))}") from None
