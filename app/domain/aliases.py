"""Stranger-chat aliases: `stranger-` and 4 hex digits per user and pair room, from a secret."""

import hashlib
import hmac
import threading
from collections import OrderedDict
from dataclasses import dataclass

PREFIX = "stranger-"
# Pair rooms whose two aliases are kept in memory: the hot path (a message, typing) then
# costs a dictionary lookup, and a miss costs two HMACs (no query when the pair is known).
CACHE_SIZE = 4096


def looks_like_alias(name: str) -> bool:
    """Whether `name` is written like an alias (usernames cannot start `stranger-`)."""
    return name.lower().startswith(PREFIX)


def _digest(key: bytes, room: str, user_id: int) -> str:
    return hmac.new(key, f"{room}\x00{user_id}".encode(), hashlib.sha256).hexdigest()


def pair_aliases(key: bytes, room: str, first_id: int, second_id: int) -> dict[int, str]:
    """The two users' aliases in `room`: the first 4 hex digits of each one's HMAC; when the
    higher id's collide with the lower id's, its next 4 (and so on), so they always differ."""
    low, high = sorted((first_id, second_id))
    low_alias = PREFIX + _digest(key, room, low)[:4]
    high_hex = _digest(key, room, high)
    chunks = (PREFIX + high_hex[i : i + 4] for i in range(0, len(high_hex), 4))
    high_alias = next(alias for alias in chunks if alias != low_alias)
    return {low: low_alias, high: high_alias}


@dataclass(frozen=True, slots=True)
class PairNames:
    """The two members of a pair room: user id -> alias, and username -> user id."""

    aliases: dict[int, str]
    ids: dict[str, int]

    def of_id(self, user_id: int) -> str:
        return self.aliases.get(user_id, PREFIX + "0000")

    def of_name(self, username: str) -> str:
        user_id = self.ids.get(username)
        # never the username itself, even for a name that is not a member (cannot happen)
        return self.aliases[user_id] if user_id is not None else PREFIX + "0000"

    def user_of(self, alias: str) -> tuple[int, str] | None:
        """The (id, username) whose alias this is (any case), or None."""
        for username, user_id in self.ids.items():
            if self.aliases[user_id] == alias.lower():
                return user_id, username
        return None


class AliasBook:
    """Computes and remembers pair rooms' aliases (a bounded LRU: aliases never change)."""

    def __init__(self, key: bytes, size: int = CACHE_SIZE):
        self.key = key
        self.size = size
        self._lock = threading.Lock()
        self._rooms: OrderedDict[str, PairNames] = OrderedDict()

    def cached(self, room: str) -> PairNames | None:
        with self._lock:
            names = self._rooms.get(room)
            if names is not None:
                self._rooms.move_to_end(room)
            return names

    def names(self, room: str, members: list[tuple[int, str]]) -> PairNames:
        """The aliases of `room`'s two `members` (id, username), remembered."""
        cached = self.cached(room)
        if cached is not None:
            return cached
        ids = {username: user_id for user_id, username in members}
        if len(members) == 2:
            aliases = pair_aliases(self.key, room, members[0][0], members[1][0])
        else:  # a pair room always has two members; never show a name all the same
            aliases = {
                user_id: PREFIX + _digest(self.key, room, user_id)[:4] for user_id, _ in members
            }
        names = PairNames(aliases, ids)
        if len(members) == 2:
            with self._lock:
                self._rooms[room] = names
                if len(self._rooms) > self.size:
                    self._rooms.popitem(last=False)
        return names
