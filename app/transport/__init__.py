"""The one seam to python-socketio, python-engineio and simple-websocket internals: install().

Every override of a library's private attributes lives in this package, one module per
concern; hooks.py lists each attribute hooked, and install() refuses to start without them.
What the overrides do is tested through the server (tests/test_transport_limits.py,
tests/test_fuzz.py, tests/reliability); the seam itself by tests/test_transport_seam.py.
"""

import weakref
from collections.abc import Callable, Mapping

from flask_socketio import SocketIO

from .acks import AckOrderedRoomLocks, hold_room_locks, release_held_locks_after_ack
from .frames import write_broadcasts_directly
from .hooks import MissingHookError, check_hooks
from .origins import origin_policy
from .packets import JsonOnlyPacket
from .redis_manager import OrderedRedisManager
from .refusals import close_unconnected, refuse_reserved_event_names, refuse_unreadable_packets
from .websocket import schedule_pings_on_timers, tune_websockets

__all__ = [
    "AckOrderedRoomLocks",
    "JsonOnlyPacket",
    "MissingHookError",
    "OrderedRedisManager",
    "hold_room_locks",
    "install",
    "origin_policy",
]

NAMESPACE = "/"

# Servers install() has run on (Flask-SocketIO makes a new one for each init_app).
_installed: weakref.WeakSet = weakref.WeakSet()


def install(
    socketio: SocketIO,
    *,
    handlers: Mapping[str, Callable],
    refuse_stray_event: Callable[[str, object], dict],
    max_packet_bytes: int,
    connect_timeout: float,
) -> None:
    """Adjust the server `socketio.init_app` just made, once: check every hooked internal
    exists (MissingHookError names each one missing, so the app does not start), install the
    overrides in the order below, and register `handlers` (event name -> `fn(sid, *args)`).

    `refuse_stray_event(sid, name) -> ack` answers events named like a lifecycle event (or
    not named by a string);
    `max_packet_bytes` caps a WebSocket frame while it is read; `connect_timeout` (seconds, 0:
    none) closes connections that never complete the Socket.IO connect. Installing twice on
    one server raises RuntimeError: every wrapper would run twice."""
    server = socketio.server
    if server in _installed:
        raise RuntimeError("app.transport.install() has already run on this Socket.IO server")
    check_hooks(server)
    _installed.add(server)

    # engine.io's side first: how WebSocket connections are read, written and pinged.
    tune_websockets(server.eio, max_packet_bytes)
    schedule_pings_on_timers(server.eio)
    write_broadcasts_directly(server)
    # Then around each event: reserved names are refused before dispatch; handlers run and
    # ack before the room locks they kept are freed.
    refuse_reserved_event_names(server, refuse_stray_event)
    release_held_locks_after_ack(server)
    # Last, around each engine.io message, in this order: close_unconnected's wrapper calls
    # the one refuse_unreadable_packets installs, so a refused packet is answered or closed
    # there and never reaches the connect-timeout bookkeeping as an exception.
    refuse_unreadable_packets(server)
    close_unconnected(server, connect_timeout)

    # python-socketio's public `on`, not Flask-SocketIO's: that one pushes a full request
    # context for every event (about 60 µs, docs/performance.md); these handlers push only
    # the app context they need.
    for event, handler in handlers.items():
        server.on(event, handler, namespace=NAMESPACE)
