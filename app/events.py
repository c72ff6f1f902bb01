"""Socket.IO event handlers (protocol v1): validate the payload, call the domain, ack."""

import logging
from collections.abc import Callable
from functools import wraps

from flask import current_app, request, session
from flask_login import current_user
from flask_socketio import ConnectionRefusedError

from . import wire
from .domain.errors import INTERNAL, INVALID, RATE_LIMITED, ChatError
from .domain.models import Identity, JoinResult
from .domain.services import ChatServices
from .extensions import db, socketio
from .payloads import (
    BanPayload,
    DeletePayload,
    EditPayload,
    EmptyPayload,
    HistoryPayload,
    JoinPayload,
    KickPayload,
    LeavePayload,
    MessagePayload,
    MutePayload,
    Payload,
    ReactPayload,
    ReportPayload,
    RoomPayload,
    RoomsPayload,
    RoomUserPayload,
    SetRolePayload,
    SetTopicPayload,
    TypingPayload,
    UserPayload,
    parse,
)
from .tokens import token_account
from .transport import hold_room_locks

log = logging.getLogger(__name__)


def chat() -> ChatServices:
    return current_app.extensions["chat"]


def error_ack(error: ChatError) -> dict:
    return {"ok": False, "error": error.to_dict()}


# Event name -> handler, for app.transport.install() to register on each server init_app makes
HANDLERS: dict[str, Callable] = {}


def handles(event: str, schema: type[Payload]) -> Callable:
    """Declare `fn(sid, payload) -> dict` the handler of `event` (in HANDLERS), turning every
    outcome into an ack.

    Registered with python-socketio directly (app.transport.install), not through
    Flask-SocketIO's `on`: that one pushes a full request context for every event (a Request,
    URL matching, the session cookie decoded: about 60 µs, docs/performance.md), and these
    handlers need only the app context (the database session, `current_app`)."""

    def decorator(fn: Callable[[str, Payload], dict]) -> Callable:
        @wraps(fn)
        def handler(sid: str, *args):
            environ = socketio.server.get_environ(sid)
            if environ is None:  # gone between the packet and its dispatch
                return error_ack(ChatError(INVALID, "This connection is closed."))
            with environ["flask.app"].app_context():
                return _answer(event, fn, sid, schema, args)

        HANDLERS[event] = handler
        return handler

    return decorator


def _answer(event: str, fn: Callable, sid: str, schema: type[Payload], args: tuple) -> dict:
    with current_app.extensions["in_flight"].track():
        try:
            payload = _parse_charged(sid, schema, args)
            # shape first, then credentials and the user's budgets, then the event's rules
            chat().connections.charge(sid, event)
            return {"ok": True, **fn(sid, payload)}
        except ChatError as error:
            return _refused(event, sid, error)
        except Exception:
            log.exception("%s from %s failed", event, sid)
            db.session.rollback()
            return error_ack(ChatError(INTERNAL, "Something went wrong on the server."))


def _parse_charged(sid: str, schema: type[Payload], args: tuple) -> Payload:
    """Parse a payload; a malformed one still draws on the shared `events` bucket, so a flood
    of them is `rate_limited` (and, ignored, closed) like any other flood."""
    try:
        return parse(schema, args)
    except ChatError as malformed:
        try:
            chat().connections.charge(sid, None)
        except ChatError as refused:
            if refused.code == RATE_LIMITED:
                raise refused from None
        raise malformed from None


def _refused(event: str | None, sid: str, error: ChatError) -> dict:
    """The ack of a refusal; a flooder's connection is closed once it has been sent."""
    level = logging.WARNING if error.code == INVALID else logging.INFO
    log.log(level, "%s from %s refused: %s %s", event, sid, error.code, error.message)
    if error.disconnect:
        socketio.start_background_task(_disconnect_after_ack, sid)
    return error_ack(error)


def refuse_stray_event(sid: str, name) -> dict:
    """The ack for an unknown or reserved event name: `invalid`, after charging the shared
    `events` bucket (so a flood of them is `rate_limited` and, ignored, closed)."""
    environ = socketio.server.get_environ(sid)
    if environ is None:
        return error_ack(ChatError(INVALID, "This connection is closed."))
    with environ["flask.app"].app_context():
        return _charged_refusal(sid, None, f"{name!r} is not an event a client may send.")


def _charged_refusal(sid: str, event: str | None, message: str) -> dict:
    """`invalid` with `message` for an event no handler takes, once it is charged to the
    shared `events` bucket (the refusal of that bucket instead, when it is empty)."""
    try:
        chat().connections.charge(sid, None)
    except ChatError as error:
        return _refused(event, sid, error)
    return error_ack(ChatError(INVALID, message))


def _disconnect_after_ack(sid: str) -> None:
    # the ack is written after the handler returns; give it a moment to leave first
    socketio.sleep(0.2)
    socketio.server.disconnect(sid, namespace="/")


@socketio.on("connect")
def on_connect(auth=None):
    """Sent by every client on connect: accepted with a session cookie or `auth: {token}`,
    up to MAX_CONNECTIONS_PER_USER connections per user."""
    identity = _authenticate(auth)
    if identity is None:
        raise ConnectionRefusedError("unauthorized")
    cap = current_app.config["MAX_CONNECTIONS_PER_USER"]
    if not chat().connections.connect(request.sid, identity, cap):
        log.warning("connection of %s refused: too many connections", identity.username)
        raise ConnectionRefusedError("too_many_connections")
    current_app.extensions["suspension_sweeper"].start()  # once per process


def _authenticate(auth) -> Identity | None:
    """Who connects (None: no one); a suspended account is refused with `suspended`."""
    token = auth.get("token") if isinstance(auth, dict) else None
    extensions = current_app.extensions
    if token is not None:
        found = token_account(token, extensions["tokens"], extensions["accounts"])
        if found is None:
            return None
        account, expires_at = found
        if account.suspended:
            raise ConnectionRefusedError("suspended")
        return Identity(account.id, account.username, expires_at)
    if current_user.is_authenticated:
        return Identity(current_user.id, current_user.username)
    # Flask-Login's loader signs a suspended account's session out: say why it is refused
    session_user = session.get("_user_id")
    if (
        isinstance(session_user, str)
        and session_user.isdigit()
        and extensions["accounts"].repository.is_suspended(int(session_user))
    ):
        raise ConnectionRefusedError("suspended")
    return None


@socketio.on("disconnect")
def on_disconnect(reason=None):
    """Fired when a client goes away; broadcasts `presence` left where it was the user's last."""
    chat().connections.disconnect(request.sid)


@socketio.on("*")
def on_unknown(event, *args):
    """Any event protocol v1 does not define: answered with `invalid`, nothing broadcast."""
    log.warning("unknown event %r from %s", event, request.sid)
    return _charged_refusal(request.sid, event, f"Unknown event {event!r}.")


@handles("rooms", RoomsPayload)
def on_rooms(sid: str, payload: RoomsPayload) -> dict:
    """Any client lists a page of the public rooms (and its DMs); nothing is broadcast."""
    return wire.rooms_ack(chat().rooms.page(sid, payload.after, payload.limit))


@handles("join", JoinPayload)
def on_join(sid: str, payload: JoinPayload) -> dict:
    """A client enters a room (created if new); `presence` joined goes to the room's others."""
    return _joined(
        lambda service: service.rooms.join(sid, payload.room, payload.since, payload.rev)
    )


def _joined(enter: Callable[[ChatServices], JoinResult]) -> dict:
    """Run a join (`enter`) and build its ack; the room stays locked until the ack is queued
    (app/transport/acks.py) so no broadcast can overtake it."""
    service = chat()
    hold_room_locks()
    return wire.join_ack(enter(service))


@handles("leave", LeavePayload)
def on_leave(sid: str, payload: LeavePayload) -> dict:
    """A client leaves a room; `presence` left goes to the room if that was the user's last tab."""
    chat().rooms.leave(sid, payload.room)
    return {}


@handles("message", MessagePayload)
def on_message(sid: str, payload: MessagePayload) -> dict:
    """A member posts; once stored, `message` goes to the whole room, sender's tabs included."""
    message = chat().messages.post(
        sid, payload.room, payload.text, payload.client_id, payload.reply_to
    )
    return wire.message_ack(message)


@handles("edit", EditPayload)
def on_edit(sid: str, payload: EditPayload) -> dict:
    """The author changes a message's text; the room gets `message_updated` (and one per
    reply quoting it)."""
    return wire.message_ack(chat().messages.edit(sid, payload.room, payload.id, payload.text))


@handles("delete", DeletePayload)
def on_delete(sid: str, payload: DeletePayload) -> dict:
    """The author or the room's staff deletes a message (a tombstone); the room gets
    `message_updated` (and one per reply quoting it)."""
    return wire.message_ack(chat().messages.delete(sid, payload.room, payload.id))


@handles("react", ReactPayload)
def on_react(sid: str, payload: ReactPayload) -> dict:
    """A member adds or removes a reaction; the room gets `message_updated`."""
    message = chat().messages.react(sid, payload.room, payload.id, payload.emoji, payload.on)
    return wire.message_ack(message)


@handles("typing", TypingPayload)
def on_typing(sid: str, payload: TypingPayload) -> dict:
    """A member starts or stops typing; `typing` goes to the room's other users."""
    chat().messages.typing(sid, payload.room, payload.typing)
    return {}


@handles("history", HistoryPayload)
def on_history(sid: str, payload: HistoryPayload) -> dict:
    """Any client pages back through a room's messages; nothing is broadcast."""
    messages, has_more = chat().messages.history(sid, payload.room, payload.before, payload.limit)
    return wire.history_ack(messages, has_more)


@handles("dm", UserPayload)
def on_dm(sid: str, payload: UserPayload) -> dict:
    """A client opens a direct-message room and joins it; the other user gets `dm_opened`."""
    return _joined(lambda service: service.direct.open(sid, payload.user))


@handles("find_partner", EmptyPayload)
def on_find_partner(sid: str, payload: EmptyPayload) -> dict:
    """A client asks for a stranger; when matched both get `partner_found` (a partner left by
    "Next" gets `partner_left`)."""
    return wire.find_partner_ack(chat().strangers.find_partner(sid))


@handles("leave_partner", EmptyPayload)
def on_leave_partner(sid: str, payload: EmptyPayload) -> dict:
    """A client stops waiting or ends its pair; the partner gets `partner_left`."""
    chat().strangers.leave_partner(sid)
    return {}


@handles("block", UserPayload)
def on_block(sid: str, payload: UserPayload) -> dict:
    """A client blocks a user; a current stranger pair with them ends (`partner_left`)."""
    chat().direct.block(sid, payload.user)
    return {}


@handles("unblock", UserPayload)
def on_unblock(sid: str, payload: UserPayload) -> dict:
    """A client lifts a block; nothing is broadcast."""
    chat().direct.unblock(sid, payload.user)
    return {}


@handles("report", ReportPayload)
def on_report(sid: str, payload: ReportPayload) -> dict:
    """A client reports a user for the admins; a stranger report ends that chat
    (`partner_left` to the other). The answer never says more than `ok`."""
    chat().reports.report(sid, payload.user, payload.reason, payload.room, payload.message_id)
    return {}


@handles("set_role", SetRolePayload)
def on_set_role(sid: str, payload: SetRolePayload) -> dict:
    """The room's owner or an admin appoints or removes a moderator; the room gets
    `room_updated`."""
    chat().moderation.set_role(sid, payload.room, payload.user, payload.role)
    return {}


@handles("set_topic", SetTopicPayload)
def on_set_topic(sid: str, payload: SetTopicPayload) -> dict:
    """A moderator and up sets the room's topic; the room gets `room_updated`."""
    chat().moderation.set_topic(sid, payload.room, payload.topic)
    return {}


@handles("kick", KickPayload)
def on_kick(sid: str, payload: KickPayload) -> dict:
    """A moderator and up takes a user out of the room; their connections get `kicked`."""
    chat().moderation.kick(sid, payload.room, payload.user, payload.reason)
    return {}


@handles("ban", BanPayload)
def on_ban(sid: str, payload: BanPayload) -> dict:
    """A moderator and up bans a user (kicked, then kept out); their connections get
    `kicked` with `banned`."""
    chat().moderation.ban(sid, payload.room, payload.user, payload.minutes, payload.reason)
    return {}


@handles("unban", RoomUserPayload)
def on_unban(sid: str, payload: RoomUserPayload) -> dict:
    """A moderator and up lifts a ban; nothing is broadcast."""
    chat().moderation.unban(sid, payload.room, payload.user)
    return {}


@handles("mute", MutePayload)
def on_mute(sid: str, payload: MutePayload) -> dict:
    """A moderator and up mutes a user in the room; their connections get `muted`."""
    chat().moderation.mute(sid, payload.room, payload.user, payload.minutes, payload.reason)
    return {}


@handles("unmute", RoomUserPayload)
def on_unmute(sid: str, payload: RoomUserPayload) -> dict:
    """A moderator and up lifts a mute; the user's connections get `unmuted`."""
    chat().moderation.unmute(sid, payload.room, payload.user)
    return {}


@handles("sanctions", RoomPayload)
def on_sanctions(sid: str, payload: RoomPayload) -> dict:
    """A moderator and up lists the room's bans and mutes still on; nothing is broadcast."""
    return wire.sanctions_ack(chat().moderation.sanctions(sid, payload.room))
