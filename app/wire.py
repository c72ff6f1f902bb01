"""The wire form of every ack and server->client event (docs/protocol.md), defined once."""

from collections.abc import Callable
from datetime import UTC, datetime

from .domain.models import (
    AccountSuspended,
    DmOpened,
    JoinResult,
    Kicked,
    ListedRoom,
    ListedSanction,
    Message,
    Muted,
    Notice,
    PartnerFound,
    PartnerLeft,
    PresenceChanged,
    ReplyQuote,
    RoomChange,
    RoomsPage,
    RoomSummary,
    RoomUpdated,
    TypingChanged,
    Unmuted,
)


def format_timestamp(ts: datetime) -> str:
    """ISO-8601 UTC with milliseconds and a "Z": 2026-11-22T15:04:05.123Z."""
    if ts.tzinfo is not None:
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ts.microsecond // 1000:03d}Z"


# -- objects -------------------------------------------------------------------------------


def message(m: Message) -> dict:
    """A Message object: the `message` broadcast, and inside acks."""
    return {
        "id": m.id,
        "room": m.room,
        "user": m.user,
        "text": m.text,
        "ts": format_timestamp(m.ts),
        "client_id": m.client_id,
        "reply_to": _quote(m.reply_to),
        "edited_at": None if m.edited_at is None else format_timestamp(m.edited_at),
        "deleted": m.deleted,
        "reactions": {emoji: list(users) for emoji, users in m.reactions},
        "rev": m.rev,
    }


def _quote(quote: ReplyQuote | None) -> dict | None:
    if quote is None:
        return None
    return {"id": quote.id, "user": quote.user, "text": quote.text, "deleted": quote.deleted}


def room(summary: RoomSummary, *, with_role: bool = True) -> dict:
    """The `room` of a join or dm ack (with the caller's `role` and `muted_until`) and of
    `room_updated` (without): private rooms add `with`, pair rooms `active`."""
    data: dict = {"name": summary.name, "topic": summary.topic, "kind": summary.kind}
    if summary.private:
        data["with"] = summary.with_user
    if summary.active is not None:
        data["active"] = summary.active
    data["owner"] = summary.owner
    data["moderators"] = list(summary.moderators)
    if with_role:
        data["role"] = summary.role
        data["muted_until"] = _until(summary.muted_until)
    return data


def listed_room(entry: ListedRoom) -> dict:
    """One entry of the `rooms` ack: a DM's also has `with`."""
    data = {
        "name": entry.room.name,
        "topic": entry.room.topic,
        "online": entry.online,
        "last_message_id": entry.room.last_message_id,
        "kind": entry.room.kind,
    }
    if entry.with_user:
        data["with"] = entry.with_user
    data["owner"] = entry.owner
    data["moderators"] = list(entry.moderators)
    data["role"] = entry.role
    data["muted_until"] = _until(entry.muted_until)
    return data


def sanction(entry: ListedSanction) -> dict:
    """One entry of the `sanctions` ack."""
    return {
        "user": entry.user,
        "kind": entry.kind,
        "until": _until(entry.until),
        "reason": entry.reason,
        "by": entry.by,
        "at": format_timestamp(entry.at),
    }


# -- acks: the fields after "ok": true -----------------------------------------------------


def rooms_ack(page: RoomsPage) -> dict:
    return {"rooms": [listed_room(entry) for entry in page.rooms], "next": page.next_after}


def join_ack(result: JoinResult) -> dict:
    """The ack of `join` and of `dm`."""
    return {
        "room": {**room(result.room), "rev": result.rev},
        "members": result.members,
        "messages": [message(m) for m in result.messages],
        "has_more": result.has_more,
        "updates": [message(m) for m in result.updates],
        "updates_truncated": result.updates_truncated,
    }


def message_ack(m: Message) -> dict:
    """The ack of `message`, and the body of the API's message post."""
    return {"message": message(m)}


def history_ack(messages: list[Message], has_more: bool) -> dict:
    return {"messages": [message(m) for m in messages], "has_more": has_more}


def sanctions_ack(listed: list[ListedSanction]) -> dict:
    """The ack of `sanctions`: the room's bans and mutes still on, newest first."""
    return {"sanctions": [sanction(entry) for entry in listed]}


def find_partner_ack(found: PartnerFound | None) -> dict:
    """`waiting`, or `paired` with the pair's room and the two aliases."""
    if found is None:
        return {"status": "waiting"}
    return {"status": "paired", **_partner_found(found)}


# -- broadcasts: each event's name and payload ---------------------------------------------


def _presence(event: PresenceChanged) -> dict:
    return {"room": event.room, "user": event.user, "status": event.status}


def _typing(event: TypingChanged) -> dict:
    return {"room": event.room, "user": event.user, "typing": event.typing}


def _dm_opened(event: DmOpened) -> dict:
    return {"room": event.room, "user": event.user}


def _partner_found(event: PartnerFound) -> dict:
    return {"room": event.room, "partner": event.partner, "you": event.you}


def _partner_left(event: PartnerLeft) -> dict:
    return {"room": event.room}


def _account_suspended(event: AccountSuspended) -> dict:
    return {}


def _room_updated(event: RoomUpdated) -> dict:
    return {"room": room(event.summary, with_role=False)}


def _until(until) -> str | None:
    return format_timestamp(until) if until is not None else None


def _kicked(event: Kicked) -> dict:
    return {
        "room": event.room,
        "by": event.by,
        "reason": event.reason,
        "banned": event.banned,
        "until": _until(event.until),
    }


def _muted(event: Muted) -> dict:
    return {
        "room": event.room,
        "by": event.by,
        "until": _until(event.until),
        "reason": event.reason,
    }


def _unmuted(event: Unmuted) -> dict:
    return {"room": event.room}


BROADCASTS: dict[type, tuple[str, Callable]] = {
    PresenceChanged: ("presence", _presence),
    TypingChanged: ("typing", _typing),
    DmOpened: ("dm_opened", _dm_opened),
    PartnerFound: ("partner_found", _partner_found),
    PartnerLeft: ("partner_left", _partner_left),
    AccountSuspended: ("account_suspended", _account_suspended),
    RoomUpdated: ("room_updated", _room_updated),
    Kicked: ("kicked", _kicked),
    Muted: ("muted", _muted),
    Unmuted: ("unmuted", _unmuted),
}


def event(change: RoomChange | Notice) -> tuple[str, dict]:
    """The Socket.IO event name and payload of a broadcast other than `message`."""
    name, payload = BROADCASTS[type(change)]
    return name, payload(change)
