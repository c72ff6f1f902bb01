"""Adjustments to python-socketio and engine.io that protocol v1 needs, installed by create_app.

They reach into library internals (`_handle_event`, `_async`), so the pinned versions matter;
the tests under tests/reliability and tests/test_fuzz.py fail if an upgrade breaks them.
"""

import logging
import socket

from socketio import packet

from .domain.errors import INVALID, ChatError
from .storage.memory import StripedRoomLocks

log = logging.getLogger(__name__)

# Names python-socketio routes to the app's own connect/disconnect/catch-all handlers, and
# names Socket.IO reserves: a client must not be able to fire them as ordinary events.
RESERVED_EVENT_NAMES = frozenset(
    {
        "connect",
        "connect_error",
        "disconnect",
        "disconnecting",
        "newListener",
        "removeListener",
        "*",
    }
)


def refuse_reserved_event_names(sio_server) -> None:
    """Answer `invalid` to events named like a lifecycle event, or not named by a string."""
    handle_event = sio_server._handle_event

    def guarded(eio_sid, namespace, id, data):
        name = data[0] if data else None
        if isinstance(name, str) and name not in RESERVED_EVENT_NAMES:
            return handle_event(eio_sid, namespace, id, data)
        log.warning("reserved or malformed event name %r from %s refused", name, eio_sid)
        if id is not None:
            error = ChatError(INVALID, f"{name!r} is not an event a client may send.")
            ack = {"ok": False, "error": error.to_dict()}
            sio_server._send_packet(
                eio_sid,
                sio_server.packet_class(packet.ACK, namespace=namespace or "/", id=id, data=[ack]),
            )

    sio_server._handle_event = guarded


def origin_policy(configured: str | list[str] | None):
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


def release_held_locks_after_ack(sio_server, room_locks: StripedRoomLocks) -> None:
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


def tune_websockets(eio_server, max_bytes: int) -> None:
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
