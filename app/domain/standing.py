"""Roles and sanctions in public rooms as every service reads them: ranks, staff, bans, mutes."""

from datetime import UTC, datetime

from .errors import FORBIDDEN, ChatError
from .models import Identity, Room, Sanction
from .ports import Ports

MEMBER = "member"
MODERATOR = "moderator"
OWNER = "owner"
ADMIN = "admin"
# Lowest first: nobody acts on someone whose rank is not below their own.
RANKS = {MEMBER: 0, MODERATOR: 1, OWNER: 2, ADMIN: 3}
BAN = "ban"
MUTE = "mute"


def until_text(until: datetime | None) -> str:
    """How a refusal says when a sanction ends."""
    if until is None:
        return "until a moderator lifts it"
    return f"until {until:%Y-%m-%d %H:%M} UTC"


def banned(room: str, until: datetime | None) -> ChatError:
    return ChatError(FORBIDDEN, f"You are banned from #{room} {until_text(until)}.")


def muted(room: str, until: datetime | None) -> ChatError:
    return ChatError(FORBIDDEN, f"You are muted in #{room} {until_text(until)}.")


class Standing:
    """Who runs a public room and who may not speak in it, read for the other services.

    Owners are the rooms' creators, moderators are stored per room, admins are users with
    the admin flag (they rank above owners in every public room). Private rooms have none
    of these: everyone there is a member, and nobody is banned or muted."""

    def __init__(self, ports: Ports):
        self.ports = ports
        self.repository = ports.moderation

    def now(self) -> datetime:
        """The time bans and mutes are checked against: the core's clock, as naive UTC."""
        return datetime.fromtimestamp(self.ports.wall_clock(), UTC).replace(tzinfo=None)

    # -- roles -----------------------------------------------------------------------------

    def rank(self, room: Room, user_id: int, owner_id: int | None) -> str:
        """A user's rank in a public room whose owner is `owner_id`: admin, owner,
        moderator or member."""
        if self.repository.is_admin(user_id):
            return ADMIN
        if user_id == owner_id:
            return OWNER
        if self.repository.is_moderator(room, user_id):
            return MODERATOR
        return MEMBER

    def staff(
        self, rooms: list[Room], viewer: Identity
    ) -> tuple[dict[str, tuple[str | None, tuple[str, ...]]], bool, dict[str, datetime]]:
        """Per room name: its owner's username (or None) and its moderators' usernames
        ((None, ()) for private rooms); whether `viewer` is an admin (which matters in
        public rooms only); and per room name where `viewer` is muted now, when that mute
        ends. One query for any number of rooms, none when all are private."""
        public = [room for room in rooms if not room.private]
        found, admin, muted = (
            self.repository.staff([room.id for room in public], viewer.user_id, self.now())
            if public
            else ({}, False, {})
        )
        names = {room.id: room.name for room in public}
        return (
            {room.name: found.get(room.id, (None, ())) for room in rooms},
            admin,
            {names[room_id]: until for room_id, until in muted.items()},
        )

    @staticmethod
    def role(
        room: Room, username: str, owner: str | None, moderators: tuple[str, ...], admin: bool
    ) -> str:
        """The role a client is shown: "owner" (also for admins: their powers there),
        "moderator" or "member"; always "member" in a private room."""
        if room.private:
            return MEMBER
        if admin or username == owner:
            return OWNER
        return MODERATOR if username in moderators else MEMBER

    # -- sanctions -------------------------------------------------------------------------

    def sanctions(self, identity: Identity, room: Room) -> list[Sanction]:
        if room.private:
            return []
        return self.repository.sanctions(room, identity.user_id, self.now())

    def refuse_if_banned(self, identity: Identity, room: Room) -> None:
        """`forbidden` (saying until when) while the user is banned from the room."""
        for sanction in self.sanctions(identity, room):
            if sanction.kind == BAN:
                raise banned(room.name, sanction.until)

    def refuse_if_silenced(self, identity: Identity, room: Room) -> None:
        """`forbidden` while the user is banned from or muted in the room."""
        refusal = self._refusal(self.sanctions(identity, room), room)
        if refusal is not None:
            raise refusal

    def post_refusal(self, identity: Identity, room: Room) -> ChatError:
        """Why a post the store refused (a sanction on at that time) was refused."""
        found = self._refusal(self.sanctions(identity, room), room)
        # the sanction ran out or was lifted between the store's check and this read
        return found or ChatError(FORBIDDEN, f"You may not post in #{room.name} right now.")

    @staticmethod
    def _refusal(sanctions: list[Sanction], room: Room) -> ChatError | None:
        for kind, refusal in ((BAN, banned), (MUTE, muted)):
            for sanction in sanctions:
                if sanction.kind == kind:
                    return refusal(room.name, sanction.until)
        return None
