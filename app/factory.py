"""Application factory: builds the Flask app, binds extensions and wires the layers."""

import hashlib
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path

import socketio as socketio_lib
from flask import Flask
from redis import Redis

from config import Config, config_from_env

from . import events
from .cluster import Heartbeat
from .domain.accounts import AccountService
from .domain.admin import AdminService
from .domain.limits import limits_from_settings
from .domain.ports import PairStore, Ports, PresenceStore, RateLimiter, RoomLocks
from .domain.services import ChatServices
from .domain.suspensions import SuspensionSweep
from .extensions import csrf, db, limiter, login_manager, migrate, socketio
from .jsonio import SafeJSONProvider
from .passwords import WerkzeugHasher
from .security import check_hosts, secure_headers, trust_proxy
from .shutdown import InFlight
from .storage.admin import SqlReportQueue
from .storage.audit import SqlAuditLog
from .storage.engine import default_sqlite_url, normalise_database_url
from .storage.memory import (
    MemoryPairStore,
    MemoryPresenceStore,
    MemoryRateLimiter,
    StripedRoomLocks,
)
from .storage.moderation import SqlModerationRepository
from .storage.redis_stores import (
    RedisLiveness,
    RedisPairStore,
    RedisPresenceStore,
    RedisRateLimiter,
)
from .storage.reports import SqlReports
from .storage.sql import SqlAccountRepository, SqlChatRepository
from .sweeper import SuspensionSweeper
from .tokens import TokenSigner
from .transport import (
    AckOrderedRoomLocks,
    JsonOnlyPacket,
    OrderedRedisManager,
    install,
    origin_policy,
)
from .wire import message as message_payload

MIGRATIONS_DIR = str(Path(__file__).parent / "migrations")
# Sized to the 4000-character limit: a message packet, even with every character JSON-escaped
# as a surrogate pair, stays under this.
MAX_PACKET_BYTES = 64 * 1024
PLACEHOLDER_SECRETS = {"change-me", "changeme", "secret", "dev", "development"}


def create_app(config_object: type[Config] | object | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.json = SafeJSONProvider(app)
    app.config.from_object(config_object or config_from_env())
    _finish_config(app)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    # a join's room stays locked until its ack is queued (app/transport/acks.py)
    room_locks = AckOrderedRoomLocks(StripedRoomLocks())
    stores = _shared_stores(app, room_locks) if app.config["REDIS_URL"] else _local_stores()
    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        cors_allowed_origins=origin_policy(app.config["CORS_ALLOWED_ORIGINS"]),
        max_http_buffer_size=MAX_PACKET_BYTES,
        transports=app.config["SOCKETIO_TRANSPORTS"],
        ping_interval=app.config["SOCKETIO_PING_INTERVAL"],
        ping_timeout=app.config["SOCKETIO_PING_TIMEOUT"],
        # One client's events are handled one at a time, in the order sent: two quick messages
        # from one person are stored in that order. Different clients still run concurrently.
        async_handlers=False,
        # Always given: the extension is shared by every app built in this process (tests).
        client_manager=stores.manager,
        **_library_loggers(),
        # JSON only (no binary attachments), nested at most 64 levels: app/transport/packets.py
        serializer=JsonOnlyPacket,
        json=JsonOnlyPacket.json,
    )
    install(
        socketio,
        handlers=events.HANDLERS,
        refuse_stray_event=events.refuse_stray_event,
        max_packet_bytes=MAX_PACKET_BYTES,
        connect_timeout=app.config["CONNECT_TIMEOUT"],
    )

    from .broadcast import SocketIOBroadcaster, SocketIOScheduler

    app.extensions["accounts"] = AccountService(
        SqlAccountRepository(db.session), WerkzeugHasher(app.config["PASSWORD_HASH_METHOD"])
    )
    app.extensions["tokens"] = TokenSigner(app.config["SECRET_KEY"], app.config["TOKEN_MAX_AGE"])
    app.extensions["in_flight"] = InFlight()
    with app.app_context():
        engine = db.engine
    app.extensions["chat_repository"] = SqlChatRepository(db.session, engine)
    ports = Ports(
        repository=app.extensions["chat_repository"],
        presence=stores.presence,
        broadcaster=SocketIOBroadcaster(socketio),
        locks=room_locks,
        limiter=stores.limiter,
        pairs=stores.pairs,
        scheduler=SocketIOScheduler(socketio, app),
        audit=SqlAuditLog(db.session),
        reports=SqlReports(db.session),
        alias_key=_alias_key(app.config["SECRET_KEY"]),
        moderation=SqlModerationRepository(db.session),
    )
    # one service per feature (rooms, messages, direct, strangers, connections)
    app.extensions["chat"] = ChatServices.build(ports, limits_from_settings(app.config))
    # admins, suspension and the report queue: the admin page and `flask users`
    app.extensions["admin"] = AdminService(
        app.extensions["accounts"].repository,
        ports.audit,
        app.extensions["chat"].connections,
        SqlReportQueue(db.session),
        ports.clock,
    )

    # closes this process's connections of users suspended by anyone (SUSPENSION_SWEEP_SECONDS)
    app.extensions["suspension_sweeper"] = SuspensionSweeper(
        app,
        socketio,
        SuspensionSweep(
            app.extensions["accounts"].repository, app.extensions["chat"].connections, ports.clock
        ),
        app.config["SUSPENSION_SWEEP_SECONDS"],
    )

    from . import admin, api, auth, cli, main

    app.register_blueprint(main.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)
    from .ratelimits import RateLimitExceeded, too_many_requests

    app.register_error_handler(RateLimitExceeded, too_many_requests)
    secure_headers(app)
    check_hosts(app)
    trust_proxy(app)  # last: it wraps everything, Socket.IO included
    cli.register(app)
    return app


def _library_loggers() -> dict[str, logging.Logger]:
    """python-socketio's and python-engineio's loggers, errors only (their default), given as
    loggers: left to themselves (`logger=False`) each adds a plain-text handler on stderr of
    its own, which printed every error a second time, tracebacks as raw lines, next to the
    JSON lines the production log is made of. These propagate to the app's handlers only."""
    loggers = {
        "logger": logging.getLogger("socketio.server"),
        "engineio_logger": logging.getLogger("engineio.server"),
    }
    for logger in loggers.values():
        if logger.level == logging.NOTSET:  # an operator's own setting stays
            logger.setLevel(logging.ERROR)
    return loggers


def _finish_config(app: Flask) -> None:
    secret = app.config.get("SECRET_KEY")
    if app.config.get("ENV_NAME") == "production":
        if not secret or len(secret) < 32 or secret.lower() in PLACEHOLDER_SECRETS:
            raise RuntimeError(
                "Refusing to start in production without a real SECRET_KEY: set SECRET_KEY to "
                "a random string of at least 32 characters, for example the output of "
                "`python -c 'import secrets; print(secrets.token_hex(32))'`."
            )
    elif not secret:
        app.config["SECRET_KEY"] = _instance_secret(app.instance_path)

    # the sign-in limits are shared by every process when they share a Redis
    redis_url = app.config.get("REDIS_URL")
    if redis_url and redis_url.startswith("unix://"):
        redis_url = "redis+" + redis_url  # the limits library's name for a Redis socket
    app.config.setdefault("RATELIMIT_STORAGE_URI", redis_url or "memory://")
    # a moving window: no double burst at the edge of a fixed one
    app.config.setdefault("RATELIMIT_STRATEGY", "moving-window")

    url = app.config.get("SQLALCHEMY_DATABASE_URI")
    url = normalise_database_url(url) if url else default_sqlite_url(app.instance_path)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    if url.startswith("sqlite"):
        # a file has no connection to lose; the ping would be a query more per message
        options = app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
        app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {**options, "pool_pre_ping": False}


@dataclass(frozen=True)
class Stores:
    """Where presence, rate limits and stranger chat live, and how emits reach clients."""

    presence: PresenceStore
    limiter: RateLimiter
    pairs: PairStore
    manager: socketio_lib.Manager | None  # None: python-socketio's in-process manager


def _local_stores() -> Stores:
    """One process: everything in memory."""
    return Stores(MemoryPresenceStore(), MemoryRateLimiter(), MemoryPairStore(), None)


def _shared_stores(app: Flask, room_locks: RoomLocks) -> Stores:
    """Several processes: Redis carries every emit (Socket.IO's message queue) and holds what
    all of them must agree on."""
    url = app.config["REDIS_URL"]
    redis_client = Redis.from_url(
        url,
        decode_responses=True,
        socket_connect_timeout=5,
        socket_timeout=5,
        health_check_interval=30,
    )
    app.extensions["redis"] = redis_client

    def read_back(room: str, after: int, before: int) -> list[dict]:
        """The messages with after < id < before, current states, by id."""
        with app.app_context():
            messages = app.extensions["chat"].messages.between(room, after, before - 1)
        return [message_payload(message) for message in messages]

    def read_changes(room: str, after: int, before: int) -> list[dict]:
        """The messages whose latest change has after < rev < before, by rev."""
        with app.app_context():
            messages = app.extensions["chat"].messages.changes(room, after, before - 1)
        return [message_payload(message) for message in messages]

    def start_heartbeat() -> None:
        app.extensions["heartbeat"].start()

    manager = OrderedRedisManager(
        url,
        locks=room_locks,
        read_back=read_back,
        read_changes=read_changes,
        on_start=start_heartbeat,
    )
    ttl = app.config["PRESENCE_TTL"]
    liveness = RedisLiveness(redis_client, manager.host_id, ttl)
    app.extensions["heartbeat"] = Heartbeat(
        app, socketio.start_background_task, socketio.sleep, liveness, ttl
    )
    presence = RedisPresenceStore(redis_client, manager.host_id)
    manager.on_remote_leave = presence.forget_local
    return Stores(
        presence,
        RedisRateLimiter(redis_client),
        RedisPairStore(redis_client),
        manager,
    )


def _alias_key(secret: str) -> bytes:
    """The key of stranger aliases: from SECRET_KEY (so every process agrees), but not the
    key itself, which also signs sessions and tokens."""
    return hashlib.sha256(b"stranger aliases\x00" + secret.encode()).digest()


def _instance_secret(instance_path: str) -> str:
    """A development key kept in instance/ so sessions survive restarts of `make run`."""
    path = Path(instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
