"""Per-user event budgets (token buckets) and the flood-strike rule that closes ignorers."""

import math
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import RATE_LIMITED, ChatError
from .ports import RateLimiter

# Milliseconds added to every announced retry_after, so a client that waits exactly that
# long finds a token even after float rounding on either side.
RETRY_SLACK_MS = 1


def announced_wait(wait: float) -> float:
    """The `retry_after` to announce for a bucket that refills in `wait` seconds: rounded up
    to the millisecond, plus a millisecond of slack (a whole number of ms, so it prints
    short). Always more than `wait`."""
    return (math.ceil(wait * 1000) + RETRY_SLACK_MS) / 1000


@dataclass(frozen=True, slots=True)
class Budget:
    """A token bucket: `burst` tokens, refilled at `rate` per second."""

    rate: float
    burst: int


@dataclass(frozen=True, slots=True)
class Budgets:
    """Every bucket a client event may be charged to. These defaults are protocol v1's and the
    only place they are written: config.py reads its settings (SETTINGS below) from here."""

    # charged by every client event, unknown ones included
    events: Budget = Budget(30.0, 60)
    # charged by the domain after the room checks (HTTP posts too: app/domain/messages.py)
    message: Budget = Budget(10.0, 20)
    typing: Budget = Budget(5.0, 10)
    # reactions added or removed (`react`)
    react: Budget = Budget(5.0, 20)
    # join, leave and dm share it
    join: Budget = Budget(5.0, 20)
    rooms: Budget = Budget(1.0, 5)
    history: Budget = Budget(2.0, 10)
    dm: Budget = Budget(1.0, 5)
    # find_partner and leave_partner share it
    partner: Budget = Budget(1.0, 5)
    # block and unblock share it
    block: Budget = Budget(1.0, 10)
    # set_role, set_topic, kick, ban, unban, mute, unmute and sanctions share it
    moderate: Budget = Budget(2.0, 10)
    # one report every 10 s, bursts of 5
    report: Budget = Budget(0.1, 5)
    # new public rooms per user per hour (the bucket refills evenly over the hour)
    room_create_per_hour: int = 10

    @property
    def room_create(self) -> Budget:
        per_hour = self.room_create_per_hour
        return Budget(per_hour / 3600.0, per_hour)


# The buckets each event is charged to on top of `events`, before the domain work. `message`
# and `typing` are charged by the domain itself (after their room checks; HTTP posts too);
# `edit` and `delete` draw on the `message` bucket here, before their room checks.
EVENT_BUCKETS: dict[str, tuple[str, ...]] = {
    "edit": ("message",),
    "delete": ("message",),
    "react": ("react",),
    "join": ("join",),
    "leave": ("join",),
    "dm": ("join", "dm"),
    "rooms": ("rooms",),
    "history": ("history",),
    "find_partner": ("partner",),
    "leave_partner": ("partner",),
    "block": ("block",),
    "unblock": ("block",),
    "set_role": ("moderate",),
    "set_topic": ("moderate",),
    "kick": ("moderate",),
    "ban": ("moderate",),
    "unban": ("moderate",),
    "mute": ("moderate",),
    "unmute": ("moderate",),
    "sanctions": ("moderate",),
    "report": ("report",),
}

# Setting names (environment variables, see config.py) of each bucket's rate and burst.
SETTINGS = {
    "events": ("EVENT_RATE", "EVENT_BURST"),
    "message": ("MESSAGE_RATE", "MESSAGE_BURST"),
    "typing": ("TYPING_RATE", "TYPING_BURST"),
    "react": ("REACT_RATE", "REACT_BURST"),
    "join": ("JOIN_RATE", "JOIN_BURST"),
    "rooms": ("ROOMS_RATE", "ROOMS_BURST"),
    "history": ("HISTORY_RATE", "HISTORY_BURST"),
    "dm": ("DM_RATE", "DM_BURST"),
    "partner": ("PARTNER_RATE", "PARTNER_BURST"),
    "block": ("BLOCK_RATE", "BLOCK_BURST"),
    "moderate": ("MODERATE_RATE", "MODERATE_BURST"),
    "report": ("REPORT_RATE", "REPORT_BURST"),
}
# The setting of `room_create_per_hour`.
ROOM_CREATE_SETTING = "ROOM_CREATE_RATE"


def default_settings() -> dict[str, float | int]:
    """Every budget setting at its default: rates are floats, bursts and the hourly room
    cap ints (config.py reads each from its environment variable of that type)."""
    defaults = Budgets()
    values: dict[str, float | int] = {}
    for bucket, (rate_name, burst_name) in SETTINGS.items():
        budget: Budget = getattr(defaults, bucket)
        values[rate_name] = float(budget.rate)
        values[burst_name] = int(budget.burst)
    values[ROOM_CREATE_SETTING] = defaults.room_create_per_hour
    return values


def budgets_from_settings(settings: Mapping) -> Budgets:
    """Budgets from a settings mapping (the app's config); a missing name keeps its default."""
    defaults = Budgets()
    values: dict = {}
    for bucket, (rate_name, burst_name) in SETTINGS.items():
        if rate_name in settings or burst_name in settings:
            default = getattr(defaults, bucket)
            values[bucket] = Budget(
                float(settings.get(rate_name, default.rate)),
                int(settings.get(burst_name, default.burst)),
            )
    if ROOM_CREATE_SETTING in settings:
        values["room_create_per_hour"] = int(settings[ROOM_CREATE_SETTING])
    return Budgets(**values)


class Throttle:
    """Charges a user's buckets; a refusal is a flood strike only when the client ignored the
    `retry_after` of the previous refusal on that bucket, and too many strikes close the
    connection (ChatError.disconnect)."""

    def __init__(self, limiter: RateLimiter, budgets: Budgets, flood_strikes: int):
        self.limiter = limiter
        self.budgets = budgets
        self.flood_strikes = flood_strikes

    def event(self, user_id: int, event: str | None) -> None:
        """Charge `events`, then the event's own buckets (any event name; unknown: `events`)."""
        self.bucket(user_id, "events")
        for bucket in EVENT_BUCKETS.get(event or "", ()):
            self.bucket(user_id, bucket)

    def bucket(self, user_id: int, bucket: str) -> None:
        """Charge one named bucket of `Budgets`; raises `rate_limited` when it is empty."""
        budget: Budget = getattr(self.budgets, bucket)
        self.charge(f"{bucket}:{user_id}", budget.rate, budget.burst, user_id)

    def charge(self, key: str, rate: float, burst: int, user_id: int) -> None:
        """Take a token from bucket `key`, or raise `rate_limited` with `retry_after`."""
        retry_after, early = self.limiter.take(key, rate, burst)
        if retry_after <= 0:
            return
        out_of_strikes = early and (
            self.limiter.hit(f"strikes:{user_id}", 1.0, self.flood_strikes) > 0
        )
        raise ChatError(
            RATE_LIMITED,
            "You keep sending too fast; this connection is being closed."
            if out_of_strikes
            else f"You are sending too fast; try again in {retry_after:.3f} s.",
            retry_after=retry_after,
            disconnect=out_of_strikes,
        )
