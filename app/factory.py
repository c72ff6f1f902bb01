"""Application factory: builds the Flask app, binds extensions and wires the layers."""

import logging
import secrets
import socket
from pathlib import Path

from flask import Flask
from werkzeug.security import check_password_hash, generate_password_hash

from config import Config, config_from_env

from . import events  # noqa: F401  (registers the Socket.IO handlers on `socketio`)
from .domain.accounts import AccountService
from .domain.chat import ChatService, Limits
from .extensions import csrf, db, login_manager, migrate, socketio
from .shutdown import InFlight
from .storage.engine import default_sqlite_url, normalise_database_url
from .storage.memory import MemoryPresenceStore, MemoryRateLimiter, StripedRoomLocks
from .storage.sql import SqlAccountRepository, SqlChatRepository
from .tokens import TokenSigner

MIGRATIONS_DIR = str(Path(__file__).parent / "migrations")
# Sized to the 4000-character limit: a message packet, even with every character JSON-escaped
# as a surrogate pair, stays under this.
MAX_PACKET_BYTES = 64 * 1024
PLACEHOLDER_SECRETS = {"change-me", "changeme", "secret", "dev", "development"}


class WerkzeugHasher:
    def __init__(self, method: str):
        self.method = method

    def hash(self, password: str) -> str:
        return generate_password_hash(password, method=self.method)

    def verify(self, password_hash: str, password: str) -> bool:
        return check_password_hash(password_hash, password)


def create_app(config_object: type[Config] | object | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    app.config.from_object(config_object or config_from_env())
    _finish_config(app)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    socketio.init_app(
        app,
        async_mode=app.config["SOCKETIO_ASYNC_MODE"],
        cors_allowed_origins=_origin_policy(app.config["CORS_ALLOWED_ORIGINS"]),
        message_queue=app.config["REDIS_URL"],
        max_http_buffer_size=MAX_PACKET_BYTES,
        # One client's events are handled one at a time, in the order sent: two quick messages
        # from one person are stored in that order. Different clients still run concurrently.
        async_handlers=False,
    )
    _tune_websockets(socketio.server.eio, MAX_PACKET_BYTES)
    room_locks = StripedRoomLocks()
    _release_held_locks_after_ack(socketio.server, room_locks)

    from .broadcast import SocketIOBroadcaster

    app.extensions["accounts"] = AccountService(
        SqlAccountRepository(db.session), WerkzeugHasher(app.config["PASSWORD_HASH_METHOD"])
    )
    app.extensions["tokens"] = TokenSigner(app.config["SECRET_KEY"], app.config["TOKEN_MAX_AGE"])
    app.extensions["in_flight"] = InFlight()
    app.extensions["chat_repository"] = SqlChatRepository(db.session)
    app.extensions["chat"] = ChatService(
        app.extensions["chat_repository"],
        MemoryPresenceStore(),
        SocketIOBroadcaster(socketio),
        room_locks,
        MemoryRateLimiter(),
        Limits(
            message_rate=app.config["MESSAGE_RATE"],
            message_burst=app.config["MESSAGE_BURST"],
            typing_rate=app.config["TYPING_RATE"],
            typing_burst=app.config["TYPING_BURST"],
            flood_strikes=app.config["FLOOD_STRIKES"],
        ),
    )

    from . import api, auth, cli, main

    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)
    cli.register(app)
    return app


def _origin_policy(configured: str | list[str] | None):
    """engine.io's setting for browser origins: same origin only by default; a configured list
    adds origins to the page's own instead of replacing it."""
    if configured is None or configured == "*":
        return configured
    extra = frozenset(configured)

    def allowed(origin: str, environ: dict) -> bool:
        return origin in extra or origin in _own_origins(environ)

    return allowed


def _own_origins(environ: dict) -> set[str]:
    """The origins this request was addressed to, also as seen behind a reverse proxy."""
    host = environ.get("HTTP_HOST", "")
    own = {f"{environ.get('wsgi.url_scheme', 'http')}://{host}"}
    forwarded_proto = environ.get("HTTP_X_FORWARDED_PROTO", "").split(",")[0].strip()
    forwarded_host = environ.get("HTTP_X_FORWARDED_HOST", "").split(",")[0].strip()
    if forwarded_proto or forwarded_host:
        scheme = forwarded_proto or environ.get("wsgi.url_scheme", "http")
        own.add(f"{scheme}://{forwarded_host or host}")
    return own


def _release_held_locks_after_ack(sio_server, room_locks: StripedRoomLocks) -> None:
    """Run each event's handler and ack, then free the room locks the handler kept
    (`join` keeps its room's lock so that its ack is queued before any later broadcast)."""
    handle_event = sio_server._handle_event_internal

    def handle_event_then_release(*args, **kwargs):
        try:
            return handle_event(*args, **kwargs)
        finally:
            room_locks.release_held()

    sio_server._handle_event_internal = handle_event_then_release
    sio_server.releases_held_locks = True


def _tune_websockets(eio_server, max_bytes: int) -> None:
    """Two settings engine.io leaves out for WebSocket connections:
    - TCP_NODELAY: a sender gets its own `message` event and then its ack as two small
      writes; with Nagle's algorithm the second waits for the peer's delayed ACK (~40 ms).
    - a frame size cap enforced while reading (close code 1009, "message too big"); engine.io
      alone checks only after buffering the whole message.
    """
    base = eio_server._async.get("websocket")
    if base is None:
        return

    class TunedWebSocket(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.server_args["max_message_size"] = max_bytes

        def __call__(self, environ, start_response):
            sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return super().__call__(environ, start_response)

    eio_server._async = {**eio_server._async, "websocket": TunedWebSocket}


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

    url = app.config.get("SQLALCHEMY_DATABASE_URI")
    app.config["SQLALCHEMY_DATABASE_URI"] = (
        normalise_database_url(url) if url else default_sqlite_url(app.instance_path)
    )


def _instance_secret(instance_path: str) -> str:
    """A development key kept in instance/ so sessions survive restarts of `make run`."""
    path = Path(instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()
