"""The domain's Broadcaster on top of Flask-SocketIO: socket rooms and server->client events."""

from collections.abc import Iterable

from flask import Flask
from flask_socketio import SocketIO

from . import wire
from .domain.models import Message, Notice, RoomChange

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

    def caught_up(self, sid: str, room: str, upto: int, upto_rev: int) -> None:
        if (ordering := self._ordering) is not None:
            ordering.caught_up(room, sid, upto, upto_rev)

    def message(self, message: Message) -> None:
        # The hot path: the payload is built once per message, however many are in the room.
        self._send("message", wire.message(message), channel(message.room))

    def updated(self, message: Message) -> None:
        self._send("message_updated", wire.message(message), channel(message.room))

    def to_room(self, change: RoomChange, skip_sids: Iterable[str]) -> None:
        name, data = wire.event(change)
        self._send(name, data, channel(change.room), list(skip_sids) or None)

    def notify(self, sids: Iterable[str], notice: Notice) -> None:
        name, data = wire.event(notice)
        for sid in sids:
            self._send(name, data, sid)

    def disconnect(self, sids: Iterable[str]) -> None:
        # With a message queue a connection held by another process is closed there: the
        # queue carries the disconnect after the events published to it before.
        for sid in sids:
            self.socketio.server.disconnect(sid, namespace=NAMESPACE)

    def _send(self, event: str, data: dict, to: str, skip_sids: list[str] | None = None) -> None:
        """Every server->client event leaves through here (acks excepted)."""
        self.socketio.emit(event, data, to=to, namespace=NAMESPACE, skip_sid=skip_sids)


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
