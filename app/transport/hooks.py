"""The library internals app/transport/ hooks, and the start-up check that each one exists."""

from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import version

import engineio.socket
import simple_websocket
import socketio

LIBRARIES = ("python-socketio", "python-engineio", "simple-websocket", "gevent")


@dataclass(frozen=True)
class Hook:
    """One private attribute a transport module wraps, overrides or relies on."""

    library: str  # the distribution that owns it
    owner: str  # its class (or table), as named in messages
    name: str
    needed_by: str  # the module under app/transport/ that hooks it
    find: Callable[[socketio.Server], object]  # the object that must have it
    has: Callable[[object, str], bool] = hasattr
    gevent_only: bool = False  # needed only when the server runs under gevent
    note: str = ""  # what else it must be, for the message

    def present(self, server: socketio.Server) -> bool:
        try:
            return self.has(self.find(server), self.name)
        except (AttributeError, KeyError, ImportError):  # its owner is gone too
            return False

    def __str__(self) -> str:
        return f"{self.library} {self.owner}.{self.name}{self.note}"


def _server(server: socketio.Server) -> socketio.Server:
    return server


def _engineio_server(server: socketio.Server) -> object:
    return server.eio


def _async_table(server: socketio.Server) -> dict:
    return server.eio._async


def _simple(table: dict, name: str) -> bool:
    """engine.io's WebSocket class is simple-websocket's, the one TunedWebSocket extends (not
    gevent-websocket's, which engine.io prefers when it is installed)."""
    from engineio.async_drivers._websocket_wsgi import SimpleWebSocketWSGI

    websocket = table.get(name)
    return isinstance(websocket, type) and issubclass(websocket, SimpleWebSocketWSGI)


def _gevent_socket(server: socketio.Server) -> type:
    from gevent import socket as gevent_socket

    return gevent_socket.socket


def _pubsub_manager(server: socketio.Server) -> type:
    return socketio.PubSubManager


def _engineio_socket(server: socketio.Server) -> type:
    return engineio.socket.Socket


def _simple_websocket_server(server: socketio.Server) -> type:
    return simple_websocket.Server


SIO, EIO, SWS = "python-socketio", "python-engineio", "simple-websocket"
SIMPLE = " (simple-websocket's SimpleWebSocketWSGI)"
GEVENT = {"gevent_only": True}

# (library, owner, attribute, the module that hooks it, where to look)
HOOKS = (
    Hook(SIO, "Server", "_handle_event", "refusals.py", _server),
    Hook(SIO, "Server", "_handle_eio_message", "refusals.py", _server),
    Hook(SIO, "Server", "_handle_eio_connect", "refusals.py", _server),
    Hook(SIO, "Server", "_handle_eio_disconnect", "refusals.py", _server),
    Hook(SIO, "Server", "_send_packet", "refusals.py", _server),
    Hook(SIO, "Server", "_handle_event_internal", "acks.py", _server),
    Hook(SIO, "Server", "_send_eio_packet", "frames.py", _server, **GEVENT),
    Hook(SIO, "PubSubManager", "_handle_emit", "redis_manager.py", _pubsub_manager),
    Hook(EIO, "Server", "_async", "websocket.py", _engineio_server),
    Hook(EIO, "Server._async", "websocket", "websocket.py", _async_table, _simple, note=SIMPLE),
    Hook(EIO, "Socket", "schedule_ping", "websocket.py", _engineio_socket, **GEVENT),
    Hook(SWS, "Server", "_handle_events", "websocket.py", _simple_websocket_server, **GEVENT),
    Hook("gevent", "socket", "_sock", "frames.py", _gevent_socket, **GEVENT),
)


class MissingHookError(RuntimeError):
    """The installed libraries lack internals app/transport/ hooks: the app must not start."""


def missing_hooks(server: socketio.Server, hooks: tuple[Hook, ...] = HOOKS) -> list[Hook]:
    """The hooks in `hooks` that `server` (and the libraries installed) do not have; gevent-only
    ones are looked for when the server runs under gevent."""
    gevent = server.eio.async_mode == "gevent"
    return [hook for hook in hooks if (gevent or not hook.gevent_only) and not hook.present(server)]


def check_hooks(server: socketio.Server, hooks: tuple[Hook, ...] = HOOKS) -> None:
    """Raise MissingHookError naming every hook `server` lacks, and the versions installed."""
    missing = missing_hooks(server, hooks)
    if not missing:
        return
    lines = [f"{hook} is missing: app/transport/{hook.needed_by} needs it" for hook in missing]
    installed = ", ".join(f"{name} {_version(name)}" for name in LIBRARIES)
    raise MissingHookError(
        "; ".join(lines) + f". Installed: {installed}; the versions pinned in pyproject.toml "
        "are the ones app/transport/ is written for."
    )


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except Exception:  # not installed, or no metadata: the message still names the rest
        return "(not installed)"
