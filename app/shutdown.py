"""Graceful shutdown: on SIGTERM close every client (they reconnect), finish in-flight events."""

import _thread
import itertools
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from contextlib import contextmanager
from types import FrameType

from flask import Flask
from flask_socketio import SocketIO

log = logging.getLogger(__name__)
EXIT_GRACE_SECONDS = 3.0
SignalHandler = Callable[[int, FrameType | None], None]


class InFlight:
    """Counts event handlers running now, so shutdown can wait for their commits and acks."""

    def __init__(self):
        self._lock = threading.Lock()
        self._count = 0
        self._idle = threading.Event()
        self._idle.set()

    @contextmanager
    def track(self):
        with self._lock:
            self._count += 1
            self._idle.clear()
        try:
            yield
        finally:
            with self._lock:
                self._count -= 1
                if self._count == 0:
                    self._idle.set()

    def wait_idle(self, timeout: float) -> bool:
        return self._idle.wait(timeout)


def drain(socketio: SocketIO, in_flight: InFlight, timeout: float = 10.0) -> None:
    """Close all connections so that clients reconnect (to another process, or to this one
    restarted), then wait for handlers already running to store and ack."""
    started = time.monotonic()
    eio = socketio.server.eio
    sockets = list(eio.sockets.values())
    for sock in sockets:
        # abort: no engine.io CLOSE packet, which some clients (python-socketio) take as "do
        # not come back"; the WebSocket itself is closed, and every client reconnects after
        # a dropped connection. wait=False: engine.io's wait joins the socket's send queue,
        # which never finishes if that connection's writer already stopped.
        sock.close(wait=False, abort=True, reason=eio.reason.SERVER_DISCONNECT)
    finished = in_flight.wait_idle(timeout)
    log.info(
        "shutdown: closed %d connections, in-flight events %s in %.2f s",
        len(sockets),
        "finished" if finished else "still running",
        time.monotonic() - started,
    )


def first_sigterm_only(action: SignalHandler) -> SignalHandler:
    """A SIGTERM handler that runs `action` for the first SIGTERM only and ignores every later
    one (the shutdown it started is under way, and bounded). Safe against a signal landing
    anywhere, including inside itself, as long as `action` takes no lock and never blocks."""
    calls = itertools.count()

    def handler(signum: int, frame: FrameType | None) -> None:
        # Python runs a handler between two bytecodes of whatever the main thread was doing,
        # and runs it again, nested, if another signal arrives meanwhile: a lock taken here
        # (Event.set, logging) could be held by the code it interrupted, or by itself. The
        # check is one C call, so a nested run cannot slip in between check and mark.
        if next(calls):
            return
        # Ignored from now on, also while the interpreter finalises (which would restore
        # the default action and let a late SIGTERM kill a process that is exiting cleanly).
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        action(signum, frame)

    return handler


def drain_when_gunicorn_stops(worker) -> None:
    """gunicorn's SIGTERM only stops accepting and waits for open requests, and a WebSocket
    stays open until its client leaves: drain as well, so clients move on at once."""
    app = worker.wsgi
    stop_worker = worker.handle_exit
    socketio = app.extensions["socketio"]

    def drain_logged() -> None:
        log.info("SIGTERM received: draining connections")
        drain(socketio, app.extensions["in_flight"])

    def stop_and_drain(signum: int, frame: FrameType | None) -> None:
        # This may run inside gevent's hub, where blocking (logging's lock) is an error:
        # only flag the worker (an attribute) and spawn a greenlet, as gunicorn's own
        # gevent worker does with its signals; the drain and its log lines run there.
        stop_worker(signum, frame)
        socketio.start_background_task(drain_logged)

    handler = first_sigterm_only(stop_and_drain)
    worker.handle_exit = handler
    signal.signal(signal.SIGTERM, handler)


def install_sigterm_handler(app: Flask, socketio: SocketIO) -> bool:
    """For `flask run`: SIGTERM drains, then stops the server. Servers that handle SIGTERM
    themselves (gunicorn) are left alone."""
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return False
    # The handler only writes a byte to this pipe (no lock, never blocks: the write end is
    # non-blocking and one byte fits); the work runs on a thread started now, which reads it.
    wake_read, wake_write = os.pipe()
    os.set_blocking(wake_write, False)

    def drain_then_stop() -> None:
        os.read(wake_read, 1)
        log.info("SIGTERM received: shutting down gracefully")
        drain(socketio, app.extensions["in_flight"])
        # werkzeug's serve_forever ends quietly on KeyboardInterrupt and closes its socket
        _thread.interrupt_main()
        # Connections opened during the drain keep non-daemon WebSocket threads alive, which
        # would hold the exit until their ping timeout; everything acknowledged is stored.
        time.sleep(EXIT_GRACE_SECONDS)
        log.info("shutdown: connections still open after %s s, exiting", EXIT_GRACE_SECONDS)
        os._exit(0)

    def wake(signum: int, frame: FrameType | None) -> None:
        os.write(wake_write, b"\0")

    threading.Thread(target=drain_then_stop, name="graceful-shutdown", daemon=True).start()
    signal.signal(signal.SIGTERM, first_sigterm_only(wake))
    return True
