"""Shapes of client->server payloads (protocol v1: socket events, API bodies), checked first."""

from typing import Annotated, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from .domain.errors import INVALID, ChatError
from .domain.rules import (
    MAX_CLIENT_ID_LENGTH,
    MAX_SANCTION_MINUTES,
    check_client_id,
    check_reason,
    check_topic,
)

# Ids travel as JSON numbers; beyond 2**53 JavaScript clients cannot hold them exactly.
MAX_ID = 2**53


class Payload(BaseModel):
    # strict: "5" is not 5 and true is not 1; unknown keys are ignored for forward compatibility
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


class EmptyPayload(Payload):
    """find_partner and leave_partner take `{}`."""


class RoomsPayload(Payload):
    """`rooms` pages by name: the rooms after `after`, at most `limit` (`{}`: the first 100)."""

    after: str | None = Field(default=None, min_length=1, max_length=64)
    limit: int | None = Field(default=None, ge=1, le=100)


class JoinPayload(Payload):
    room: str
    since: int | None = Field(default=None, ge=0, le=MAX_ID)
    # the highest room revision the client holds (ignored without `since`)
    rev: int | None = Field(default=None, ge=0, le=MAX_ID)


class LeavePayload(Payload):
    room: str


def _client_id_rule(value: str | None) -> str | None:
    # a malformed client_id is a malformed payload: refused before any rule about the text
    try:
        return check_client_id(value)
    except ChatError as error:
        raise ValueError(error.message) from None


ClientId = Annotated[
    str | None,
    Field(min_length=1, max_length=MAX_CLIENT_ID_LENGTH),
    AfterValidator(_client_id_rule),
]


# a message of the room, by its id
MessageId = Annotated[int, Field(ge=1, le=MAX_ID)]


class MessagePayload(Payload):
    room: str
    text: str
    client_id: ClientId = None
    reply_to: MessageId | None = None


class PostPayload(Payload):
    """The body of POST /api/rooms/<room>/messages: a message whose room is in the URL."""

    text: str
    client_id: ClientId = None
    reply_to: MessageId | None = None


# edit, delete, react: the text and emoji rules are the domain's, checked after the
# message's existence and the caller's permission (docs/protocol.md gives that order)


class EditPayload(Payload):
    room: str
    id: MessageId
    text: str


class DeletePayload(Payload):
    room: str
    id: MessageId


class ReactPayload(Payload):
    room: str
    id: MessageId
    emoji: str
    on: bool


class TypingPayload(Payload):
    room: str
    typing: bool


class UserPayload(Payload):
    """dm, block and unblock name another user."""

    user: str


class ReportPayload(Payload):
    """`report`: who (a username or a stranger's alias), where, which message, and why."""

    user: str
    reason: str
    room: str | None = None
    message_id: int | None = Field(default=None, ge=1, le=MAX_ID)


def _domain_rule(rule):
    """A domain check (a ChatError) as a pydantic validator: a broken field is a malformed
    payload, refused before the event's other rules."""

    def validate(value):
        try:
            return rule(value)
        except ChatError as error:
            raise ValueError(error.message) from None

    return AfterValidator(validate)


# trimmed; 0-500 characters, "" counts as absent (None)
Reason = Annotated[str | None, _domain_rule(check_reason)]
Minutes = Annotated[int, Field(ge=1, le=MAX_SANCTION_MINUTES)]


class RoomUserPayload(Payload):
    """unban and unmute name a room and a user."""

    room: str
    user: str


class RoomPayload(Payload):
    """sanctions names a public room."""

    room: str


class SetRolePayload(RoomUserPayload):
    role: Literal["moderator", "member"]


class SetTopicPayload(Payload):
    room: str
    topic: Annotated[str, _domain_rule(check_topic)]


class KickPayload(RoomUserPayload):
    reason: Reason = None


class BanPayload(RoomUserPayload):
    minutes: Minutes | None = None
    reason: Reason = None


class MutePayload(RoomUserPayload):
    minutes: Minutes
    reason: Reason = None


class HistoryPayload(Payload):
    room: str
    before: int | None = Field(default=None, ge=1, le=MAX_ID)
    limit: int | None = Field(default=None, ge=1, le=100)


P = TypeVar("P", bound=Payload)


def parse(schema: type[P], args: tuple) -> P:
    """The event's single JSON-object argument as `schema`, or ChatError(invalid)."""
    if len(args) > 1:
        raise ChatError(INVALID, "Send exactly one JSON object per event.")
    data = args[0] if args else {}
    if not isinstance(data, dict):
        raise ChatError(INVALID, "The payload must be a JSON object.")
    try:
        return schema.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ChatError(INVALID, f"{where}: {first['msg']}" if where else first["msg"]) from None
