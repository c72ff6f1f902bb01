"""Reports: a user reports another for the admins, with what was said around it."""

from datetime import UTC, datetime

from . import rules
from .core import Core
from .errors import INVALID, NOT_FOUND, ChatError
from .models import Identity, Message, NewReport, Room
from .strangers import StrangerService

# Messages kept on each side of a reported message.
AROUND = 5
# A stranger report keeps every message of the pair, read in pages of this many.
PAGE = 500


class ReportService:
    def __init__(self, core: Core, strangers: StrangerService):
        self.core = core
        self.ports = core.ports
        self.strangers = strangers

    def report(
        self,
        sid: str,
        user: str,
        reason: str,
        room_name: str | None = None,
        message_id: int | None = None,
    ) -> None:
        """Store a report of `user` (a username, or a stranger's alias). A stranger report
        keeps the pair's messages and ends that chat if it is still on; a user reported by
        enough different people leaves the stranger queue. The reporter learns nothing."""
        identity = self.core.identity(sid)
        reason = rules.check_report_reason(reason)
        if message_id is not None and room_name is None:
            raise ChatError(INVALID, "message_id needs the room it is in.")
        room = None
        if room_name is not None:
            room = self.core.room_for(identity, rules.check_room_name(room_name), create=False)
        reported_id, pair_room = self._reported(identity, user, room)
        if pair_room is None and room is not None and room.kind == "pair":
            # the stranger of that pair named by username: a stranger report all the same
            other = self.ports.repository.other_member(room, identity.user_id)
            pair_room = room.name if other and other[0] == reported_id else None
        context = self._context(room, message_id, pair_room)
        now = self.ports.wall_clock()
        self.ports.reports.add(
            NewReport(
                reporter_id=identity.user_id,
                reported_id=reported_id,
                reason=reason,
                created_at=datetime.fromtimestamp(now, UTC).replace(tzinfo=None),
                room=room.name if room is not None else pair_room,
                message_id=message_id,
                context=tuple(context),
            )
        )
        if pair_room is not None:
            pairing = self.ports.pairs.pairing_of(identity.user_id)
            if pairing is not None and pairing.room == pair_room:
                self.strangers.end_pair(identity.user_id)  # as leave_partner would
        if self.strangers.held_out(reported_id):
            self.ports.pairs.leave_queue(reported_id)  # silently: they keep "waiting"

    def _reported(self, identity: Identity, user: str, room: Room | None) -> tuple[int, str | None]:
        """The reported user's id and, for a stranger named by alias, the pair room."""
        found = self.strangers.partner_by_alias(identity, user, room.name if room else None)
        if found is not None:
            user_id, _, pair_room = found
        else:
            other = self.ports.repository.user_by_name(rules.check_username(user))
            if other is None:
                raise ChatError(NOT_FOUND, f"There is no user named {user!r}.")
            user_id, pair_room = other[0], None
        if user_id == identity.user_id:
            raise ChatError(INVALID, "You cannot report yourself.")
        return user_id, pair_room

    def _context(
        self, room: Room | None, message_id: int | None, pair_room: str | None
    ) -> list[Message]:
        """The messages kept with a report: a pair's whole chat, or the reported message and
        up to AROUND on each side (`not_found` when that message is not in the room)."""
        repository = self.ports.repository
        kept: list[Message] = []
        if message_id is not None:
            around, _ = repository.after(room, message_id - 1, AROUND + 1)
            if not around or around[0].id != message_id:
                raise ChatError(NOT_FOUND, f"There is no message {message_id} in {room.name!r}.")
            before, _ = repository.before(room, message_id, AROUND)
            kept = before + around
        if pair_room is not None:
            pair = (
                room
                if room is not None and room.name == pair_room
                else repository.get_room(pair_room)
            )
            kept, since, more = [], 0, pair is not None
            while more:
                page, more = repository.after(pair, since, PAGE)
                kept += page
                since = page[-1].id if page else since
                more = more and bool(page)
        return kept
