"""Messages: posting (over a socket, or with no connection), typing, reading history and
changes; editing, deleting and reacting live in app/domain/edits.py."""

from . import rules
from .core import Core
from .edits import MessageChanges
from .errors import NOT_FOUND, RATE_LIMITED, ChatError, MessageGoneError
from .models import Identity, Message, Room, TypingChanged
from .moderation import ModerationService


class MessageService:
    def __init__(self, core: Core, moderation: ModerationService):
        self.core = core
        self.ports = core.ports
        self._changes = MessageChanges(core, moderation)

    # -- edit, delete and react: app/domain/edits.py ----------------------------------------

    def edit(self, sid: str, room_name: str, message_id: int, text: str) -> Message:
        """The author replaces a live message's text; the room gets `message_updated`."""
        return self._changes.edit(sid, room_name, message_id, text)

    def delete(self, sid: str, room_name: str, message_id: int) -> Message:
        """The author or the room's staff make a message a tombstone (`message_updated`)."""
        return self._changes.delete(sid, room_name, message_id)

    def react(self, sid: str, room_name: str, message_id: int, emoji: str, on: bool) -> Message:
        """Add or remove the caller's reaction to a live message (`message_updated`)."""
        return self._changes.react(sid, room_name, message_id, emoji, on)

    # -- posting -----------------------------------------------------------------------------

    def post(
        self,
        sid: str,
        room_name: str,
        text: str,
        client_id: str | None = None,
        reply_to: int | None = None,
    ) -> Message:
        """Store a message in a joined room and broadcast it; a retry (same `client_id`)
        returns the stored original and broadcasts nothing. `reply_to`: the id of a live
        message of the room it answers (`not_found` otherwise)."""
        identity = self.core.identity(sid)
        room_name = rules.check_room_name(room_name)
        text = rules.check_text(text)
        client_id = rules.check_client_id(client_id)
        room = self.core.room_to_speak(sid, identity, room_name)
        return self._store(identity, room, text, client_id, reply_to)[0]

    def post_as(
        self,
        identity: Identity,
        room_name: str,
        text: str,
        client_id: str | None = None,
        reply_to: int | None = None,
    ) -> tuple[Message, bool]:
        """Post with no connection (HTTP API, CLI): the room must already exist and need not
        be joined. Returns the message and True, or the original of a retry and False."""
        room_name = rules.check_room_name(room_name)
        text = rules.check_text(text)
        client_id = rules.check_client_id(client_id)
        room = self.core.room_for(identity, room_name, create=False)
        try:
            return self._store(identity, room, text, client_id, reply_to)
        except ChatError as refused:
            if not refused.disconnect:
                raise
            # Out of strikes means "close the flooding connection", and there is none here.
            raise ChatError(
                RATE_LIMITED,
                f"You are sending too fast; try again in {refused.retry_after:.1f} s.",
                retry_after=refused.retry_after,
            ) from None

    def _store(
        self,
        identity: Identity,
        room: Room,
        text: str,
        client_id: str | None,
        reply_to: int | None = None,
    ) -> tuple[Message, bool]:
        """Store and broadcast a checked message (True), or find the original of a retry."""
        if room.private:
            self.core.check_private_post(identity, room)
        repository = self.ports.repository
        now = self.ports.clock()
        try:
            self.core.throttle.bucket(identity.user_id, "message")
        except ChatError:
            # A retry of a message already stored is answered even while throttled; the
            # lookup is paid only on this refused path, not by every message.
            original = (
                repository.find_by_client_id(room, identity.user_id, client_id)
                if client_id
                else None
            )
            if original is None:
                raise
            return self.core.shown(room.name, [original])[0], False
        # bans and mutes are checked by the store itself, in the statement that stores
        sanctions_at = None if room.private else self.core.standing.now()
        with self.ports.locks(room.name):
            # a retry (same client_id) comes back as the stored original, not stored again
            try:
                stored = repository.add_message(
                    room, identity, text, client_id, now, sanctions_at, reply_to
                )
            except MessageGoneError:
                raise ChatError(
                    NOT_FOUND, f"There is no message {reply_to} in {room.name!r} to reply to."
                ) from None
            if stored is not None:
                message, created = stored
                message = self.core.shown(room.name, [message])[0]
                if created:
                    self.ports.broadcaster.message(message)
        if stored is None:  # banned or muted: why, read outside the room's lock
            raise self.core.standing.post_refusal(identity, room)
        return message, created

    def typing(self, sid: str, room_name: str, typing: bool) -> None:
        """Tell a joined room's other users this one started or stopped typing."""
        identity = self.core.identity(sid)
        room_name = rules.check_room_name(room_name)
        self.core.require_private_member(identity, room_name, speaking=True)
        self.core.require_in_room(sid, room_name)
        self.core.throttle.bucket(identity.user_id, "typing")
        if not rules.is_private_room_name(room_name):
            room = self.ports.repository.known_room(room_name)
            if room is not None:  # one indexed read: typing is never stored, so no statement
                self.core.standing.refuse_if_silenced(identity, room)
        self.ports.broadcaster.to_room(
            TypingChanged(room_name, self.core.name_in(room_name, identity), typing),
            self.ports.presence.sids_of(identity.user_id),
        )

    def history(
        self, sid: str, room_name: str, before: int | None = None, limit: int | None = None
    ) -> tuple[list[Message], bool]:
        """Up to `limit` messages before id `before` (the latest when None), oldest first,
        and whether older ones exist."""
        identity = self.core.identity(sid)
        room = self.core.room_for(identity, rules.check_room_name(room_name), create=False)
        limits = self.core.limits
        limit = min(limit or limits.history_default, limits.history_max)
        if before is None:
            messages, has_more = self.ports.repository.latest(room, limit)
        else:
            messages, has_more = self.ports.repository.before(room, before, limit)
        return self.core.shown(room.name, messages), has_more

    def between(self, room_name: str, after: int, upto: int) -> list[Message]:
        """Stored messages with `after` < id <= `upto`: a message whose broadcast from another
        process has not arrived yet, read back to keep id order."""
        repository = self.ports.repository
        room = repository.get_room(room_name)
        if room is None or upto <= after:
            return []
        messages, _ = repository.after(room, after, upto - after)
        return self.core.shown(room.name, [message for message in messages if message.id <= upto])

    def changes(self, room_name: str, after_rev: int, upto_rev: int) -> list[Message]:
        """The current states (as clients see them) of the room's messages whose latest
        change has `after_rev` < rev <= `upto_rev`, ascending rev: changes whose broadcast
        from another process has not arrived yet, read back to keep rev order."""
        repository = self.ports.repository
        room = repository.get_room(room_name)
        if room is None or upto_rev <= after_rev:
            return []
        # one message per revision at most: the page always holds them all
        messages, _ = repository.changed(
            room, after_rev=after_rev, upto_rev=upto_rev, limit=upto_rev - after_rev
        )
        return self.core.shown(room.name, messages)
