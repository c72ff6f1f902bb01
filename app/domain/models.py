"""Value objects the domain hands around: identities, rooms and messages."""

from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is behind a connection; `expires_at` (epoch seconds) when a token vouched for it."""

    user_id: int
    username: str
    expires_at: float | None = None


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
    room: str
    partner: Seat


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    room: str
    user: str
    text: str
    ts: datetime
    client_id: str | None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "room": self.room,
            "user": self.user,
            "text": self.text,
            "ts": format_timestamp(self.ts),
            "client_id": self.client_id,
        }


def utc_now() -> datetime:
    """Now in UTC, naive, cut to milliseconds so a stored time reads back identically."""
    now = datetime.now(UTC).replace(tzinfo=None)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def format_timestamp(ts: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a "Z": 2026-11-22T15:04:05.123Z."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"
