"""config.py and create_app: production secrets, APP_ENV, database URLs, migrations."""

import secrets
import stat

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

import config
from app import create_app
from app.domain.budgets import Budget
from app.domain.limits import Limits, default_settings, limits_from_settings
from app.extensions import db
from app.factory import MIGRATIONS_DIR, _finish_config
from app.storage.engine import normalise_database_url
from tests.support.configs import fresh_config_module


@pytest.fixture
def sqlite_url(tmp_path):
    return f"sqlite:///{tmp_path / 'chat.db'}"


@pytest.fixture
def instance_dir(tmp_path, monkeypatch):
    """Point Flask's instance folder at a temporary directory (never the repository's)."""
    path = tmp_path / "instance"
    monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self: str(path))
    return path


def production(sqlite_url, **settings):
    return type(
        "ProdTest",
        (config.ProductionConfig,),
        {"SQLALCHEMY_DATABASE_URI": sqlite_url, **settings},
    )


# --- production secret ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "secret",
    [None, "", "short", "x" * 31, "change-me", "CHANGE-ME", "changeme", "secret", "dev"],
    ids=["none", "empty", "short", "31-chars", "change-me", "upper", "changeme", "secret", "dev"],
)
def test_production_refuses_weak_secret_key(sqlite_url, instance_dir, secret):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(production(sqlite_url, SECRET_KEY=secret))
    # and it did not quietly fall back to a generated development key
    assert not (instance_dir / "secret_key").exists()


def test_production_starts_with_random_key(sqlite_url, instance_dir):
    key = secrets.token_hex(32)
    assert len(key) == 64
    app = create_app(production(sqlite_url, SECRET_KEY=key))
    assert app.config["SECRET_KEY"] == key
    assert app.config["ENV_NAME"] == "production"
    assert app.config["SQLALCHEMY_DATABASE_URI"] == sqlite_url
    assert not (instance_dir / "secret_key").exists()


def test_production_cookies_are_secure_by_default(monkeypatch):
    module = fresh_config_module(monkeypatch)
    assert module.ProductionConfig.SESSION_COOKIE_SECURE is True
    assert module.ProductionConfig.REMEMBER_COOKIE_SECURE is True
    assert module.ProductionConfig.SESSION_COOKIE_HTTPONLY is True
    assert module.ProductionConfig.SESSION_COOKIE_SAMESITE == "Lax"
    assert module.DevelopmentConfig.SESSION_COOKIE_SECURE is False


def test_production_secret_key_from_environment(monkeypatch):
    key = secrets.token_hex(32)
    module = fresh_config_module(monkeypatch, SECRET_KEY=key)
    assert key == module.ProductionConfig.SECRET_KEY
    assert fresh_config_module(monkeypatch).ProductionConfig.SECRET_KEY is None


# --- APP_ENV ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, "DevelopmentConfig"),
        ("development", "DevelopmentConfig"),
        ("testing", "TestingConfig"),
        ("production", "ProductionConfig"),
        ("  Production ", "ProductionConfig"),
    ],
)
def test_config_from_env_picks_class(monkeypatch, value, expected):
    if value is None:
        monkeypatch.delenv("APP_ENV", raising=False)
    else:
        monkeypatch.setenv("APP_ENV", value)
    assert config.config_from_env() is getattr(config, expected)


@pytest.mark.parametrize("value", ["staging", "prod", "dev", "base"])
def test_config_from_env_rejects_unknown(monkeypatch, value):
    monkeypatch.setenv("APP_ENV", value)
    with pytest.raises(RuntimeError, match="APP_ENV"):
        config.config_from_env()


def test_create_app_without_config_uses_app_env(monkeypatch, sqlite_url, instance_dir):
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setattr(config.ProductionConfig, "SECRET_KEY", None)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app()


def test_testing_config_ignores_environment(monkeypatch):
    module = fresh_config_module(
        monkeypatch,
        SECRET_KEY="from-the-environment",
        DATABASE_URL="postgres://u:p@db/chat",
        REDIS_URL="redis://localhost:6379/0",
        CORS_ALLOWED_ORIGINS="*",
    )
    assert module.TestingConfig.SQLALCHEMY_DATABASE_URI == "sqlite://"
    assert module.TestingConfig.REDIS_URL is None
    assert module.TestingConfig.CORS_ALLOWED_ORIGINS is None
    assert module.TestingConfig.SECRET_KEY != "from-the-environment"
    # ...while the other environments do read it
    assert module.DevelopmentConfig.SQLALCHEMY_DATABASE_URI == "postgres://u:p@db/chat"
    assert module.ProductionConfig.CORS_ALLOWED_ORIGINS == "*"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("*", "*"),
        ("https://a.example", ["https://a.example"]),
        ("https://a.example, https://b.example,", ["https://a.example", "https://b.example"]),
    ],
)
def test_cors_origins_default_to_same_origin(monkeypatch, value, expected):
    env = {} if value is None else {"CORS_ALLOWED_ORIGINS": value}
    assert expected == fresh_config_module(monkeypatch, **env).Config.CORS_ALLOWED_ORIGINS


# --- database URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@db:5432/chat", "postgresql+psycopg://u:p@db:5432/chat"),
        ("postgresql://u:p@db/chat", "postgresql+psycopg://u:p@db/chat"),
        ("postgresql+psycopg://u:p@db/chat", "postgresql+psycopg://u:p@db/chat"),
        ("sqlite:///tmp/chat.db", "sqlite:///tmp/chat.db"),
        ("sqlite://", "sqlite://"),
    ],
)
def test_normalise_database_url(url, expected):
    assert normalise_database_url(url) == expected


def test_finish_config_normalises_database_url(tmp_path):
    app = Flask(__name__, instance_path=str(tmp_path / "instance"))
    app.config.update(
        ENV_NAME="testing", SECRET_KEY="k" * 40, SQLALCHEMY_DATABASE_URI="postgres://u:p@db/chat"
    )
    _finish_config(app)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://u:p@db/chat"


@pytest.mark.parametrize(
    ("url", "pings"),
    [("postgres://u:p@db/chat", True), ("sqlite:///chat.db", False), ("sqlite://", False)],
)
def test_connections_are_pinged_before_use_only_over_a_network(tmp_path, url, pings):
    app = Flask(__name__, instance_path=str(tmp_path / "instance"))
    app.config.update(
        ENV_NAME="testing",
        SECRET_KEY="k" * 40,
        SQLALCHEMY_DATABASE_URI=url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True, "pool_recycle": 600},
    )
    _finish_config(app)
    options = app.config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options == {"pool_pre_ping": pings, "pool_recycle": 600}


def test_database_url_from_environment(monkeypatch):
    module = fresh_config_module(monkeypatch, DATABASE_URL="postgres://u:p@db/chat")
    assert module.ProductionConfig.SQLALCHEMY_DATABASE_URI == "postgres://u:p@db/chat"


def test_default_database_is_in_instance_folder(instance_dir):
    dev = type("DevTest", (config.DevelopmentConfig,), {"SQLALCHEMY_DATABASE_URI": None})
    app = create_app(dev)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{instance_dir / 'chat.db'}"


# --- development secret ----------------------------------------------------------------------


def test_development_generates_and_keeps_secret_key(sqlite_url, instance_dir):
    dev = type(
        "DevTest",
        (config.DevelopmentConfig,),
        {"SECRET_KEY": None, "SQLALCHEMY_DATABASE_URI": sqlite_url},
    )
    first = create_app(dev).config["SECRET_KEY"]
    second = create_app(dev).config["SECRET_KEY"]
    assert first
    assert len(first) >= 32
    assert first == second  # sessions survive a restart
    key_file = instance_dir / "secret_key"
    assert key_file.read_text().strip() == first
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


def test_development_keys_differ_between_instances(tmp_path, monkeypatch, sqlite_url):
    dev = type(
        "DevTest",
        (config.DevelopmentConfig,),
        {"SECRET_KEY": None, "SQLALCHEMY_DATABASE_URI": sqlite_url},
    )
    keys = []
    for name in ["one", "two"]:
        path = str(tmp_path / name)
        monkeypatch.setattr(Flask, "auto_find_instance_path", lambda self, path=path: path)
        keys.append(create_app(dev).config["SECRET_KEY"])
    assert keys[0] != keys[1]


def test_development_uses_given_secret_key(sqlite_url, instance_dir):
    dev = type(
        "DevTest",
        (config.DevelopmentConfig,),
        {"SECRET_KEY": "given-key", "SQLALCHEMY_DATABASE_URI": sqlite_url},
    )
    assert create_app(dev).config["SECRET_KEY"] == "given-key"
    assert not (instance_dir / "secret_key").exists()


# --- migrations ------------------------------------------------------------------------------


def test_migrations_match_models(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_migrations_have_one_head_and_database_is_at_it(app):
    with app.app_context():
        script = ScriptDirectory.from_config(app.extensions["migrate"].migrate.get_config())
        heads = script.get_heads()
        assert len(heads) == 1
        with db.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
        assert current == tuple(heads)


def test_migrations_downgrade_and_upgrade_again(app):
    with app.app_context():
        tables = set(db.metadata.tables)
        assert tables <= set(inspect(db.engine).get_table_names())
        downgrade(directory=MIGRATIONS_DIR, revision="base")
        assert not tables & set(inspect(db.engine).get_table_names())
        upgrade(directory=MIGRATIONS_DIR)
        assert tables <= set(inspect(db.engine).get_table_names())


def test_migration_0004_keeps_the_first_of_duplicate_client_ids(app):
    with app.app_context():
        downgrade(directory=MIGRATIONS_DIR, revision="0003")
        with db.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, username, username_key, password_hash, created_at)"
                    " VALUES (1, 'a', 'a', 'x', '2026-01-01')"
                )
            )
            for seq, client_id in [(1, "dup"), (2, "dup"), (3, None), (4, None), (5, "solo")]:
                connection.execute(
                    text(
                        "INSERT INTO messages (room_id, seq, user_id, text, client_id, created_at)"
                        " SELECT id, :seq, 1, 'm', :client_id, '2026-01-01' FROM rooms"
                        " WHERE name = 'general'"
                    ),
                    {"seq": seq, "client_id": client_id},
                )
        upgrade(directory=MIGRATIONS_DIR)
        with db.engine.connect() as connection:
            rows = connection.execute(text("SELECT seq, client_id FROM messages ORDER BY seq"))
            assert list(rows) == [(1, "dup"), (2, None), (3, None), (4, None), (5, "solo")]


def test_init_db_seeds_general_room_once(app):
    from app.cli import init_db

    with app.app_context():
        init_db()  # a second run is harmless
        repository = app.extensions["chat_repository"]
        assert repository.get_room("general") is not None


def test_transports_from_environment(monkeypatch):
    module = fresh_config_module(monkeypatch, SOCKETIO_TRANSPORTS=" websocket ")
    assert module.Config.SOCKETIO_TRANSPORTS == ["websocket"]
    assert fresh_config_module(monkeypatch).Config.SOCKETIO_TRANSPORTS == [
        "polling",
        "websocket",
    ]


def test_unknown_transport_is_refused(monkeypatch):
    with pytest.raises(RuntimeError, match="SOCKETIO_TRANSPORTS"):
        fresh_config_module(monkeypatch, SOCKETIO_TRANSPORTS="websocket,carrier-pigeon")


# --- the domain's limits: defaults in app/domain only ------------------------------------------


def test_every_limit_setting_defaults_to_the_domains_value(monkeypatch):
    for name in default_settings():
        monkeypatch.delenv(name, raising=False)
    module = fresh_config_module(monkeypatch)
    assert set(default_settings()) >= {"MESSAGE_RATE", "BLOCK_BURST", "ROOM_CREATE_RATE"}
    for name, default in default_settings().items():
        for config_class in (module.Config, module.TestingConfig, module.ProductionConfig):
            value = getattr(config_class, name)
            assert value == default and type(value) is type(default), (config_class, name)
    limits = limits_from_settings(create_app(config.TestingConfig).config)
    assert limits == Limits()


def test_limit_settings_come_from_the_environment_except_in_tests(monkeypatch):
    module = fresh_config_module(
        monkeypatch, MESSAGE_RATE="2.5", JOIN_BURST="7", ROOM_CREATE_RATE="3", FLOOD_STRIKES="4"
    )
    assert (module.Config.MESSAGE_RATE, module.Config.JOIN_BURST) == (2.5, 7)
    assert module.ProductionConfig.ROOM_CREATE_RATE == 3
    assert module.DevelopmentConfig.FLOOD_STRIKES == 4
    assert (module.TestingConfig.MESSAGE_RATE, module.TestingConfig.FLOOD_STRIKES) == (10.0, 20)
    limits = limits_from_settings(vars(module.Config) | {"PRESENCE_COALESCE": 0})
    assert limits.budgets.message == Budget(2.5, 20)
    assert limits.budgets.join == Budget(5.0, 7)
    assert limits.budgets.room_create == Budget(3 / 3600, 3)
    assert (limits.flood_strikes, limits.presence_coalesce) == (4, 0.0)
