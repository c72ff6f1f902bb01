"""Changing messages: edit, delete and react, each stored and broadcast under the room's lock."""

from collections.abc import Callable
from contextlib import contextmanager

from . import rules
from .core import Core
from .errors import (
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    ChatError,
    MessageGoneError,
    NotAuthorError,
    SanctionedError,
    TooManyReactionsError,
)
from .models import AuditRecord, Identity, Message, Room
from .moderation import ModerationService


class MessageChanges:
    """`edit`, `delete` and `react` (docs/protocol.md, "Editing, deleting, reacting,
    replying"). The transport has charged the budget; each checks, in the protocol's order:
    joined (and the standing of `message` in private rooms), the message exists and is not
    deleted, permission, a ban or mute, then the text or emoji rules. A change is stored and
    each changed message (the target, then the replies quoting it) sent as
    `message_updated` under the room's lock; a no-op stores and sends nothing."""

    def __init__(self, core: Core, moderation: ModerationService):
        self.core = core
        self.ports = core.ports
        self.moderation = moderation

    def edit(self, sid: str, room_name: str, message_id: int, text: str) -> Message:
        """The author replaces the text of a live message; returns its new state."""
        identity, room = self._speaking(sid, room_name)
        with self._refusals(identity, room, message_id), self.ports.locks(room.name):
            current = self._live(room, message_id)
            if current.user != identity.username:
                raise ChatError(FORBIDDEN, "Only its author may edit a message.")
            text = self._checked(identity, room, rules.check_text, text)
            if text != current.text:
                self._pay_for_replies(identity, room, message_id)
            changed, done = self.ports.repository.edit_message(
                room,
                message_id,
                identity.user_id,
                text,
                self.ports.clock(),
                self._sanctions_at(room),
            )
            return self._send(room, changed, done)

    def delete(self, sid: str, room_name: str, message_id: int) -> Message:
        """The author (or, in a public room, a moderator and up) makes a message a tombstone;
        returns it. A tombstone is deleted already: answered as it is."""
        identity, room = self._speaking(sid, room_name)
        repository = self.ports.repository
        with self._refusals(identity, room, message_id), self.ports.locks(room.name):
            current = repository.message(room, message_id)
            if current is None:
                raise self._gone(room, message_id)
            author_id = identity.user_id
            own = current.user == identity.username
            if not own:
                found = repository.user_by_name(current.user)
                author_id = found[0] if found else 0
                if not self.moderation.may_delete(identity, room, author_id):
                    raise ChatError(FORBIDDEN, "Only its author or the room's staff may delete it.")
            # a muted user may still delete; a banned one may not
            changed, done = repository.delete_message(
                room,
                message_id,
                identity.user_id,
                self.ports.clock(),
                any_author=not own,
                unless_banned_at=self._sanctions_at(room),
            )
            deleted = self._send(room, changed, done)
        if done and not own:
            self.ports.audit.record(
                AuditRecord(
                    identity.user_id,
                    "delete_message",
                    author_id,
                    room.name,
                    details={"id": message_id},
                )
            )
        return deleted

    def react(self, sid: str, room_name: str, message_id: int, emoji: str, on: bool) -> Message:
        """Add (`on`) or remove the caller's reaction `emoji` to a live message; returns its
        new state."""
        identity, room = self._speaking(sid, room_name)
        with self._refusals(identity, room, message_id), self.ports.locks(room.name):
            self._live(room, message_id)
            emoji = self._checked(identity, room, rules.check_emoji, emoji)
            changed, done = self.ports.repository.react(
                room,
                message_id,
                identity.user_id,
                emoji,
                on,
                max_emoji=self.core.limits.max_reactions,
                now=self.ports.clock(),
                unless_sanctioned_at=self._sanctions_at(room),
            )
            return self._send(room, changed, done)

    # -- steps -----------------------------------------------------------------------------

    def _speaking(self, sid: str, room_name: str) -> tuple[Identity, Room]:
        """The caller and the room, once this connection has joined it with the standing
        `message` needs (a member of a private room; no block; a live stranger pair)."""
        identity = self.core.identity(sid)
        room = self.core.room_to_speak(sid, identity, rules.check_room_name(room_name))
        if room.private:
            self.core.check_private_post(identity, room)
        return identity, room

    def _live(self, room: Room, message_id: int) -> Message:
        """The message as stored (real usernames); `not_found` when missing or deleted."""
        current = self.ports.repository.message(room, message_id)
        if current is None or current.deleted:
            raise self._gone(room, message_id)
        return current

    def _checked(self, identity: Identity, room: Room, rule: Callable[[str], str], value: str):
        """`value` by its rule; a ban or mute is refused before a broken rule (the store
        checks them on the way in, so this read is paid only when the rule fails)."""
        try:
            return rule(value)
        except ChatError:
            if not room.private:
                self.core.standing.refuse_if_silenced(identity, room)
            raise

    def _pay_for_replies(self, identity: Identity, room: Room, message_id: int) -> None:
        """An edit changes the quote of every live reply (a rev and a broadcast each): one
        `message` token more per `replies_per_token` of them, so a message with many replies
        cannot turn one cheap edit into a storm; past one burst's worth, `forbidden`."""
        replies = self.ports.repository.live_replies(room, message_id)
        if not replies:
            return
        per_token = self.core.limits.replies_per_token
        extra = -(-replies // per_token)
        burst = self.core.limits.budgets.message.burst
        if 1 + extra > burst:
            raise ChatError(
                FORBIDDEN,
                f"{replies} replies quote this message: one quoted by more than "
                f"{(burst - 1) * per_token} can no longer be edited.",
            )
        for _ in range(extra):
            self.core.throttle.bucket(identity.user_id, "message")

    def _sanctions_at(self, room: Room):
        # private rooms have no bans or mutes: no check in the statement
        return None if room.private else self.core.standing.now()

    def _send(self, room: Room, changed: list[Message], done: bool) -> Message:
        """The changed messages as clients see them, each sent as `message_updated` when
        `done` (under the room's lock, in rev order); the target's state."""
        shown = self.core.shown(room.name, changed)
        if done:
            for message in shown:
                self.ports.broadcaster.updated(message)
        return shown[0]

    @staticmethod
    def _gone(room: Room, message_id: int) -> ChatError:
        return ChatError(NOT_FOUND, f"There is no message {message_id} in {room.name!r}.")

    @contextmanager
    def _refusals(self, identity: Identity, room: Room, message_id: int):
        """The store's refusals as the client's errors (a sanction's reason read after the
        room's lock is let go: this wraps the lock)."""
        try:
            yield
        except MessageGoneError:
            raise self._gone(room, message_id) from None
        except NotAuthorError:
            raise ChatError(FORBIDDEN, "That message is someone else's.") from None
        except SanctionedError:
            raise self.core.standing.post_refusal(identity, room) from None
        except TooManyReactionsError:
            limit = self.core.limits.max_reactions
            raise ChatError(
                INVALID, f"A message has at most {limit} different reactions."
            ) from None
