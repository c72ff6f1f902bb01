"""Runs the suspension sweep (app/domain/suspensions.py) on a background task in each process."""

import logging

from flask import Flask
from flask_socketio import SocketIO

from .domain.suspensions import SuspensionSweep

log = logging.getLogger(__name__)


class SuspensionSweeper:
    """Started by the process's first connection (nothing to close before one); every
    `interval` seconds (0: never) one look of the sweep, inside the app context."""

    def __init__(self, app: Flask, socketio: SocketIO, sweep: SuspensionSweep, interval: float):
        self.app = app
        self.socketio = socketio
        self.sweep = sweep
        self.interval = interval
        self.started = False

    def start(self) -> None:
        if self.started or self.interval <= 0:
            return
        self.started = True
        # a daemon thread or a greenlet: it never keeps a process from exiting
        self.socketio.start_background_task(self._run, self.socketio.server)

    def _run(self, server) -> None:
        while True:
            self.socketio.sleep(self.interval)
            # The extension is shared by every app built in this process (tests build many):
            # once this app's server has been replaced, stop rather than close through the new.
            if self.socketio.server is not server:
                return
            try:
                with self.app.app_context():
                    closed = self.sweep.sweep()
            except Exception:
                log.exception("suspension sweep failed; retrying in %.1f s", self.interval)
                continue
            if closed:
                log.info("suspension sweep closed %d connection(s)", closed)
