"""Rooms: the room list, joining (with catch-up and presence) and leaving."""

from . import rules
from .core import Core
from .models import Identity, JoinResult, ListedRoom, Room, RoomsPage, RoomSummary
from .presence import JOINED, LEFT


class RoomService:
    def __init__(self, core: Core):
        self.core = core
        self.ports = core.ports

    def page(self, sid: str, after: str | None = None, limit: int | None = None) -> RoomsPage:
        """A page of public rooms by name (those after `after`, at most `limit`), then on the
        first page the caller's DM rooms; and the name to pass as `after` next, or None."""
        identity = self.core.identity(sid)
        page_max = self.core.limits.rooms_page_max
        limit = min(limit or page_max, page_max)
        repository = self.ports.repository
        public = repository.list_public_rooms(after=after, limit=limit + 1)
        more = len(public) > limit
        listed: list[tuple[Room, str | None]] = [(room, None) for room in public[:limit]]
        if after is None:
            listed += repository.direct_rooms_of(identity.user_id)
        online = self.ports.presence.online_counts([room.name for room, _ in listed])
        standing = self.core.standing
        staff, admin, muted = standing.staff([room for room, _ in listed], identity)
        rooms = []
        for room, other in listed:
            owner, moderators = staff[room.name]
            role = standing.role(room, identity.username, owner, moderators, admin)
            online_now = online.get(room.name, 0)
            until = muted.get(room.name)
            rooms.append(ListedRoom(room, online_now, other, owner, moderators, role, until))
        return RoomsPage(rooms, public[limit - 1].name if more else None)

    def summary(self, room: Room, identity: Identity) -> RoomSummary:
        """A room as `identity` sees it: private rooms also name the other member."""
        with_user = active = None
        if room.private:
            other = self.ports.repository.other_member(room, identity.user_id)
            with_user = other[1] if other else None
            if other and room.kind == "pair":
                members = [(identity.user_id, identity.username), other]
                with_user = self.core.pair_names(room.name, members).of_id(other[0])
        if room.kind == "pair":
            # a page coming back after the pair ended learns it here, not on its next send
            pairing = self.ports.pairs.pairing_of(identity.user_id)
            active = pairing is not None and pairing.room == room.name
        standing = self.core.standing
        staff, admin, muted = standing.staff([room], identity)
        owner, moderators = staff[room.name]
        role = standing.role(room, identity.username, owner, moderators, admin)
        return RoomSummary(
            room.name,
            room.topic,
            room.kind,
            room.private,
            with_user,
            active,
            owner,
            moderators,
            role,
            muted.get(room.name),
        )

    def join(
        self, sid: str, room_name: str, since: int | None = None, rev: int | None = None
    ) -> JoinResult:
        """Enter a room (a public one is created if new): the latest page of its messages, or
        those after `since` and (given `rev` too) the current state of the messages up to
        `since` changed after room revision `rev`; `presence` joined goes to the room if the
        user was not in it."""
        identity = self.core.identity(sid)
        room = self.core.room_for(identity, rules.check_room_name(room_name), create=True)
        if room.kind == "dm":
            self.core.refuse_if_blocked(identity, room)
        self.core.standing.refuse_if_banned(identity, room)
        ports, limits = self.ports, self.core.limits
        # Under the room lock no message can be stored without also being broadcast, so
        # the page read here and the broadcasts that follow neither overlap nor leave a gap.
        with ports.locks(room.name):
            newly_present = ports.presence.enter(sid, room.name)
            ports.broadcaster.subscribe(sid, room.name)
            # One snapshot (with several processes others commit meanwhile): every change up
            # to its revision is in what it read, every later one is broadcast after it
            read = ports.repository.catch_up(
                room,
                since,
                rev,
                page=limits.join_page,
                catch_up_max=limits.catch_up_max,
                updates_max=limits.updates_max,
            )
            messages = read.messages
            # with no message to go by: nothing newer than `since`, or an empty room
            upto = messages[-1].id if messages else min(since or 0, room.last_message_id or 0)
            upto_rev = read.rev
            ports.broadcaster.caught_up(sid, room.name, upto, upto_rev)
        summary = self.summary(room, identity)  # first: it learns a pair's aliases
        if newly_present:
            name = self.core.name_in(room.name, identity)
            self.core.announce.changed(room.name, identity.user_id, name, JOINED, (sid,))
        members = ports.presence.members(room.name)
        if room.kind == "pair":
            names = self.core.pair_names(room.name)
            members = sorted(names.of_name(member) for member in members)
        shown = self.core.shown
        return JoinResult(
            summary,
            members,
            shown(room.name, messages),
            read.has_more,
            updates=shown(room.name, read.updates),
            updates_truncated=read.updates_truncated,
            rev=upto_rev,
        )

    def leave(self, sid: str, room_name: str) -> None:
        """Leave a joined room; `presence` left goes to the room if that was the user's last
        connection in it."""
        identity = self.core.identity(sid)
        room_name = rules.check_room_name(room_name)
        self.core.require_in_room(sid, room_name)
        user_left = self.ports.presence.exit(sid, room_name)
        self.ports.broadcaster.unsubscribe(sid, room_name)
        if user_left:
            name = self.core.name_in(room_name, identity)
            self.core.announce.changed(room_name, identity.user_id, name, LEFT, ())
