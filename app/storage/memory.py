"""In-memory stores for one process: presence, rate-limit buckets and room locks."""

import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace

from ..domain.budgets import announced_wait
from ..domain.models import Identity, Pairing, Seat


class MemoryPresenceStore:
    def __init__(self):
        self._lock = threading.Lock()
        self._identities: dict[str, Identity] = {}
        self._rooms_of_sid: dict[str, set[str]] = {}
        # room -> user_id -> that user's connections in the room
        self._sids_in_room: dict[str, dict[int, set[str]]] = defaultdict(dict)
        self._names: dict[int, str] = {}
        self._sids_of_user: dict[int, set[str]] = defaultdict(set)

    def add_connection(self, sid: str, identity: Identity, limit: int = 0) -> bool:
        with self._lock:
            user_sids = self._sids_of_user.get(identity.user_id, ())
            if limit > 0 and len(user_sids) >= limit:
                return False
            self._identities[sid] = identity
            self._rooms_of_sid[sid] = set()
            self._names[identity.user_id] = identity.username
            self._sids_of_user[identity.user_id].add(sid)
            return True

    def remove_connection(self, sid: str) -> tuple[Identity | None, list[tuple[str, bool]]]:
        with self._lock:
            identity = self._identities.pop(sid, None)
            rooms = self._rooms_of_sid.pop(sid, set())
            if identity is None:
                return None, []
            user_sids = self._sids_of_user[identity.user_id]
            user_sids.discard(sid)
            if not user_sids:
                del self._sids_of_user[identity.user_id]
            return identity, [(room, self._exit(sid, identity, room)) for room in sorted(rooms)]

    def identity(self, sid: str) -> Identity | None:
        return self._identities.get(sid)

    def enter(self, sid: str, room: str) -> bool:
        with self._lock:
            identity = self._identities[sid]
            self._rooms_of_sid[sid].add(room)
            users = self._sids_in_room[room]
            sids = users.setdefault(identity.user_id, set())
            newly_present = not sids
            sids.add(sid)
            return newly_present

    def exit(self, sid: str, room: str) -> bool:
        with self._lock:
            identity = self._identities.get(sid)
            if identity is None:
                return False
            self._rooms_of_sid[sid].discard(room)
            return self._exit(sid, identity, room)

    def _exit(self, sid: str, identity: Identity, room: str) -> bool:
        users = self._sids_in_room.get(room)
        if not users or identity.user_id not in users:
            return False
        sids = users[identity.user_id]
        sids.discard(sid)
        if sids:
            return False
        del users[identity.user_id]
        if not users:
            del self._sids_in_room[room]
        return True

    def in_room(self, sid: str, room: str) -> bool:
        return room in self._rooms_of_sid.get(sid, ())

    def members(self, room: str) -> list[str]:
        with self._lock:
            user_ids = list(self._sids_in_room.get(room, {}))
            return sorted((self._names[uid] for uid in user_ids), key=str.casefold)

    def online_count(self, room: str) -> int:
        return len(self._sids_in_room.get(room, ()))

    def online_counts(self, rooms: list[str]) -> dict[str, int]:
        return {room: self.online_count(room) for room in rooms}

    def sids_of(self, user_id: int) -> list[str]:
        with self._lock:
            return list(self._sids_of_user.get(user_id, ()))

    def suspend_user(self, user_id: int) -> list[str]:
        with self._lock:
            sids = list(self._sids_of_user.get(user_id, ()))
            for sid in sids:
                self._identities[sid] = replace(self._identities[sid], suspended=True)
            return sids

    def suspend_local(self, user_id: int) -> list[str]:
        # one process: every connection is local; those marked already were told already
        with self._lock:
            sids = [
                sid
                for sid in self._sids_of_user.get(user_id, ())
                if not self._identities[sid].suspended
            ]
            for sid in sids:
                self._identities[sid] = replace(self._identities[sid], suspended=True)
            return sids


class MemoryPairStore:
    def __init__(self):
        self._lock = threading.Lock()
        self._waiting: dict[int, Seat] = {}  # insertion order = arrival order
        self._pairs: dict[int, Pairing] = {}
        self._recent: dict[int, Pairing] = {}  # the latest pairing of each user, also ended
        # user -> partner -> when the two were last paired (epoch seconds)
        self._met: dict[int, dict[int, float]] = defaultdict(dict)

    def match(
        self, me: Seat, excluded: set[int], room: str, now: float, rematch_seconds: float
    ) -> Seat | None:
        with self._lock:
            waiting = me.user_id in self._waiting
            if waiting:  # asking again keeps the place in the queue (and tries again)
                self._waiting[me.user_id] = me
            met = self._met.get(me.user_id, {})
            for other_id in [o for o, at in met.items() if now - at >= rematch_seconds]:
                del met[other_id]  # out of the window: forgotten
            for seat in self._waiting.values():
                if seat.user_id == me.user_id or seat.user_id in excluded:
                    continue
                if now - met.get(seat.user_id, float("-inf")) < rematch_seconds:
                    continue  # paired with me too recently, whoever else waits
                return self._pair(me, seat, room, now)
            if not waiting:
                self._waiting[me.user_id] = me
            return None

    def _pair(self, me: Seat, partner: Seat, room: str, now: float) -> Seat:
        del self._waiting[partner.user_id]
        self._waiting.pop(me.user_id, None)
        for seat, other in ((me, partner), (partner, me)):
            self._pairs[seat.user_id] = self._recent[seat.user_id] = Pairing(room, other)
            self._met_now(seat.user_id, other.user_id, now)
        return partner

    def _met_now(self, user_id: int, other_id: int, now: float) -> None:
        self._met[user_id][other_id] = now

    def pairing_of(self, user_id: int) -> Pairing | None:
        return self._pairs.get(user_id)

    def recent_pairing(self, user_id: int) -> Pairing | None:
        return self._pairs.get(user_id) or self._recent.get(user_id)

    def end_pair(self, user_id: int, now: float) -> Pairing | None:
        with self._lock:
            pairing = self._pairs.pop(user_id, None)
            if pairing is None:
                return None
            partner_id = pairing.partner.user_id
            self._pairs.pop(partner_id, None)
            self._met_now(user_id, partner_id, now)
            self._met_now(partner_id, user_id, now)
            return pairing

    def leave_queue(self, user_id: int, sid: str | None = None) -> bool:
        with self._lock:
            seat = self._waiting.get(user_id)
            if seat is None or (sid is not None and seat.sid != sid):
                return False
            del self._waiting[user_id]
            return True


class MemoryRateLimiter:
    """Token buckets: `burst` tokens, refilled at `rate` per second."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, updated at)
        self._announced: dict[str, float] = {}  # key -> when its last refusal said to retry

    def hit(self, key: str, rate: float, burst: int) -> float:
        with self._lock:
            return self._hit(key, rate, burst, self._clock())

    def take(self, key: str, rate: float, burst: int) -> tuple[float, bool]:
        with self._lock:
            now = self._clock()
            wait = self._hit(key, rate, burst, now)
            if wait <= 0:
                self._announced.pop(key, None)
                return 0.0, False
            early = now < self._announced.get(key, now)
            retry_after = announced_wait(wait)
            self._announced[key] = now + retry_after
            return retry_after, early

    def _hit(self, key: str, rate: float, burst: int, now: float) -> float:
        tokens, updated = self._buckets.get(key, (float(burst), now))
        tokens = min(float(burst), tokens + (now - updated) * rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / rate


class StripedRoomLocks:
    """A fixed set of locks shared out by room name: bounded memory, no per-room cleanup. A
    room gets the same lock every time (app/transport/acks.py relies on it)."""

    def __init__(self, stripes: int = 256):
        self._locks = [threading.Lock() for _ in range(stripes)]

    def __call__(self, room: str) -> threading.Lock:
        return self._locks[zlib.crc32(room.encode()) % len(self._locks)]
