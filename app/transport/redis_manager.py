"""Several processes behind Redis: python-socketio's message queue, delivering each room's
`message` events in id order (it overrides the queue's private `_handle_emit`)."""

import logging
from collections.abc import Callable

import socketio

from ..domain.ordering import RoomSequencer
from ..domain.ports import RoomLocks

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "room:"
NAMESPACE = "/"
SUBSCRIBE_WAIT_SECONDS = 5.0


class OrderedRedisManager(socketio.RedisManager):
    """python-socketio's Redis message queue, with `message` events delivered in id order.

    Two processes may commit ids 5 and 6 of a room and publish them in the other order; a
    join's catch-up may already hold a message whose broadcast is still on its way. Each
    process therefore runs every room's messages through a RoomSequencer: a gap is read back
    from the database (every lower id is committed before a message is published), a
    duplicate is dropped, and joiners are skipped for what their catch-up gave them.
    """

    def __init__(
        self,
        url: str,
        *,
        locks: RoomLocks,
        read_back: Callable[[str, int, int], list[dict]],
        on_start: Callable[[], None],
        channel: str = "flask-chat",
    ):
        super().__init__(url, channel=channel)
        self.locks = locks
        self.read_back = read_back
        self.on_start = on_start
        self.sequencer = RoomSequencer()
        # told (sid, room) when another process takes a connection of this one out of a chat
        # room (a kick, a block): the presence store forgets what it kept of it in memory
        self.on_remote_leave: Callable[[str, str], None] | None = None

    def initialize(self) -> None:
        """Runs on the first connection: subscribe before that client's events are handled,
        so a broadcast published after its join is never missed."""
        super().initialize()
        waited = 0.0
        while not (self.pubsub is not None and self.pubsub.subscribed):
            if waited >= SUBSCRIBE_WAIT_SECONDS:
                log.error("message queue: not subscribed after %s s", SUBSCRIBE_WAIT_SECONDS)
                break
            self.server.sleep(0.01)
            waited += 0.01
        self.on_start()

    def caught_up(self, room: str, sid: str, upto: int, upto_rev: int) -> None:
        self.sequencer.caught_up(room, sid, upto)

    def forget(self, room: str, sid: str) -> None:
        self.sequencer.forget(room, sid)

    def _handle_leave_room(self, message: dict) -> None:
        super()._handle_leave_room(message)
        sid, channel = message.get("sid"), message.get("room")
        if not (isinstance(channel, str) and channel.startswith(CHANNEL_PREFIX)):
            return
        if not self.is_connected(sid, message.get("namespace") or NAMESPACE):
            return  # a connection of another process: its own process forgets it
        room = channel.removeprefix(CHANNEL_PREFIX)
        self.sequencer.forget(room, sid)
        if self.on_remote_leave is not None:
            self.on_remote_leave(sid, room)

    def _handle_emit(self, message: dict) -> None:
        channel = message.get("room")
        if message.get("event") != "message" or not (
            isinstance(channel, str) and channel.startswith(CHANNEL_PREFIX)
        ):
            return super()._handle_emit(message)
        room = channel.removeprefix(CHANNEL_PREFIX)
        if message.get("host_id") == self.host_id:
            # emitted here by MessageService, which holds the room's lock while it does
            return self._deliver_in_order(room, message)
        with self.locks(room):
            self._deliver_in_order(room, message)

    def _deliver_in_order(self, room: str, message: dict) -> None:
        if not self.rooms.get(NAMESPACE, {}).get(message["room"]):
            self.sequencer.drop_room(room)  # no subscriber in this process
            return
        newest = message["data"][0]
        due = self.sequencer.due(room, newest["id"])
        if len(due) > 1:
            missing = self.read_back(room, due.start - 1, due.stop - 2)
            log.info("room %r: read back %d message(s) before id %d", room, len(missing), due[-1])
            for payload in missing:
                self._emit_one(room, message, payload)
        if due:
            self._emit_one(room, message, newest)

    def _emit_one(self, room: str, message: dict, payload: dict) -> None:
        skip = self.sequencer.skip(room, payload["id"])
        super()._handle_emit({**message, "data": [payload], "skip_sid": skip or None})
        self.sequencer.delivered(room, payload["id"])
