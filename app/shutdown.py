"""Graceful shutdown: on SIGTERM close every client (they reconnect), finish in-flight events."""

import _thread
import logging
import os
import signal
import threading
import time
from contextlib import contextmanager

from flask import Flask
from flask_socketio import SocketIO

log = logging.getLogger(__name__)
EXIT_GRACE_SECONDS = 3.0


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


def drain_when_gunicorn_stops(worker) -> None:
    """gunicorn's SIGTERM only stops accepting and waits for open requests, and a WebSocket
    stays open until its client leaves: drain as well, so clients move on at once."""
    app = worker.wsgi
    stop_worker = worker.handle_exit

    def stop_and_drain(signum, frame) -> None:
        stop_worker(signum, frame)
        log.info("SIGTERM received: draining connections")
        socketio = app.extensions["socketio"]
        socketio.start_background_task(drain, socketio, app.extensions["in_flight"])

    worker.handle_exit = stop_and_drain
    signal.signal(signal.SIGTERM, stop_and_drain)


def install_sigterm_handler(app: Flask, socketio: SocketIO) -> bool:
    """For `flask run`: SIGTERM drains, then stops the server. Servers that handle SIGTERM
    themselves (gunicorn) are left alone."""
    if threading.current_thread() is not threading.main_thread():
        return False
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return False
    requested = threading.Event()

    def drain_then_stop() -> None:
        requested.wait()
        log.info("SIGTERM received: shutting down gracefully")
        drain(socketio, app.extensions["in_flight"])
        # werkzeug's serve_forever ends quietly on KeyboardInterrupt and closes its socket
        _thread.interrupt_main()
        # Connections opened during the drain keep non-daemon WebSocket threads alive, which
        # would hold the exit until their ping timeout; everything acknowledged is stored.
        time.sleep(EXIT_GRACE_SECONDS)
        log.info("shutdown: connections still open after %s s, exiting", EXIT_GRACE_SECONDS)
        os._exit(0)

    # The handler itself only sets a flag: the main thread may be stopped anywhere (inside
    # Thread.start(), holding its locks), so the real work runs on a thread started now.
    threading.Thread(target=drain_then_stop, name="graceful-shutdown", daemon=True).start()
    signal.signal(signal.SIGTERM, lambda signum, frame: requested.set())
    return True
