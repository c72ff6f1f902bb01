"""WebSocket connections: socket options, a size cap while reading, and under gevent fewer
greenlets per idle connection (no reader greenlet, pings on timers)."""

import socket
import time

import engineio.packet
import engineio.socket
import simple_websocket
from wsproto.utilities import LocalProtocolError

from .frames import PreparedFrame


def tune_websockets(eio_server, max_bytes: int) -> None:
    """Settings engine.io leaves out for WebSocket connections:
    - TCP_NODELAY: a sender gets its own `message` event and then its ack as two small
      writes; with Nagle's algorithm the second waits for the peer's delayed ACK (~40 ms).
    - a frame size cap enforced while reading (close code 1009, "message too big"); engine.io
      alone checks only after buffering the whole message.
    - no permessage-deflate: chat events are a few hundred bytes, and compressing each one
      for each recipient costs more CPU than it saves bandwidth (Node's socket.io server does
      not offer it by default either).
    - under gevent, a way for broadcasts to write a prepared frame at once (`direct_writer`,
      app/transport/frames.py), and no reader greenlet per connection (InlineReadingServer).

    engine.io's WebSocket class must be simple-websocket's (install() checks it first)."""
    base = eio_server._async["websocket"]
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
