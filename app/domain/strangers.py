"""Stranger chat: matching, "Next", leaving, and a disconnected partner's grace period."""

import uuid

from .core import Core
from .models import Identity, Pairing, PartnerFound, PartnerLeft, Seat


class StrangerService:
    def __init__(self, core: Core):
        self.core = core
        self.ports = core.ports

    def find_partner(self, sid: str) -> Pairing | None:
        """Pair this connection with the longest-waiting acceptable user (both get
        `partner_found`), or queue it (None). Asked while paired, the pair ends first."""
        identity = self.core.identity(sid)
        ports = self.ports
        if ports.pairs.pairing_of(identity.user_id) is not None:
            self.end_pair(identity.user_id)  # "Next"
        me = Seat(identity.user_id, identity.username, sid)
        room_name = f"pair:{uuid.uuid4().hex}"
        blocked = ports.repository.blocked_with(identity.user_id)
        partner = ports.pairs.match(me, blocked, room_name)
        if partner is None:
            return None
        room = ports.repository.create_room(room_name, private=True)
        for seat, other in ((me, partner), (partner, me)):
            ports.repository.add_member(room, seat.user_id)
            if ports.presence.identity(seat.sid) is not None:  # still connected
                ports.presence.enter(seat.sid, room_name)
                ports.broadcaster.subscribe(seat.sid, room_name)
            ports.broadcaster.notify([seat.sid], PartnerFound(room_name, other.username))
        return Pairing(room_name, partner)

    def leave_partner(self, sid: str) -> None:
        """Stop waiting, or end the current pair (the partner gets `partner_left`)."""
        identity = self.core.identity(sid)
        self.ports.pairs.leave_queue(identity.user_id)
        self.end_pair(identity.user_id)

    def end_pair(self, user_id: int) -> None:
        """End the user's pair, if any: the partner's connections get `partner_left`."""
        pairing = self.ports.pairs.end_pair(user_id)
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
