"""Adjustments to python-socketio and engine.io that protocol v1 needs, installed by create_app.

They reach into library internals (`_handle_event`, `_async`), so the pinned versions matter;
the tests under tests/reliability and tests/test_fuzz.py fail if an upgrade breaks them.
"""

import logging
import socket
import struct
import time

import engineio.packet
import engineio.socket
import simple_websocket
from socketio import packet
from wsproto.utilities import LocalProtocolError

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


def refuse_reserved_event_names(sio_server, answer=None) -> None:
    """Answer `invalid` to events named like a lifecycle event, or not named by a string;
    `answer(sid, name) -> ack`, when given, writes that ack (and charges the user for it)."""
    handle_event = sio_server._handle_event

    def guarded(eio_sid, namespace, id, data):
        name = data[0] if data else None
        if isinstance(name, str) and name not in RESERVED_EVENT_NAMES:
            return handle_event(eio_sid, namespace, id, data)
        log.warning("reserved or malformed event name %r from %s refused", name, eio_sid)
        sid = sio_server.manager.sid_from_eio_sid(eio_sid, namespace or "/")
        if answer is not None and sid is not None:
            ack = answer(sid, name)
        else:
            error = ChatError(INVALID, f"{name!r} is not an event a client may send.")
            ack = {"ok": False, "error": error.to_dict()}
        if id is not None:
            sio_server._send_packet(
                eio_sid,
                sio_server.packet_class(packet.ACK, namespace=namespace or "/", id=id, data=[ack]),
            )

    sio_server._handle_event = guarded


def origin_policy(configured: str | list[str] | None):
    """engine.io's setting for browser origins: same origin only by default; a configured list
    adds origins to the page's own instead of replacing it."""
    if configured == "*":
        return configured
    # None too: engine.io's own same-origin check would believe any X-Forwarded-Host
    extra = frozenset(configured or ())

    def allowed(origin: str, environ: dict) -> bool:
        return origin in extra or origin in _own_origins(environ)

    return allowed


def _own_origins(environ: dict) -> set[str]:
    """The origin this request was addressed to. Behind a proxy, PROXY_FIX (werkzeug's ProxyFix)
    has already put the forwarded scheme and host into environ; never trust them unasked."""
    return {f"{environ.get('wsgi.url_scheme', 'http')}://{environ.get('HTTP_HOST', '')}"}


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
    """Settings engine.io leaves out for WebSocket connections:
    - TCP_NODELAY: a sender gets its own `message` event and then its ack as two small
      writes; with Nagle's algorithm the second waits for the peer's delayed ACK (~40 ms).
    - a frame size cap enforced while reading (close code 1009, "message too big"); engine.io
      alone checks only after buffering the whole message.
    - no permessage-deflate: chat events are a few hundred bytes, and compressing each one
      for each recipient costs more CPU than it saves bandwidth (Node's socket.io server does
      not offer it by default either).
    - under gevent, a way for broadcasts to write a prepared frame at once (DirectWriter),
      and no reader greenlet per connection (InlineReadingServer).
    """
    base = eio_server._async.get("websocket")
    if base is None:
        return
    direct = eio_server.async_mode == "gevent"

    class TunedWebSocket(base):
        def __init__(self, handler, *args, **kwargs):
            super().__init__(handler, *args, **kwargs)
            self.server_args["max_message_size"] = max_bytes
            self.writing = False
            eio_socket = getattr(handler, "__self__", None)  # engine.io's Socket
            if direct and eio_socket is not None:
                eio_socket.direct_writer = self

        def __call__(self, environ, start_response):
            sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
            if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
            if not direct:
                return super().__call__(environ, start_response)
            # as the base class does, with a server that reads in the handler's greenlet
            self.ws = InlineReadingServer(environ, **self.server_args)
            result = self.app(self)
            if self.ws.mode == "gunicorn":
                raise StopIteration
            if self.ws.mode == "werkzeug":
                raise ConnectionError
            return result

        def send(self, message):
            # engine.io's writer task: `writing` tells broadcasts a frame is on its way
            self.writing = True
            try:
                if isinstance(message, PreparedFrame):
                    self.ws.sock.sendall(message)
                    return None
                return super().send(message)
            finally:
                self.writing = False

    eio_server._async = {**eio_server._async, "websocket": TunedWebSocket}


class _NotStarted:
    """simple-websocket's reader thread, never started: InlineReadingServer reads instead."""

    def __init__(self, target):
        self.name = "inline reader"

    def start(self) -> None:
        pass


class InlineReadingServer(simple_websocket.Server):
    """simple-websocket's server with no reader greenlet: `receive()` reads the socket itself.

    engine.io's handler greenlet does nothing but wait in `receive()`, so the reading can
    happen there. An idle connection then holds one greenlet fewer (its stack, its Thread
    and Event objects: docs/performance.md)."""

    def __init__(self, environ, **kwargs):
        super().__init__(environ, **{**kwargs, "thread_class": _NotStarted})

    def receive(self, timeout=None):
        while self.connected and not self.input_buffer:
            try:
                data = self.sock.recv(self.receive_bytes)
                if not data:
                    raise OSError("connection closed by the peer")
                self.ws.receive_data(data)
                self.connected = self._handle_events()
            except (OSError, LocalProtocolError):
                self.connected = False
        if self.input_buffer:
            return self.input_buffer.pop(0)
        self.sock.close()
        raise simple_websocket.ConnectionClosed(self.close_reason, self.close_message)


def schedule_pings_on_timers(eio_server) -> None:
    """Under gevent, wait out engine.io's ping interval (25 s) on a timer instead of in a
    sleeping greenlet per connection, whose stack every idle connection would hold.

    Patched on engine.io's Socket class: a gevent process runs every server under gevent."""
    if eio_server.async_mode == "gevent":
        engineio.socket.Socket.schedule_ping = _schedule_ping_on_timer


def _schedule_ping_on_timer(eio_socket) -> None:
    import gevent

    if eio_socket.last_ping:  # engine.io's own check: the previous ping cycle completed
        eio_socket.last_ping = None
        gevent.spawn_later(eio_socket.server.ping_interval, _send_ping_now, eio_socket)


def _send_ping_now(eio_socket) -> None:
    if not eio_socket.closing and not eio_socket.closed:
        eio_socket.last_ping = time.time()
        eio_socket.send(engineio.packet.Packet(engineio.packet.PING))


class PreparedFrame(bytes):
    """WebSocket frame bytes, ready for the wire."""


class _PreparedPacket:
    """Queued like an engine.io packet; engine.io's writer passes `encode()` to send()."""

    __slots__ = ("frame",)
    binary = False

    def __init__(self, frame: PreparedFrame):
        self.frame = frame

    def encode(self, b64: bool = False) -> PreparedFrame:
        return self.frame


def text_frame(text: str) -> PreparedFrame:
    """One unmasked, final WebSocket text frame (RFC 6455 5.2), as a server sends it."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return PreparedFrame(header + payload)


def write_broadcasts_directly(sio_server) -> None:
    """A broadcast builds its WebSocket frame once and writes it to each recipient's socket
    right away, instead of queueing the packet for that connection's writer task (which
    frames it again with wsproto and wakes a greenlet per recipient).

    Only under gevent, where nothing runs between the checks and the write below: the
    connection must be on WebSocket with nothing queued and nothing being written, so the
    frame cannot overtake an earlier packet. The write never blocks; what the kernel does
    not take at once is queued, and the writer task sends it before anything else.
    """
    eio = sio_server.eio
    if eio.async_mode != "gevent":
        return
    send_packet = sio_server._send_eio_packet

    def send_eio_packet(eio_sid, pkt):
        eio_socket = eio.sockets.get(eio_sid)
        writer = getattr(eio_socket, "direct_writer", None)
        if (
            writer is None
            or writer.writing
            or pkt.binary
            or not eio_socket.upgraded
            or eio_socket.upgrading
            or eio_socket.closed
            or eio_socket.closing
            or not eio_socket.queue.empty()
        ):
            return send_packet(eio_sid, pkt)
        frame = pkt.__dict__.get("prepared_frame")
        if frame is None:
            frame = pkt.prepared_frame = text_frame(pkt.encode())
        try:
            sent = writer.ws.sock._sock.send(frame)  # the non-blocking OS socket
        except BlockingIOError:
            sent = 0
        except OSError:
            return send_packet(eio_sid, pkt)  # the writer task sees the error and closes
        if sent < len(frame):
            log.debug("%s: %d of %d bytes written, the rest queued", eio_sid, sent, len(frame))
            eio_socket.queue.put(_PreparedPacket(PreparedFrame(frame[sent:])))

    sio_server._send_eio_packet = send_eio_packet
