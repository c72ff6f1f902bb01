"""The domain's Broadcaster on top of Flask-SocketIO: socket rooms and server->client events."""

from collections.abc import Iterable

from flask import Flask
from flask_socketio import SocketIO

from .domain.models import Message

NAMESPACE = "/"


def channel(room: str) -> str:
    """The Socket.IO room behind a chat room; the prefix keeps it apart from sid rooms."""
    return f"room:{room}"


class SocketIOBroadcaster:
    def __init__(self, socketio: SocketIO):
        self.socketio = socketio

    @property
    def _ordering(self):
        """The message queue's per-room ordering, when several processes share one (Redis)."""
        manager = self.socketio.server.manager
        return manager if hasattr(manager, "caught_up") else None

    def subscribe(self, sid: str, room: str) -> None:
        self.socketio.server.enter_room(sid, channel(room), namespace=NAMESPACE)

    def unsubscribe(self, sid: str, room: str) -> None:
        self.socketio.server.leave_room(sid, channel(room), namespace=NAMESPACE)
        if (ordering := self._ordering) is not None:
            ordering.forget(room, sid)

    def caught_up(self, sid: str, room: str, upto: int) -> None:
        if (ordering := self._ordering) is not None:
            ordering.caught_up(room, sid, upto)

    def message(self, message: Message) -> None:
        self.socketio.emit("message", message.to_dict(), to=channel(message.room), namespace="/")

    def presence(self, room: str, user: str, status: str, skip_sids: Iterable[str]) -> None:
        self._emit("presence", {"room": room, "user": user, "status": status}, room, skip_sids)

    def typing(self, room: str, user: str, typing: bool, skip_sids: Iterable[str]) -> None:
        self._emit("typing", {"room": room, "user": user, "typing": typing}, room, skip_sids)

    def notify(self, sids: Iterable[str], event: str, data: dict) -> None:
        for sid in sids:
            self.socketio.emit(event, data, to=sid, namespace=NAMESPACE)

    def _emit(self, event: str, data: dict, room: str, skip_sids: Iterable[str]) -> None:
        self.socketio.emit(
            event, data, to=channel(room), namespace=NAMESPACE, skip_sid=list(skip_sids) or None
        )


class SocketIOScheduler:
    """Runs a domain callback later on a Socket.IO background task, inside the app context."""

    def __init__(self, socketio: SocketIO, app: Flask):
        self.socketio = socketio
        self.app = app

    def call_later(self, delay: float, fn, *args) -> None:
        server = self.socketio.server

        def run() -> None:
            self.socketio.sleep(delay)
            # The extension is shared by every app built in this process (tests build many):
            # a call scheduled by an app whose server has since been replaced must not emit
            # through the new one.
            if self.socketio.server is not server:
                return
            with self.app.app_context():
                fn(*args)

        self.socketio.start_background_task(run)
