"""Interfaces the domain needs from storage and transport, and the bundle they come in."""

import secrets
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from .models import (
    AuditRecord,
    CatchUp,
    Identity,
    ListedSanction,
    Message,
    NewReport,
    Notice,
    Pairing,
    Room,
    RoomChange,
    Sanction,
    Seat,
    utc_now,
)


class ChatRepository(Protocol):
    """Durable rooms and messages (SQL)."""

    def get_room(self, name: str) -> Room | None: ...
    def known_room(self, name: str) -> Room | None:
        """Like get_room, possibly from memory: `last_message_id` may be out of date."""
        ...

    def create_room(
        self, name: str, *, topic: str = "", created_by: int | None = None, private: bool = False
    ) -> Room: ...
    def list_public_rooms(self, *, after: str | None = None, limit: int) -> list[Room]:
        """Public rooms by name: those whose name sorts after `after`, at most `limit`."""
        ...

    def is_member(self, room: Room, user_id: int) -> bool: ...
    def add_member(self, room: Room, user_id: int) -> None: ...
    def other_member(self, room: Room, user_id: int) -> tuple[int, str] | None: ...
    def room_members(self, room: Room) -> list[tuple[int, str]]:
        """The (id, username) of a private room's members."""
        ...

    def direct_rooms_of(self, user_id: int) -> list[tuple[Room, str]]: ...
    def user_by_name(self, username: str) -> tuple[int, str] | None: ...
    def block(self, blocker_id: int, blocked_id: int) -> None: ...
    def unblock(self, blocker_id: int, blocked_id: int) -> None: ...
    def blocked_with(self, user_id: int) -> set[int]:
        """Users who blocked `user_id` or whom `user_id` blocked."""
        ...

    def add_message(
        self,
        room: Room,
        user: Identity,
        text: str,
        client_id: str | None,
        now: datetime,
        unless_sanctioned_at: datetime | None = None,
        reply_to: int | None = None,
    ) -> tuple[Message, bool] | None:
        """Assign the room's next id and rev and commit; returns only once the message is
        durable. A `client_id` this user already used in this room returns that message and
        False (before `reply_to` is looked at). With `unless_sanctioned_at`: None, nothing
        stored, when the user has a ban or mute in the room that is still on at that time
        (checked in the same statement). errors.MessageGoneError, nothing stored, when
        `reply_to` names no message of the room or a deleted one."""
        ...

    def find_by_client_id(self, room: Room, user_id: int, client_id: str) -> Message | None: ...
    def live_replies(self, room: Room, message_id: int) -> int:
        """How many live (not deleted) messages of the room reply to `message_id`."""
        ...

    def message(self, room: Room, message_id: int) -> Message | None:
        """One message by id, in its current state (tombstones too)."""
        ...

    def room_rev(self, room: Room) -> int:
        """The room's current revision, read fresh."""
        ...

    def catch_up(
        self,
        room: Room,
        since: int | None,
        rev: int | None,
        *,
        page: int,
        catch_up_max: int,
        updates_max: int,
    ) -> CatchUp:
        """In one snapshot: the room's revision, its latest `page` messages (no `since`) or
        up to `catch_up_max` after `since`, and (`since` and `rev`) up to `updates_max`
        messages with id <= `since` changed after `rev`, ascending rev."""
        ...

    def changed(
        self,
        room: Room,
        *,
        after_rev: int,
        max_id: int | None = None,
        upto_rev: int | None = None,
        limit: int,
    ) -> tuple[list[Message], bool]:
        """Current states of the messages with rev > `after_rev` (id <= `max_id`, rev <=
        `upto_rev` when given), ascending rev, at most `limit`; and whether more exist."""
        ...

    # Changes: each one committed transaction taking the room's next rev(s). They return
    # (the changed messages: the target, then the replies whose quote changed; True), or
    # ([the target's current state], False) when nothing changed (no rev taken). Refusals:
    # errors.MessageGoneError (no such message; deleted, except for delete),
    # NotAuthorError, SanctionedError (a ban or mute on at the given time; for delete a
    # ban only), TooManyReactionsError.

    def edit_message(
        self,
        room: Room,
        message_id: int,
        user_id: int,
        text: str,
        now: datetime,
        unless_sanctioned_at: datetime | None = None,
    ) -> tuple[list[Message], bool]: ...
    def delete_message(
        self,
        room: Room,
        message_id: int,
        user_id: int,
        now: datetime,
        *,
        any_author: bool = False,
        unless_banned_at: datetime | None = None,
    ) -> tuple[list[Message], bool]: ...
    def react(
        self,
        room: Room,
        message_id: int,
        user_id: int,
        emoji: str,
        on: bool,
        *,
        max_emoji: int,
        now: datetime,
        unless_sanctioned_at: datetime | None = None,
    ) -> tuple[list[Message], bool]: ...
    def latest(self, room: Room, limit: int) -> tuple[list[Message], bool]: ...
    def after(self, room: Room, since: int, limit: int) -> tuple[list[Message], bool]: ...
    def before(self, room: Room, before: int, limit: int) -> tuple[list[Message], bool]: ...


class PairStore(Protocol):
    """Stranger chat's waiting queue and current pairs (shared by all processes when scaled).
    `now` is the domain's wall clock (epoch seconds), so every process agrees on windows."""

    def match(
        self, me: Seat, excluded: set[int], room: str, now: float, rematch_seconds: float
    ) -> Seat | None:
        """Atomically: pair `me` with the longest-waiting acceptable user (not `me`, not in
        `excluded`, nobody paired with `me` within the last `rematch_seconds`) in `room`, or
        queue `me`."""
        ...

    def pairing_of(self, user_id: int) -> Pairing | None: ...
    def recent_pairing(self, user_id: int) -> Pairing | None:
        """The user's current pair, else the most recent one (also ended)."""
        ...

    def end_pair(self, user_id: int, now: float) -> Pairing | None:
        """Dissolve the user's pair; returns it, as seen by that user. The two count as
        paired until `now` for the rematch window."""
        ...

    def leave_queue(self, user_id: int, sid: str | None = None) -> bool:
        """Stop waiting (only if waiting from `sid`, when given)."""
        ...


class ReportStore(Protocol):
    """Users' reports of other users, kept for the admins."""

    def add(self, report: NewReport) -> int:
        """Store a report (committed before it returns); its id."""
        ...

    def reporters_since(self, reported_id: int, since: datetime) -> int:
        """How many different users reported `reported_id` after `since` and after an admin
        last reviewed a report about them."""
        ...


class AuditLog(Protocol):
    def record(self, entry: AuditRecord) -> None:
        """Store one moderation or admin action (committed before it returns)."""
        ...


class ModerationRepository(Protocol):
    """Who runs public rooms (owners, moderators, admins) and who is banned or muted there."""

    def is_admin(self, user_id: int) -> bool: ...
    def owner_of(self, room: Room) -> int | None:
        """The id of the user who created the room, if any."""
        ...

    def is_moderator(self, room: Room, user_id: int) -> bool: ...
    def staff(
        self, room_ids: list[int], viewer_id: int | None = None, now: datetime | None = None
    ) -> tuple[dict[int, tuple[str | None, tuple[str, ...]]], bool, dict[int, datetime]]:
        """Per room id: the owner's username (or None) and the moderators' usernames sorted
        ignoring case; whether `viewer_id` is an admin; and (given `now`) per room id where
        `viewer_id` is muted at `now`, when that mute ends. One round trip, whatever the
        number of rooms."""
        ...

    def set_moderator(self, room: Room, user_id: int, moderator: bool) -> None: ...
    def set_topic(self, room: Room, topic: str) -> None: ...
    def sanction(
        self,
        room: Room,
        user_id: int,
        sanction: Sanction,
        by_user_id: int | None,
    ) -> None:
        """Store a ban or mute, replacing the user's earlier one of that kind in the room."""
        ...

    def lift(self, room: Room, user_id: int, kind: str) -> None: ...
    def sanctions(self, room: Room, user_id: int, now: datetime) -> list[Sanction]:
        """The user's bans and mutes in the room still on at `now`."""
        ...

    def listed_sanctions(self, room: Room, now: datetime, limit: int) -> list[ListedSanction]:
        """The room's bans and mutes still on at `now`, newest imposed first, at most
        `limit`, with the names of the users and of who imposed them. One query."""
        ...


class Scheduler(Protocol):
    def call_later(self, delay: float, fn: Callable[..., None], *args) -> None: ...


class PresenceStore(Protocol):
    """Which connection belongs to whom and sits in which rooms."""

    def add_connection(self, sid: str, identity: Identity, limit: int = 0) -> bool:
        """Register a connection; with a `limit` > 0, atomically refuse it (False, nothing
        stored) when the user already has that many connections."""
        ...

    def remove_connection(self, sid: str) -> tuple[Identity | None, list[tuple[str, bool]]]:
        """Forget a connection: its identity and, per room it was in, whether its user left."""
        ...

    def identity(self, sid: str) -> Identity | None: ...
    def enter(self, sid: str, room: str) -> bool:
        """Put a connection in a room; True when its user was not present before."""
        ...

    def exit(self, sid: str, room: str) -> bool:
        """Take a connection out of a room; True when its user is no longer present."""
        ...

    def in_room(self, sid: str, room: str) -> bool: ...
    def members(self, room: str) -> list[str]: ...
    def online_count(self, room: str) -> int: ...
    def online_counts(self, rooms: list[str]) -> dict[str, int]:
        """`online_count` of each room, read at once (one round trip when shared)."""
        ...

    def sids_of(self, user_id: int) -> list[str]: ...
    def suspend_user(self, user_id: int) -> list[str]:
        """Mark every connection of the user `suspended` (their identity says so from now
        on) and return them."""
        ...

    def suspend_local(self, user_id: int) -> list[str]:
        """`suspend_user` for this process's own connections of the user only (the
        suspension sweep: each process closes its own); nothing at all when it has none."""
        ...


class RateLimiter(Protocol):
    def hit(self, key: str, rate: float, burst: int) -> float:
        """Take one token; 0.0 when allowed, else the seconds until one is available."""
        ...

    def take(self, key: str, rate: float, burst: int) -> tuple[float, bool]:
        """Take one token: (0.0, False) when allowed. Else (retry_after, early):
        retry_after is the wait rounded up to the ms plus 1 ms (a token is there by then),
        remembered as this key's announced time; `early` is True when this attempt came
        before the time announced by the key's previous refusal (the client ignored it)."""
        ...


class RoomLocks(Protocol):
    def __call__(self, room: str) -> AbstractContextManager:
        """Lock `room`: what one room's writers and its broadcasts take, one at a time."""
        ...


class Broadcaster(Protocol):
    """How the domain reaches connected clients (Socket.IO in production). Events are value
    objects (models.py); the transport gives them their wire form."""

    def subscribe(self, sid: str, room: str) -> None: ...
    def unsubscribe(self, sid: str, room: str) -> None: ...
    def caught_up(self, sid: str, room: str, upto: int, upto_rev: int) -> None:
        """`sid` joined `room` and its catch-up holds every message up to id `upto` and
        every change up to room revision `upto_rev`: room broadcasts of those, still on
        their way from other processes, skip it."""
        ...

    def message(self, message: Message) -> None:
        """`message` to everyone in its room, the sender's connections included."""
        ...

    def updated(self, message: Message) -> None:
        """`message_updated` (its new state after an edit, delete or reaction) to everyone
        in its room, the changer's connections included."""
        ...

    def to_room(self, change: RoomChange, skip_sids: Iterable[str]) -> None:
        """A presence or typing change to everyone in its room but `skip_sids`."""
        ...

    def notify(self, sids: Iterable[str], notice: Notice) -> None:
        """Send `notice` to these connections only."""
        ...

    def disconnect(self, sids: Iterable[str]) -> None:
        """Close these connections (on whichever process holds them), after what was sent
        to them before."""
        ...


@dataclass(slots=True)
class Ports:
    """Everything the chat services reach beyond the domain, handed to them as one."""

    repository: ChatRepository
    presence: PresenceStore
    broadcaster: Broadcaster
    locks: RoomLocks
    limiter: RateLimiter
    pairs: PairStore
    scheduler: Scheduler
    audit: AuditLog
    reports: ReportStore
    moderation: ModerationRepository
    # when a message is stored (naive UTC); and now in epoch seconds (token expiry, windows)
    clock: Callable[[], datetime] = utc_now
    wall_clock: Callable[[], float] = time.time
    # the key of stranger aliases (app/domain/aliases.py): the app derives it from SECRET_KEY
    # so every process agrees; the default is only good for one process
    alias_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
