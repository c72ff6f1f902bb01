"""Several processes behind Redis: python-socketio's message queue, delivering each room's
changes in revision order (it overrides the queue's private `_handle_emit`)."""

import logging
from collections.abc import Callable

import socketio

from ..domain.ordering import NEW, UPDATED, ReadBack, RoomSequencer
from ..domain.ports import RoomLocks

log = logging.getLogger(__name__)

CHANNEL_PREFIX = "room:"
NAMESPACE = "/"
SUBSCRIBE_WAIT_SECONDS = 5.0


class OrderedRedisManager(socketio.RedisManager):
    """python-socketio's Redis message queue, with each room's `message` and
    `message_updated` events delivered in revision order.

    Two processes may commit revisions 5 and 6 of a room and publish them in the other
    order; a join's catch-up may already hold a change whose broadcast is still on its way.
    Each process therefore runs every room's changes through a RoomSequencer: a gap is read
    back from the database (every lower revision is committed before a change is
    published), a duplicate is dropped, and joiners are skipped for what their catch-up
    gave them.
    """

    def __init__(
        self,
        url: str,
        *,
        locks: RoomLocks,
        read_back: ReadBack,
        read_changes: ReadBack,
        on_start: Callable[[], None],
        channel: str = "flask-chat",
    ):
        super().__init__(url, channel=channel)
        self.locks = locks
        self.read_back = read_back  # messages by id: (room, after, before)
        self.read_changes = read_changes  # changes by revision: (room, after, before)
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
        self.sequencer.caught_up(room, sid, upto, upto_rev)

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
        if message.get("event") not in (NEW, UPDATED) or not (
            isinstance(channel, str) and channel.startswith(CHANNEL_PREFIX)
        ):
            return super()._handle_emit(message)
        room = channel.removeprefix(CHANNEL_PREFIX)
        if message.get("host_id") == self.host_id:
            # emitted here by the message services, which hold the room's lock while they do
            return self._deliver_in_order(room, message)
        with self.locks(room):
            self._deliver_in_order(room, message)

    def _deliver_in_order(self, room: str, message: dict) -> None:
        if not self.rooms.get(NAMESPACE, {}).get(message["room"]):
            self.sequencer.drop_room(room)  # no subscriber in this process
            return
        deliveries = self.sequencer.deliver(
            room, message["event"], message["data"][0], self.read_changes, self.read_back
        )
        read = len(deliveries) - 1
        if read > 0:
            log.info(
                "room %r: read back %d change(s) for revision %s",
                room,
                read,
                message["data"][0]["rev"],
            )
        for event, payload, skip in deliveries:
            super()._handle_emit(
                {**message, "event": event, "data": [payload], "skip_sid": skip or None}
            )
