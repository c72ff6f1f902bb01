"""Stranger chat: matching, "Next", leaving, aliases, and a disconnected partner's grace period."""

import uuid
from datetime import UTC, datetime

from .aliases import looks_like_alias
from .core import Core
from .models import Identity, PartnerFound, PartnerLeft, Seat


class StrangerService:
    def __init__(self, core: Core):
        self.core = core
        self.ports = core.ports

    def find_partner(self, sid: str) -> PartnerFound | None:
        """Pair this connection with the longest-waiting acceptable user (both get
        `partner_found`), or queue it (None). Asked while paired, the pair ends first. A user
        held out after reports is told `waiting` and never queued."""
        identity = self.core.identity(sid)
        ports, limits = self.ports, self.core.limits
        if ports.pairs.pairing_of(identity.user_id) is not None:
            self.end_pair(identity.user_id)  # "Next"
        if self.held_out(identity.user_id):
            return None
        me = Seat(identity.user_id, identity.username, sid)
        room_name = f"pair:{uuid.uuid4().hex}"
        blocked = ports.repository.blocked_with(identity.user_id)
        partner = ports.pairs.match(
            me, blocked, room_name, ports.wall_clock(), limits.pair_rematch_seconds
        )
        if partner is None:
            return None
        room = ports.repository.create_room(room_name, private=True)
        members = [(me.user_id, me.username), (partner.user_id, partner.username)]
        names = self.core.pair_names(room_name, members)
        for seat, other in ((me, partner), (partner, me)):
            ports.repository.add_member(room, seat.user_id)
            if ports.presence.identity(seat.sid) is not None:  # still connected
                ports.presence.enter(seat.sid, room_name)
                ports.broadcaster.subscribe(seat.sid, room_name)
            found = PartnerFound(room_name, names.of_id(other.user_id), names.of_id(seat.user_id))
            ports.broadcaster.notify([seat.sid], found)
        return PartnerFound(room_name, names.of_id(partner.user_id), names.of_id(me.user_id))

    def alias_of(self, room_name: str, user_id: int) -> str:
        """The alias `user_id` has in the pair room `room_name`."""
        return self.core.pair_names(room_name).of_id(user_id)

    def held_out(self, user_id: int) -> bool:
        """Whether enough different users reported this one recently (since an admin last
        reviewed a report about them) to keep them out of stranger matching."""
        limits = self.core.limits
        since = _utc(self.ports.wall_clock() - limits.report_window_seconds)
        return self.ports.reports.reporters_since(user_id, since) >= limits.report_threshold

    def partner_by_alias(
        self, identity: Identity, alias: str, room_name: str | None = None
    ) -> tuple[int, str, str] | None:
        """The (id, username, pair room) behind `alias`: a user of `room_name` when that is a
        pair room of the caller's, else the caller's current or most recent stranger partner
        (or the caller, by their own alias). None when it names nobody."""
        if not looks_like_alias(alias):
            return None
        ports = self.ports
        if room_name is not None and room_name.startswith("pair:"):
            room = ports.repository.get_room(room_name)
            if room is None or not ports.repository.is_member(room, identity.user_id):
                return None
            found = self.core.pair_names(room_name).user_of(alias)
            return (*found, room_name) if found else None
        pairing = ports.pairs.recent_pairing(identity.user_id)
        if pairing is None:
            return None
        partner = pairing.partner
        members = [(identity.user_id, identity.username), (partner.user_id, partner.username)]
        found = self.core.pair_names(pairing.room, members).user_of(alias)
        return (*found, pairing.room) if found else None

    def leave_partner(self, sid: str) -> None:
        """Stop waiting, or end the current pair (the partner gets `partner_left`)."""
        identity = self.core.identity(sid)
        self.ports.pairs.leave_queue(identity.user_id)
        self.end_pair(identity.user_id)

    def end_pair(self, user_id: int) -> None:
        """End the user's pair, if any: the partner's connections get `partner_left`."""
        pairing = self.ports.pairs.end_pair(user_id, self.ports.wall_clock())
        if pairing is not None:
            self.ports.broadcaster.notify(
                self.ports.presence.sids_of(pairing.partner.user_id), PartnerLeft(pairing.room)
            )

    def disconnected(self, identity: Identity, sid: str) -> None:
        """`sid` went away: it stops waiting, and a pair whose room the user is no longer in
        ends after the grace period unless a connection of theirs joins it again."""
        ports = self.ports
        ports.pairs.leave_queue(identity.user_id, sid)
        pairing = ports.pairs.pairing_of(identity.user_id)
        if pairing is not None and not self.core.present(identity.user_id, pairing.room):
            ports.scheduler.call_later(
                self.core.limits.pair_grace_seconds,
                self._end_pair_if_gone,
                identity.user_id,
                pairing.room,
            )

    def _end_pair_if_gone(self, user_id: int, room: str) -> None:
        pairing = self.ports.pairs.pairing_of(user_id)
        if pairing is not None and pairing.room == room and not self.core.present(user_id, room):
            self.end_pair(user_id)


def _utc(epoch_seconds: float) -> datetime:
    """Epoch seconds as naive UTC, the form stored times take."""
    return datetime.fromtimestamp(epoch_seconds, UTC).replace(tzinfo=None)
