"""Value objects the domain hands around and broadcasts (wire forms: app/wire.py)."""

from dataclasses import dataclass, field
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is behind a connection; `expires_at` (epoch seconds) when a token vouched for it;
    `suspended` once an admin suspended the account (its events are then `unauthorized`)."""

    user_id: int
    username: str
    expires_at: float | None = None
    suspended: bool = False


@dataclass(frozen=True, slots=True)
class Room:
    id: int
    name: str
    topic: str
    private: bool
    last_message_id: int | None

    @property
    def kind(self) -> str:
        """public, dm (direct messages) or pair (stranger chat), from the name's prefix."""
        prefix, colon, _ = self.name.partition(":")
        return prefix if colon else "public"


@dataclass(frozen=True, slots=True)
class Seat:
    """A user's place in stranger chat: who, and the connection that asked."""

    user_id: int
    username: str
    sid: str


@dataclass(frozen=True, slots=True)
class Pairing:
    """A stranger pair as one of its two users sees it: its room, and the other user."""

    room: str
    partner: Seat


@dataclass(frozen=True, slots=True)
class ReplyQuote:
    """What a reply shows of the message it answers: its current text, cut to 200 characters
    ("" once that message is deleted)."""

    id: int
    user: str
    text: str
    deleted: bool = False


# emoji -> who reacted (sorted ignoring case), emoji in the order first added
Reactions = tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class Message:
    """A message in its current state; `rev` is the room revision of its latest change."""

    id: int
    room: str
    user: str
    text: str
    ts: datetime
    client_id: str | None
    reply_to: ReplyQuote | None = None
    edited_at: datetime | None = None
    deleted: bool = False
    reactions: Reactions = ()
    rev: int = 0


# -- what the services return --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RoomSummary:
    """A room as one user sees it: private rooms name the other member (`with_user`, None
    when there is none), pair rooms say whether that stranger chat is still `active`."""

    name: str
    topic: str
    kind: str
    private: bool
    with_user: str | None = None
    active: bool | None = None
    # who runs a public room (None and () in private rooms), and the viewer's role there
    owner: str | None = None
    moderators: tuple[str, ...] = ()
    role: str = "member"
    # when the viewer's mute there ends (naive UTC), None when not muted
    muted_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class CatchUp:
    """What a join reads of a room, all in one snapshot of the database: its revision then,
    its latest page or the messages after `since`, and the messages up to `since` changed
    after a client's revision (ascending rev)."""

    rev: int
    messages: list[Message]
    has_more: bool
    updates: list[Message]
    updates_truncated: bool


@dataclass(frozen=True, slots=True)
class JoinResult:
    """A join (or a DM opened): the room, who is in it, the first page of messages, and the
    changes a client holding `since` and `rev` missed."""

    room: RoomSummary
    members: list[str]
    messages: list[Message]
    has_more: bool
    # `join` with `since` and `rev`: messages up to `since` changed since `rev` (ascending
    # rev), and whether there were more than one ack holds
    updates: list[Message] = field(default_factory=list)
    updates_truncated: bool = False
    # the room revision this result covers (every change up to it is in it)
    rev: int = 0


@dataclass(frozen=True, slots=True)
class ListedRoom:
    """One entry of the room list: a room, how many users are online in it, for a DM the
    other member's name; its staff, and the viewer's role and mute there."""

    room: Room
    online: int
    with_user: str | None = None
    owner: str | None = None
    moderators: tuple[str, ...] = ()
    role: str = "member"
    muted_until: datetime | None = None


@dataclass(frozen=True, slots=True)
class RoomsPage:
    """A page of the room list, and the name to page on from (None: the last page)."""

    rooms: list[ListedRoom]
    next_after: str | None


# -- what the services broadcast (app/broadcast.py sends them) -----------------------------


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """`user` joined or left `room` (status: presence.JOINED or presence.LEFT)."""

    room: str
    user: str
    status: str


@dataclass(frozen=True, slots=True)
class TypingChanged:
    room: str
    user: str
    typing: bool


@dataclass(frozen=True, slots=True)
class DmOpened:
    """`user` opened (or, by unblocking, reopened) the DM room `room` with the recipient."""

    room: str
    user: str


@dataclass(frozen=True, slots=True)
class PartnerFound:
    """A stranger pair was made: its room, and the two aliases as the recipient sees them."""

    room: str
    partner: str
    you: str


@dataclass(frozen=True, slots=True)
class PartnerLeft:
    room: str


@dataclass(frozen=True, slots=True)
class AccountSuspended:
    """Sent to every connection of a user just suspended, right before it is closed."""


@dataclass(frozen=True, slots=True)
class RoomUpdated:
    """A public room's topic or staff changed (`room`: its summary; its role is not sent)."""

    summary: RoomSummary

    @property
    def room(self) -> str:
        return self.summary.name


@dataclass(frozen=True, slots=True)
class Kicked:
    """The recipient was kicked (or, `banned`, banned until `until`; None: until lifted)."""

    room: str
    by: str
    reason: str | None
    banned: bool = False
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class Muted:
    room: str
    by: str
    until: datetime
    reason: str | None


@dataclass(frozen=True, slots=True)
class Unmuted:
    room: str


# Sent to a room's subscribers (besides messages), and to chosen connections.
RoomChange = PresenceChanged | TypingChanged | RoomUpdated
Notice = DmOpened | PartnerFound | PartnerLeft | AccountSuspended | Kicked | Muted | Unmuted


def utc_now() -> datetime:
    """Now in UTC, naive, cut to milliseconds so a stored time reads back identically."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One moderation or admin action for the audit log. `actor_id` None: the `flask` CLI;
    `details`: what else matters (role, minutes, until, topic), JSON-serialisable."""

    actor_id: int | None
    action: str
    target_id: int | None = None
    room: str | None = None
    reason: str | None = None
    details: dict | None = None


@dataclass(frozen=True, slots=True)
class NewReport:
    """A user's report of another, for the admins: `context` holds the messages kept with it
    (real usernames: admins read them); `created_at` is naive UTC."""

    reporter_id: int
    reported_id: int
    reason: str
    created_at: datetime
    room: str | None = None
    message_id: int | None = None
    context: tuple[Message, ...] = ()


@dataclass(frozen=True, slots=True)
class Sanction:
    """A ban or mute of a user in a public room, until `until` (naive UTC; None: until lifted)."""

    kind: str  # "ban" | "mute"
    until: datetime | None
    reason: str | None = None
    # when it was imposed (naive UTC); None when storing one: the store's clock
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ListedSanction:
    """A ban or mute still on in a room, as its moderators list it (`sanctions`): whom,
    which, until when (None: until lifted), why, by whom (None: that user is gone), when."""

    user: str
    kind: str  # "ban" | "mute"
    until: datetime | None
    reason: str | None
    by: str | None
    at: datetime
