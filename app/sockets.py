"""Adjustments to python-socketio and engine.io that protocol v1 needs, installed by create_app.

They reach into library internals (`_handle_event`, `_handle_eio_message`, `_async`), so the
pinned versions matter; the tests under tests/reliability and tests/test_fuzz.py fail if an
upgrade breaks them.
"""

import logging
import socket
import struct
import threading
import time
from collections.abc import Callable

import engineio.packet
import engineio.socket
import simple_websocket
from socketio import packet
from wsproto.utilities import LocalProtocolError

from .domain.errors import INVALID, ChatError
from .storage.memory import StripedRoomLocks
from .wire import RefusedPacketError

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
            ack = answer(sid, name)  # charged to the user's shared budget
        else:
            error = ChatError(INVALID, f"{name!r} is not an event a client may send.")
            ack = {"ok": False, "error": error.to_dict()}
        _send_ack(sio_server, eio_sid, namespace, id, ack)

    sio_server._handle_event = guarded


def _send_error_ack(sio_server, eio_sid: str, namespace: str | None, id, error: ChatError):  # noqa: A002
    _send_ack(sio_server, eio_sid, namespace, id, {"ok": False, "error": error.to_dict()})


def _send_ack(sio_server, eio_sid: str, namespace: str | None, id, ack: dict) -> None:  # noqa: A002
    """Answer packet `id` (when the client asked for an answer) with `ack`."""
    if id is not None:
        sio_server._send_packet(
            eio_sid,
            sio_server.packet_class(packet.ACK, namespace=namespace or "/", id=id, data=[ack]),
        )


# WebSocket close codes (RFC 6455 7.4.1) and reasons a client sees when the server closes
BINARY_REFUSED = (1003, "binary packets are not accepted")
MALFORMED_PACKET = (1002, "malformed packet")
CONNECT_TIMEOUT = (1008, "connect timeout")


def refuse_unreadable_packets(sio_server) -> None:
    """Act on the packets app/wire.py's JsonOnlyPacket refuses, before python-socketio
    buffers or dispatches anything: an event whose only fault is its JSON (malformed, or
    nested too deeply) is answered `invalid` and the connection carries on; binary data
    (which python-socketio would buffer as attachments without limit) and packets that
    cannot be read close the connection."""
    handle_message = sio_server._handle_eio_message

    def guarded(eio_sid, data):
        try:
            return handle_message(eio_sid, data)
        except RefusedPacketError as refused:
            _refuse(sio_server, eio_sid, refused)

    # engine.io calls the handler it was given; Flask-SocketIO's test client calls the server's
    sio_server._handle_eio_message = guarded
    sio_server.eio.on("message", guarded)


def _refuse(sio_server, eio_sid: str, refused: RefusedPacketError) -> None:
    namespace = refused.namespace or "/"
    sid = sio_server.manager.sid_from_eio_sid(eio_sid, namespace)
    if refused.header_read and refused.packet_type == packet.EVENT and sid is not None:
        log.warning("event from %s refused: %s", sid, refused.reason)
        error = ChatError(INVALID, f"The event's payload is {refused.reason}.")
        _send_error_ack(sio_server, eio_sid, namespace, refused.id, error)
        return
    code, reason = BINARY_REFUSED if refused.binary else MALFORMED_PACKET
    log.warning("%s from %s (sid %s): closing the connection", refused.reason, eio_sid, sid)
    close_connection(sio_server, eio_sid, code, reason)


def close_connection(sio_server, eio_sid: str, code: int, reason: str) -> None:
    """End a connection from the server: a Socket.IO disconnect first (clients do not
    reconnect on their own after one), then engine.io's close packet, then, on WebSocket,
    a close frame with `code` and `reason` (what a WebSocket client reports)."""
    sid = sio_server.manager.sid_from_eio_sid(eio_sid, "/")
    if sid is not None:
        sio_server.disconnect(sid, namespace="/")
    eio_socket = sio_server.eio.sockets.get(eio_sid)
    if eio_socket is None:  # gone already, or Flask-SocketIO's test client
        return
    websocket = getattr(eio_socket, "websocket", None)
    if websocket is not None:
        websocket.close_with = (code, reason)
    # engine.io's writer sends what is queued, then the close packet, then closes
    eio_socket.close(wait=False, reason=sio_server.eio.reason.SERVER_DISCONNECT)


def close_unconnected(sio_server, timeout: float) -> None:
    """Close engine.io connections that have not completed the Socket.IO connect within
    `timeout` seconds (Node's socket.io server: `connectTimeout`, 45 s; python-socketio has
    no such setting). One timer per pending connection, cancelled once it connects; a
    Socket.IO disconnect that leaves the transport open starts it again. 0: no timeout."""
    if timeout <= 0:
        return
    eio = sio_server.eio
    start_timer = _timer_factory(eio.async_mode)
    timers: dict[str, Callable[[], None]] = {}

    def connected(eio_sid: str) -> bool:
        return sio_server.manager.sid_from_eio_sid(eio_sid, "/") is not None

    def expire(eio_sid: str) -> None:
        timers.pop(eio_sid, None)
        if eio_sid in eio.sockets and not connected(eio_sid):
            log.warning("%s sent no Socket.IO connect within %s s: closing it", eio_sid, timeout)
            close_connection(sio_server, eio_sid, *CONNECT_TIMEOUT)

    def arm(eio_sid: str) -> None:
        if eio_sid not in timers:
            timers[eio_sid] = start_timer(timeout, expire, eio_sid)

    def disarm(eio_sid: str) -> None:
        cancel = timers.pop(eio_sid, None)
        if cancel is not None:
            cancel()

    handle_connect = sio_server._handle_eio_connect
    handle_message = sio_server._handle_eio_message
    handle_disconnect = sio_server._handle_eio_disconnect

    def on_connect(eio_sid, environ):
        result = handle_connect(eio_sid, environ)
        arm(eio_sid)
        return result

    def on_message(eio_sid, data):
        result = handle_message(eio_sid, data)
        kind = data[:1] if isinstance(data, str) else None
        if kind == str(packet.CONNECT) and connected(eio_sid):
            disarm(eio_sid)
        elif kind == str(packet.DISCONNECT) and not connected(eio_sid) and eio_sid in eio.sockets:
            arm(eio_sid)
        return result

    def on_disconnect(eio_sid, reason):
        disarm(eio_sid)
        return handle_disconnect(eio_sid, reason)

    sio_server._handle_eio_message = on_message
    eio.on("connect", on_connect)
    eio.on("message", on_message)
    eio.on("disconnect", on_disconnect)


def _timer_factory(async_mode: str) -> Callable[..., Callable[[], None]]:
    """`start(delay, fn, *args) -> cancel`: under gevent a greenlet that exists only once the
    timer fires; otherwise a threading.Timer (`flask run`)."""
    if async_mode == "gevent":
        import gevent

        def start_greenlet(delay: float, fn: Callable, *args) -> Callable[[], None]:
            greenlet = gevent.spawn_later(delay, fn, *args)
            return lambda: greenlet.kill(block=False)

        return start_greenlet

    def start_thread(delay: float, fn: Callable, *args) -> Callable[[], None]:
        timer = threading.Timer(delay, fn, args)
        timer.daemon = True
        timer.start()
        return timer.cancel

    return start_thread


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
            self.close_with = (None, None)  # close code and reason: see close_connection
            eio_socket = getattr(handler, "__self__", None)  # engine.io's Socket
            if eio_socket is not None:
                eio_socket.websocket = self
                if direct:
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

        def close(self):
            # engine.io's writer task, once it has sent everything queued
            if self.ws.connected:
                self.ws.close(*self.close_with)

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
