"""config.py imported afresh under a chosen environment (its classes read it at import)."""

import importlib.util
from pathlib import Path

import config

CONFIG_PATH = Path(config.__file__)


def fresh_config_module(monkeypatch, **env):
    """A private copy of config.py imported under `env` (its classes read the environment)."""
    for name in [
        "APP_ENV",
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "CORS_ALLOWED_ORIGINS",
        "SESSION_COOKIE_SECURE",
        "TOKEN_MAX_AGE",
        "SOCKETIO_TRANSPORTS",
        "PRESENCE_TTL",
    ]:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("config_under_test", CONFIG_PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
