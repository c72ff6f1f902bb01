"""Redis stores shared by every process: presence, rate-limit buckets, stranger queue, liveness.

Each multi-key change is one Lua script, so it is atomic across processes. A process's
connections are filed under its host id; when its heartbeat key expires (the process died),
a surviving process takes them over and disconnects them (see app/cluster.py).
"""

import json
import threading
from dataclasses import replace

from redis import Redis

from ..domain.budgets import RETRY_SLACK_MS
from ..domain.models import Identity, Pairing, Seat

KEY_PREFIX = "chat:"
# Who met whom in stranger chat is kept at least this long (or the rematch window, if
# longer); the window itself is checked against the times stored.
MET_TTL_SECONDS = 24 * 3600

_ENTER = """
local uid = redis.call('HGET', KEYS[3], 'uid')
if not uid then return -1 end
if redis.call('SADD', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[2], uid, 1) == 1 then return 1 end
return 0
"""

_EXIT = """
local uid = redis.call('HGET', KEYS[3], 'uid')
if not uid then return 0 end
if redis.call('SREM', KEYS[1], ARGV[1]) == 0 then return 0 end
if redis.call('HINCRBY', KEYS[2], uid, -1) <= 0 then
  redis.call('HDEL', KEYS[2], uid)
  return 1
end
return 0
"""

# KEYS: the connection's hash, its user's and its host's connection sets, the names hash.
# ARGV: limit (0: none), sid, user id, name, host, expiry ('' for none). Returns 1, or 0
# when the user already has `limit` connections (nothing is stored then).
_ADD = """
if tonumber(ARGV[1]) > 0 and redis.call('SCARD', KEYS[2]) >= tonumber(ARGV[1]) then
  return 0
end
redis.call('HSET', KEYS[1], 'uid', ARGV[3], 'name', ARGV[4], 'host', ARGV[5])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'exp', ARGV[6]) end
redis.call('SADD', KEYS[2], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[2])
redis.call('HSET', KEYS[4], ARGV[3], ARGV[4])
return 1
"""

# KEYS: the connection's hash and room set; ARGV: key prefix, sid.
# Returns nil, or {uid, name, expires_at, room1, left1, room2, left2, ...}.
_REMOVE = """
local info = redis.call('HMGET', KEYS[1], 'uid', 'name', 'exp', 'host')
if not info[1] then return nil end
local uid = info[1]
local out = {uid, info[2], info[3] or ''}
for _, room in ipairs(redis.call('SMEMBERS', KEYS[2])) do
  local key = ARGV[1] .. 'room:' .. room
  local left = 0
  if redis.call('HINCRBY', key, uid, -1) <= 0 then
    redis.call('HDEL', key, uid)
    left = 1
  end
  table.insert(out, room)
  table.insert(out, left)
end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('SREM', ARGV[1] .. 'user:' .. uid .. ':sids', ARGV[2])
if info[4] then redis.call('SREM', ARGV[1] .. 'host:' .. info[4] .. ':sids', ARGV[2]) end
return out
"""

# Token bucket on the server's clock (all processes share it). ARGV[3]: the announced
# retry_after's slack in ms. Returns "wait announced early" as one string: Lua numbers would be
# truncated to integers on the way back. A refusal announces wait rounded up to the ms plus
# slack and remembers when that is ('until'); `early` is 1 when it came before the last one.
_REFILL_AND_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at', 'until')
local tokens = tonumber(bucket[1]) or burst
local at = tonumber(bucket[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait, announced, early = 0, 0, 0
if tokens >= 1 then
  tokens = tokens - 1
  redis.call('HDEL', KEYS[1], 'until')
else
  wait = (1 - tokens) / rate
  announced = (math.ceil(wait * 1000) + tonumber(ARGV[3])) / 1000
  local previous = tonumber(bucket[3])
  if previous and now < previous then early = 1 end
  redis.call('HSET', KEYS[1], 'until', string.format('%.6f', now + announced))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', string.format('%.6f', now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return string.format('%.17g %.3f %d', wait, announced, early)
"""

# KEYS: queue (list of user ids, arrival order), seats, pairs, recent pairings.
# ARGV: my user id, my seat (JSON), the pair room, now, the rematch window (seconds), the
# prefix of the per-user sorted sets of whom they met (partner -> when), their least time to
# live (seconds), then excluded ids. The window is checked on the scores; TTLs only clean up.
_MATCH = """
local queue, seats, pairs, recent = KEYS[1], KEYS[2], KEYS[3], KEYS[4]
local me, my_seat, room = ARGV[1], ARGV[2], ARGV[3]
local now, window, met = tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6]
-- asking again while waiting keeps the place in the queue (and tries again)
local waiting = redis.call('HEXISTS', seats, me) == 1
if waiting then redis.call('HSET', seats, me, my_seat) end
local excluded = {}
for i = 8, #ARGV do excluded[ARGV[i]] = true end
local my_met = met .. me
redis.call('ZREMRANGEBYSCORE', my_met, '-inf', now - window)
local chosen = nil
for _, other in ipairs(redis.call('LRANGE', queue, 0, -1)) do
  if other ~= me and not excluded[other] and not redis.call('ZSCORE', my_met, other) then
    chosen = other
    break
  end
end
if not chosen then
  if not waiting then
    redis.call('RPUSH', queue, me)
    redis.call('HSET', seats, me, my_seat)
  end
  return nil
end
local seat = redis.call('HGET', seats, chosen)
redis.call('LREM', queue, 0, chosen)
redis.call('LREM', queue, 0, me)
redis.call('HDEL', seats, chosen, me)
local partner = cjson.decode(seat)
local mine = cjson.decode(my_seat)
local for_me = cjson.encode({room = room, seat = partner})
local for_them = cjson.encode({room = room, seat = mine})
redis.call('HSET', pairs, me, for_me, chosen, for_them)
redis.call('HSET', recent, me, for_me, chosen, for_them)
local ttl = math.max(math.ceil(window) + 1, tonumber(ARGV[7]))
redis.call('ZADD', my_met, now, chosen)
redis.call('EXPIRE', my_met, ttl)
redis.call('ZADD', met .. chosen, now, me)
redis.call('EXPIRE', met .. chosen, ttl)
return seat
"""

# KEYS: pairs; ARGV: my user id, now, the met sets' least time to live, their prefix.
_END_PAIR = """
local pairs, me = KEYS[1], ARGV[1]
local now, ttl, met = tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[4]
local pairing = redis.call('HGET', pairs, me)
if not pairing then return nil end
local partner = tostring(cjson.decode(pairing).seat.user_id)
redis.call('HDEL', pairs, me, partner)
for _, pair in ipairs({{me, partner}, {partner, me}}) do
  local key = met .. pair[1]
  redis.call('ZADD', key, now, pair[2])
  if redis.call('TTL', key) < ttl then redis.call('EXPIRE', key, ttl) end
end
return pairing
"""

_LEAVE_QUEUE = """
local queue, seats, me, sid = KEYS[1], KEYS[2], ARGV[1], ARGV[2]
local seat = redis.call('HGET', seats, me)
if not seat then return 0 end
if sid ~= '' and cjson.decode(seat).sid ~= sid then return 0 end
redis.call('LREM', queue, 0, me)
redis.call('HDEL', seats, me)
return 1
"""


class RedisPresenceStore:
    """Presence shared by every process; this process's own connections are also kept here,
    in memory, because every event reads them (identity, rooms) and only this process
    handles a connection's events."""

    def __init__(self, redis: Redis, host_id: str, prefix: str = KEY_PREFIX):
        self.redis = redis
        self.host_id = host_id
        self.prefix = prefix
        self._lock = threading.Lock()
        self._identities: dict[str, Identity] = {}
        # rooms a local connection is known to be in; a miss is checked in Redis, because
        # another process may put one of ours in a room (stranger chat pairs across processes)
        self._rooms: dict[str, set[str]] = {}
        self._add = redis.register_script(_ADD)
        self._enter = redis.register_script(_ENTER)
        self._exit = redis.register_script(_EXIT)
        self._remove = redis.register_script(_REMOVE)

    def _key(self, *parts: str | int) -> str:
        return self.prefix + ":".join(str(part) for part in parts)

    def _membership_keys(self, sid: str, room: str) -> list[str]:
        """KEYS of the enter and exit scripts: the connection's rooms, the room, the connection."""
        return [self._key("sid", sid, "rooms"), self._key("room", room), self._key("sid", sid)]

    def add_connection(self, sid: str, identity: Identity, limit: int = 0) -> bool:
        # counted in Redis: the cap holds across processes (a dead process's connections
        # count until a survivor reaps them, within about PRESENCE_TTL)
        added = self._add(
            keys=[
                self._key("sid", sid),
                self._key("user", identity.user_id, "sids"),
                self._key("host", self.host_id, "sids"),
                self._key("names"),
            ],
            args=[
                limit,
                sid,
                identity.user_id,
                identity.username,
                self.host_id,
                "" if identity.expires_at is None else repr(identity.expires_at),
            ],
        )
        if not added:
            return False
        with self._lock:
            self._identities[sid] = identity
            self._rooms[sid] = set()
        return True

    def remove_connection(self, sid: str) -> tuple[Identity | None, list[tuple[str, bool]]]:
        with self._lock:
            self._identities.pop(sid, None)
            self._rooms.pop(sid, None)
        out = self._remove(
            keys=[self._key("sid", sid), self._key("sid", sid, "rooms")], args=[self.prefix, sid]
        )
        if not out:
            return None, []
        user_id, name, expires_at, *rooms = out
        identity = _identity(user_id, name, expires_at)
        left = [(rooms[i], bool(int(rooms[i + 1]))) for i in range(0, len(rooms), 2)]
        return identity, sorted(left)

    def identity(self, sid: str) -> Identity | None:
        identity = self._identities.get(sid)
        if identity is not None:
            return identity
        user_id, name, expires_at, suspended = self.redis.hmget(
            self._key("sid", sid), "uid", "name", "exp", "suspended"
        )
        if user_id is None:
            return None
        return replace(_identity(user_id, name, expires_at), suspended=bool(suspended))

    def enter(self, sid: str, room: str) -> bool:
        newly_present = self._enter(keys=self._membership_keys(sid, room), args=[room])
        if newly_present == -1:
            raise KeyError(sid)
        self._remember(sid, room)
        return newly_present == 1

    def exit(self, sid: str, room: str) -> bool:
        with self._lock:
            rooms = self._rooms.get(sid)
            if rooms is not None:
                rooms.discard(room)
        user_left = self._exit(keys=self._membership_keys(sid, room), args=[room])
        return user_left == 1

    def forget_local(self, sid: str, room: str) -> None:
        """Another process took this process's connection `sid` out of `room` (in Redis
        already): drop it from what this process keeps in memory."""
        with self._lock:
            rooms = self._rooms.get(sid)
            if rooms is not None:
                rooms.discard(room)

    def in_room(self, sid: str, room: str) -> bool:
        rooms = self._rooms.get(sid)
        if rooms is not None and room in rooms:
            return True
        if not self.redis.sismember(self._key("sid", sid, "rooms"), room):
            return False
        self._remember(sid, room)
        return True

    def _remember(self, sid: str, room: str) -> None:
        with self._lock:
            rooms = self._rooms.get(sid)
            if rooms is not None:
                rooms.add(room)

    def members(self, room: str) -> list[str]:
        user_ids = self.redis.hkeys(self._key("room", room))
        if not user_ids:
            return []
        names = self.redis.hmget(self._key("names"), user_ids)
        return sorted((name for name in names if name), key=str.casefold)

    def online_count(self, room: str) -> int:
        return self.redis.hlen(self._key("room", room))

    def online_counts(self, rooms: list[str]) -> dict[str, int]:
        with self.redis.pipeline(transaction=False) as pipe:
            for room in rooms:
                pipe.hlen(self._key("room", room))
            return dict(zip(rooms, pipe.execute(), strict=True))

    def sids_of(self, user_id: int) -> list[str]:
        return list(self.redis.smembers(self._key("user", user_id, "sids")))

    def suspend_user(self, user_id: int) -> list[str]:
        # Marked in Redis for any process that reads the connection from there, and in this
        # process's own copy; the processes holding the others close them within moments
        # (ConnectionService.suspend), so their copies need not be reached.
        sids = self.sids_of(user_id)
        if sids:
            self.redis.eval(_MARK_SUSPENDED, len(sids), *(self._key("sid", sid) for sid in sids))
        self._mark_local(sids)
        return sids

    def suspend_local(self, user_id: int) -> list[str]:
        # Read from this process's own copy: no round trip for a user who has no connection
        # here (the usual case), and never another process's connections. Only those not
        # marked in Redis yet: a suspension made through Redis told and closes the others.
        with self._lock:
            local = [
                sid
                for sid, who in self._identities.items()
                if who.user_id == user_id and not who.suspended
            ]
        if not local:
            return []
        keys = [self._key("sid", sid) for sid in local]
        newly = self.redis.eval(_MARK_NEWLY_SUSPENDED, len(keys), *keys)
        self._mark_local(local)
        return [local[index - 1] for index in newly]

    def _mark_local(self, sids: list[str]) -> None:
        with self._lock:
            for sid in sids:
                if (identity := self._identities.get(sid)) is not None:
                    self._identities[sid] = replace(identity, suspended=True)


class RedisRateLimiter:
    """Token buckets in Redis, so a user's limit holds whichever process they talk to."""

    def __init__(self, redis: Redis, prefix: str = KEY_PREFIX):
        self.prefix = prefix
        self._bucket = redis.register_script(_REFILL_AND_TAKE)

    def hit(self, key: str, rate: float, burst: int) -> float:
        return self._run(key, rate, burst)[0]

    def take(self, key: str, rate: float, burst: int) -> tuple[float, bool]:
        _, retry_after, early = self._run(key, rate, burst)
        return retry_after, early

    def _run(self, key: str, rate: float, burst: int) -> tuple[float, float, bool]:
        out = self._bucket(keys=[f"{self.prefix}bucket:{key}"], args=[rate, burst, RETRY_SLACK_MS])
        wait, retry_after, early = out.split()
        return float(wait), float(retry_after), early == "1"


class RedisPairStore:
    """Stranger chat's queue and pairs, matched atomically for every process at once."""

    def __init__(self, redis: Redis, prefix: str = KEY_PREFIX):
        self.redis = redis
        self._queue = f"{prefix}pair:queue"
        self._seats = f"{prefix}pair:seats"
        self._pairs = f"{prefix}pair:pairs"
        self._recent = f"{prefix}pair:recent"
        self._met = f"{prefix}pair:met:"
        self._match = redis.register_script(_MATCH)
        self._end_pair = redis.register_script(_END_PAIR)
        self._leave_queue = redis.register_script(_LEAVE_QUEUE)

    def match(
        self, me: Seat, excluded: set[int], room: str, now: float, rematch_seconds: float
    ) -> Seat | None:
        seat = self._match(
            keys=[self._queue, self._seats, self._pairs, self._recent],
            args=[
                me.user_id,
                _seat_json(me),
                room,
                repr(now),
                repr(rematch_seconds),
                self._met,
                MET_TTL_SECONDS,
                *sorted(excluded),
            ],
        )
        return _seat(json.loads(seat)) if seat else None

    def pairing_of(self, user_id: int) -> Pairing | None:
        return _pairing(self.redis.hget(self._pairs, user_id))

    def recent_pairing(self, user_id: int) -> Pairing | None:
        current, recent = self.redis.hmget(self._pairs, user_id) + self.redis.hmget(
            self._recent, user_id
        )
        return _pairing(current or recent)

    def end_pair(self, user_id: int, now: float) -> Pairing | None:
        out = self._end_pair(
            keys=[self._pairs], args=[user_id, repr(now), MET_TTL_SECONDS, self._met]
        )
        return _pairing(out)

    def leave_queue(self, user_id: int, sid: str | None = None) -> bool:
        left = self._leave_queue(keys=[self._queue, self._seats], args=[user_id, sid or ""])
        return left == 1


# Only connections still there: a key of one that closed meanwhile is not made again.
_MARK_SUSPENDED = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('HSET', key, 'suspended', '1') end
end
"""

# The same, returning the (1-based) indexes of the keys that were not marked before.
_MARK_NEWLY_SUSPENDED = """
local newly = {}
for index, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 and redis.call('HSET', key, 'suspended', '1') == 1 then
    table.insert(newly, index)
  end
end
return newly
"""


def _identity(user_id: str, name: str, expires_at: str | None) -> Identity:
    """A connection's identity from its Redis fields (all strings; no expiry: empty or None)."""
    return Identity(int(user_id), name, float(expires_at) if expires_at else None)


def _seat_json(seat: Seat) -> str:
    # user ids travel as strings: Lua compares them with the queue's string entries
    return json.dumps({"user_id": str(seat.user_id), "username": seat.username, "sid": seat.sid})


def _seat(data: dict) -> Seat:
    return Seat(int(data["user_id"]), data["username"], data["sid"])


def _pairing(raw: str | None) -> Pairing | None:
    if not raw:
        return None
    data = json.loads(raw)
    return Pairing(data["room"], _seat(data["seat"]))


class RedisLiveness:
    """Which server processes are alive: each refreshes a key that expires if it dies."""

    def __init__(self, redis: Redis, host_id: str, ttl: float, prefix: str = KEY_PREFIX):
        self.redis = redis
        self.host_id = host_id
        self.ttl_ms = max(1, int(ttl * 1000))
        self.prefix = prefix

    def beat(self) -> None:
        with self.redis.pipeline() as pipe:
            pipe.set(f"{self.prefix}alive:{self.host_id}", "1", px=self.ttl_ms)
            pipe.sadd(f"{self.prefix}hosts", self.host_id)
            pipe.execute()

    def claim_dead_hosts(self) -> list[str]:
        """Hosts whose heartbeat expired, each claimed by one surviving process only."""
        claimed = []
        for host in self.redis.smembers(f"{self.prefix}hosts"):
            if host == self.host_id or self.redis.exists(f"{self.prefix}alive:{host}"):
                continue
            if self.redis.set(f"{self.prefix}reaping:{host}", self.host_id, nx=True, px=60_000):
                claimed.append(host)
        return claimed

    def connections_of(self, host: str) -> list[str]:
        return list(self.redis.smembers(f"{self.prefix}host:{host}:sids"))

    def forget(self, host: str) -> None:
        with self.redis.pipeline() as pipe:
            pipe.srem(f"{self.prefix}hosts", host)
            pipe.delete(f"{self.prefix}host:{host}:sids", f"{self.prefix}reaping:{host}")
            pipe.execute()

    def leave(self) -> None:
        """A clean shutdown: stop counting as alive (connections are removed one by one)."""
        self.redis.delete(f"{self.prefix}alive:{self.host_id}")
