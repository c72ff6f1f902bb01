"""What the server refuses before a handler runs, and how it ends a connection: reserved
event names, packets app/transport/packets.py cannot accept, clients that never connect."""

import logging
import threading
from collections.abc import Callable

from socketio import packet

from ..domain.errors import INVALID, ChatError
from .packets import RefusedPacketError

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
    """Act on the packets JsonOnlyPacket (app/transport/packets.py) refuses, before
    python-socketio buffers or dispatches anything: an event whose only fault is its JSON
    (malformed, or nested too deeply) is answered `invalid` and the connection carries on;
    binary data (which python-socketio would buffer as attachments without limit) and packets
    that cannot be read close the connection."""
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
    a close frame with `code` and `reason` (what a WebSocket client reports; the frame is
    written by app/transport/websocket.py's TunedWebSocket)."""
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
