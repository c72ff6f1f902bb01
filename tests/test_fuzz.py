"""Property-based fuzzing (hypothesis) of every client->server event (docs/protocol.md).

Each example opens a fresh connection for the user `fuzzer`, joins it to its own room (HOME),
sends one fuzzed event (random JSON values, right keys with wrong values, edge-case strings,
zero or several arguments) and checks against the protocol:

- the ack is an object: a success with exactly the documented fields and the values a model
  of the server's rooms predicts, or an error of the documented shape whose code is one the
  protocol allows for that payload, and never `internal` (a crashed handler);
- no exception escapes, the connection stays open and `rooms` still answers (except for
  binary data, which protocol v1 refuses by closing the connection, unanswered);
- isolation: a second user, `watcher`, sits only in room OBSERVED and receives exactly the
  events of that room the fuzzer caused; a message lands only in the room its payload names
  (checked with `history` and every public room's `last_message_id`); nobody is left online
  once the fuzzer disconnects.

Rooms start with a seeded history; after that only `fuzzer` posts, so a model of every room's
messages predicts `join`, `history` and `rooms` answers exactly. The app is built once per
test (not per example) with rate limits out of the way; each example takes about 20 ms.
"""

import re
import unicodedata
from collections import defaultdict
from contextlib import suppress

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st

from app.events import HANDLERS
from app.transport.packets import MAX_JSON_DEPTH
from tests.support.sockets import ERROR_CODES, JOIN_ACK_KEYS, Server, events

FUZZER = "fuzzer"
WATCHER = "watcher"
OBSERVED = "observed"
HOME = "fuzz-home"
GENERAL = "general"
EVENTS = ("rooms", "join", "leave", "message", "typing", "history")
MAX_ID = 2**53
MAX_TEXT = 4000
MAX_CLIENT_ID = 64
JOIN_PAGE = 50
CATCH_UP_MAX = 500
HISTORY_DEFAULT = 50
HISTORY_MAX = 100
SEEDED = {HOME: 130, OBSERVED: 55, GENERAL: 3}  # messages stored before fuzzing
NO_LIMITS = {
    "MESSAGE_RATE": 1e6,
    "MESSAGE_BURST": 10**6,
    "TYPING_RATE": 1e6,
    "TYPING_BURST": 10**6,
    **{f"{bucket}_RATE": 1e6 for bucket in ("EVENT", "JOIN", "ROOMS", "HISTORY")},
    **{f"{bucket}_BURST": 10**6 for bucket in ("EVENT", "JOIN", "ROOMS", "HISTORY")},
    "ROOM_CREATE_RATE": 10**6,
    # the watcher's model expects every presence change at once, not coalesced
    "PRESENCE_COALESCE": 0,
}
ROOMS_PAGE_MAX = 100

# Written from docs/protocol.md, not imported from the app.
PUBLIC_ROOM = re.compile(r"[a-z0-9_-]{1,64}")
PRIVATE_ROOM = re.compile(r"(dm|pair):[a-z0-9_.:-]{1,64}")
TS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
MESSAGE_KEYS = {
    "id", "room", "user", "text", "ts", "client_id",
    "reply_to", "edited_at", "deleted", "reactions", "rev",
}  # fmt: skip
# docs/protocol.md "Moderation": who runs the room, and the caller's role and mute there
STAFF_KEYS = {"owner", "moderators", "role", "muted_until"}
ROOM_KEYS = {"name", "topic", "online", "last_message_id", "kind"} | STAFF_KEYS
# The error codes each event may answer with (docs/protocol.md); `internal` is never wanted.
DOCUMENTED_ERRORS = {
    "rooms": {"invalid", "unauthorized"},
    "join": {"invalid", "forbidden", "unauthorized"},
    "leave": {"invalid", "not_in_room", "unauthorized"},
    "message": {
        "invalid",
        "too_large",
        "forbidden",
        "not_in_room",
        "rate_limited",
        "unauthorized",
    },
    "typing": {"invalid", "forbidden", "not_in_room", "rate_limited", "unauthorized"},
    "history": {"invalid", "not_found", "forbidden", "unauthorized"},
}
UNKNOWN_ERRORS = {"invalid"}

# About 20 ms an example: the whole file stays under half a minute.
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ_NAMES = settings(FUZZ, max_examples=60)

# -- strategies ------------------------------------------------------------------------------

SPECIAL_STRINGS = [
    "\x00",
    "\x00\x00",
    "\ud800",  # lone high surrogate
    "\udbff",
    "\udc00",  # lone low surrogate
    "\udfff",
    "\udfff\ud800",  # a surrogate "pair" in the wrong order
    "\u202e",  # RIGHT-TO-LEFT OVERRIDE
    "\u202d",
    "\u200f",  # RIGHT-TO-LEFT MARK
    "\u200e",  # LEFT-TO-RIGHT MARK
    "\u2066",
    "\u2069",
    "\u200d",  # ZERO WIDTH JOINER
    "\u200c",
    "\u200b",  # ZERO WIDTH SPACE (not whitespace for str.strip)
    "\u2060",
    "\ufeff",
    "\u0301",  # a combining accent with nothing to combine with
    "e\u0301",
    "\u0336\u0336\u0336",
    "\U0001f600",  # 😀
    "\U0001f468\u200d\U0001f469\u200d\U0001f467\u200d\U0001f466",  # family (ZWJ sequence)
    "\U0001f3f3\ufe0f\u200d\U0001f308",  # rainbow flag
    "\U0001f1fa\U0001f1f3",  # a regional-indicator flag
    "\U0001f44d\U0001f3fd",  # skin-tone modifier
    "\u05e9\u05dc\u05d5\u05dd",  # Hebrew
    "\u0645\u0631\u062d\u0628\u0627",  # Arabic
    "\U0010ffff",
    "\uffff",
    "\ufffe",
    "\ufffd",
    " ",
    "\t",
    "\n",
    "\r\n",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1f",
    "\x7f",
    "\x85",
    "\xa0",
    "\u1680",
    "\u2028",
    "\u2029",
    "\u3000",
    "\u212a",  # KELVIN SIGN (lowercases to "k")
    "\u0131",  # dotless i
    "\xdf",
    "\uff41",  # fullwidth a
    "\u0663",  # Arabic-Indic digit three
    "a",
    "z",
    "0",
    "-",
    "_",
    ".",
    ":",
    "dm:",
    "pair:",
    OBSERVED,
    HOME,
    GENERAL,
    "'",
    '"',
    "\\",
    "%s",
    "{}",
    "<script>alert(1)</script>",
    "'; DROP TABLE messages; --",
]
# Python's str.strip() whitespace, which "trimmed" means on this server.
WHITESPACE = (
    " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u200a\u2028\u2029\u202f\u205f\u3000"
)
# Single code points, so that `unit * n` is exactly n characters long.
UNITS = ["a", "\U0001f600", "\u202e", "\u200d", "\u05d0", "\u0301", "\xe9", "\U0010ffff", " "]


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """One of the strategies, picked in proportion to its weight."""
    return st.sampled_from([s for weight, s in choices for _ in range(weight)]).flatmap(
        lambda strategy: strategy
    )


def has_surrogate(text: str) -> bool:
    return any(0xD800 <= ord(char) <= 0xDFFF for char in text)


def is_clean(text: str) -> bool:
    """Free of the two things a message may not contain: NUL and lone surrogates."""
    return "\x00" not in text and not has_surrogate(text)


edge_text = st.lists(
    st.one_of(st.sampled_from(SPECIAL_STRINGS), st.characters(codec=None)), max_size=30
).map("".join)
# the same edge cases, minus the two a message may not contain (NUL, lone surrogates)
clean_edge_text = st.lists(
    st.sampled_from([special for special in SPECIAL_STRINGS if is_clean(special)]), max_size=30
).map("".join)
whitespace_text = st.text(st.sampled_from(WHITESPACE), max_size=20)


@st.composite
def boundary_text(draw) -> str:
    """Around the 4000-character limit (3990-4010 after trimming), padded with whitespace."""
    size = draw(st.integers(3990, 4010))
    body = draw(st.sampled_from(UNITS)) * size
    splice = draw(st.sampled_from(["", *SPECIAL_STRINGS]))
    if splice:
        at = draw(st.integers(0, size))
        body = body[:at] + splice + body[at + len(splice) :]
    return draw(whitespace_text) + body + draw(whitespace_text)


@st.composite
def huge_text(draw) -> str:
    """Far over every limit: up to 100k characters (the test client skips the 64 KiB cap)."""
    size = draw(st.sampled_from([10_000, 65_536, 100_000]))
    return draw(st.sampled_from(UNITS)) * size + draw(st.sampled_from(["", *SPECIAL_STRINGS]))


texts = st.one_of(
    st.text(max_size=50),
    st.text(st.characters(codec=None), max_size=50),  # lone surrogates included
    edge_text,
    clean_edge_text.map(lambda text: f" {text} "),
    whitespace_text,
    whitespace_text.map(lambda padding: padding + "\x00" + padding),
    boundary_text(),
    huge_text(),
)
# message texts: mostly storable, so that many examples get as far as being stored
message_texts = weighted(
    (4, st.text(min_size=1, max_size=50)),
    (3, clean_edge_text.filter(str.strip)),
    (2, st.tuples(whitespace_text, clean_edge_text, whitespace_text).map("".join)),
    (2, boundary_text()),
    (1, huge_text()),
    (1, whitespace_text),
    (1, whitespace_text.map(lambda padding: padding + "\x00" + padding)),
    (1, st.text(st.characters(codec=None), max_size=50)),
    (1, edge_text),
)
integers = st.one_of(
    st.integers(),
    st.integers(-(2**70), 2**70),
    st.sampled_from(
        [0, 1, -1, 2, 50, 99, 100, 101, 499, 500, 501, 2**31 - 1, 2**31, 2**53 - 1, 2**53]
        + [2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, 10**30, -(10**30)]
    ),
)
floats = st.one_of(
    st.floats(),  # NaN and infinities included: Python clients can send them
    st.sampled_from([0.0, -0.0, 1.0, 5.0, 1.5, 100.0, 1e308, 2.0**53, -1.0]),
)
keys = st.one_of(
    st.sampled_from(
        [
            "room",
            "text",
            "client_id",
            "since",
            "before",
            "limit",
            "typing",
            "after",
            "Room",
            "room ",
            "",
        ]
    ),
    st.text(max_size=8),
    edge_text,
)
leaves = st.one_of(
    st.none(), st.booleans(), integers, floats, texts, st.binary(max_size=16)
)  # bytes travel as Socket.IO binary attachments, which close the connection
json_values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=4)
    ),
    max_leaves=10,
)
deeply_nested = st.integers(1, 200).flatmap(
    lambda depth: st.sampled_from([[], {}, "x", None]).map(lambda leaf: _nest(leaf, depth))
)


def _nest(leaf, depth: int):
    value = leaf
    for level in range(depth):
        value = [value] if level % 2 else {"room": value}
    return value


anything = st.one_of(json_values, deeply_nested)

room_names = weighted(
    (4, st.sampled_from([OBSERVED, HOME, GENERAL])),
    (3, st.from_regex(r"[a-z0-9_-]{1,64}", fullmatch=True)),
    (1, st.from_regex(r"(dm|pair):[a-z0-9_.:-]{1,64}", fullmatch=True)),
    (
        2,
        st.sampled_from(
            ["dm:alice:bob", "pair:1.2", "dm:", "dm:x", "DM:x", "x:y", "Observed", "observed\n"]
            + [" observed", "observed\x00", "obs\u200berved", "observed\u202e", "\uff4f\uff42"]
            + ["\u212aelvin", "a" * 64, "a" * 65, "", "dm:" + "a" * 64, "dm:" + "a" * 65, "-"]
            + ["_", "a.b", "\ud800", "room\udfff", "general\u200f", "g\u0435neral"]
        ),
    ),
    (1, edge_text),
    (1, st.text(max_size=70)),
)
client_ids = weighted(
    (3, st.none()),
    (2, st.sampled_from(["retry-1", "retry-2", "x" * 64, "\U0001f600" * 64, "id\u202e"])),
    (1, st.sampled_from(["seed-3", "seed-9", "seed-1"])),  # seeded ids: 3 and 9 are the fuzzer's
    (2, st.text(min_size=1, max_size=64)),
    (1, st.sampled_from(["x" * 65, "\U0001f600" * 65, "", " ", "\x00", "a\x00b", "\ud800"])),
    (1, edge_text),
    (1, st.text(st.characters(codec=None), max_size=70)),
)
ids = weighted(
    (2, st.none()),
    (3, st.integers(0, 60)),
    (1, st.sampled_from([0, 1, MAX_ID - 1, MAX_ID, MAX_ID + 1, -1, 2**63, 2**64, 5.0, 1.5])),
    (1, integers),
    (1, anything),
)
limits = weighted(
    (2, st.none()),
    (3, st.integers(1, 100)),
    (1, st.integers(-2, 102)),
    (1, integers),
    (1, anything),
)


def fields(**strategies) -> st.SearchStrategy:
    """Objects with the event's keys, some missing or fuzzed, plus junk keys the server ignores."""
    required = st.fixed_dictionaries(strategies)
    optional = st.fixed_dictionaries({}, optional=strategies)
    fuzzed = st.fixed_dictionaries(
        {}, optional={key: st.one_of(value, anything) for key, value in strategies.items()}
    )
    extra = st.dictionaries(keys, anything, max_size=3)
    base = weighted((6, required), (1, optional), (1, fuzzed))
    with_junk = st.tuples(extra, base).map(lambda pair: {**pair[0], **pair[1]})
    return weighted((3, base), (1, with_junk))


def arguments(payloads: st.SearchStrategy) -> st.SearchStrategy:
    """The event's argument list: mostly one payload, sometimes none, several or not an object."""
    one = payloads.map(lambda payload: (payload,))
    return weighted(
        (12, one),
        (1, st.just(())),
        (1, anything.map(lambda value: (value,))),
        (1, st.tuples(payloads, anything)),
        (1, st.lists(anything, min_size=2, max_size=4).map(tuple)),
    )


PAYLOADS = {
    "rooms": fields(after=room_names, limit=st.integers(-2, 120)),
    "join": fields(room=room_names, since=ids),
    "leave": fields(room=room_names),
    "message": fields(room=room_names, text=message_texts, client_id=client_ids),
    "typing": fields(room=room_names, typing=st.booleans()),
    "history": fields(room=room_names, before=ids, limit=limits),
}
# Names the Socket.IO libraries treat specially; to the protocol they are unknown events.
RESERVED_NAMES = ("connect", "disconnect", "*")
unknown_names = st.one_of(
    st.sampled_from(["connect_error", "json", "error", "Message", "JOIN", "rooms ", "rooms\x00"]),
    st.sampled_from(["history\u200b", "newListener", "", " ", "\x00", "\ud800"]),
    st.text(max_size=20),
    edge_text,
).filter(lambda name: name not in HANDLERS and name not in RESERVED_NAMES)
non_string_names = st.one_of(
    st.none(),
    st.booleans(),
    integers,
    floats,
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


class _OwnToken:
    """Stands for `{"token": <the fuzzer's own valid token>}` in generated arguments."""

    def __repr__(self) -> str:
        return "OWN_TOKEN"


OWN_TOKEN = _OwnToken()
unknown_args = st.lists(anything, max_size=3).map(tuple)


# -- the oracle: which outcomes the protocol allows ------------------------------------------

OK = "ok"
INVALID = "invalid"
EITHER = "either"  # the protocol does not settle it (an integral float for an integer, ...)


def valid_room(name: str) -> bool:
    return bool(PUBLIC_ROOM.fullmatch(name) or PRIVATE_ROOM.fullmatch(name))


def is_private(name: str) -> bool:
    return PRIVATE_ROOM.fullmatch(name) is not None


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def required_str(value) -> str:
    return OK if isinstance(value, str) else INVALID


def optional_after(value) -> str:
    """`rooms`'s `after`: absent, or a string of 1-64 characters (no lone surrogate)."""
    if value is None:
        return OK
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        return INVALID
    return OK if value.encode("utf-8", "replace").decode() == value else INVALID


def optional_id(value, low: int, high: int) -> str:
    if value is None:
        return OK
    if is_int(value):
        return OK if low <= value <= high else INVALID
    if isinstance(value, float) and value.is_integer() and low <= value <= high:
        return EITHER  # JSON has only numbers: 5.0 may or may not count as the integer 5
    return INVALID


def strict_bool(value) -> str:
    return OK if isinstance(value, bool) else INVALID


def optional_client_id(value) -> str:
    if value is None:
        return OK
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_CLIENT_ID:
        return INVALID
    if has_surrogate(value) or any(unicodedata.category(char) == "Cc" for char in value):
        return INVALID  # the doc: no control characters, no lone surrogates
    return OK


def text_errors(text: str) -> set[str]:
    trimmed = text.strip()
    if not trimmed:
        return {"invalid"}
    errors = set()
    if len(trimmed) > MAX_TEXT:
        errors.add("too_large")
    if "\x00" in trimmed or has_surrogate(trimmed):
        errors.add("invalid")
    return errors


class Model:
    """What the server should hold: every room's messages and the fuzzer's client ids."""

    def __init__(self):
        self.messages: dict[str, list[dict]] = defaultdict(list)
        self.by_client_id: dict[tuple[str, str, str], dict] = {}  # (room, user, client_id)

    def add(self, message: dict) -> None:
        self.messages[message["room"]].append(message)
        if message["client_id"] is not None:
            key = (message["room"], message["user"], message["client_id"])
            self.by_client_id[key] = message

    def last_id(self, room: str) -> int | None:
        messages = self.messages.get(room)
        return messages[-1]["id"] if messages else None


def nesting(value) -> int:
    """How deep lists and dicts nest in `value` (0 for a scalar)."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return 1 + max(map(nesting, value), default=0)
    return 0


def carries_bytes(value) -> bool:
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list | tuple):
        return any(map(carries_bytes, value))
    return isinstance(value, bytes | bytearray)


def allowed_outcomes(event, args: tuple, joined: set[str], existing: set[str], model: Model):
    """Every outcome ("ok" or an error code) the protocol allows for this call."""
    if event not in EVENTS or len(args) > 1:
        return {INVALID}
    if nesting([event, *args]) > MAX_JSON_DEPTH:  # refused before the event's own checks
        return {INVALID}
    data = args[0] if args else {}
    if not isinstance(data, dict):
        return {INVALID}
    room = data.get("room")
    shape = {
        "rooms": lambda: [
            optional_after(data.get("after")),
            optional_id(data.get("limit"), 1, ROOMS_PAGE_MAX),
        ],
        "join": lambda: [required_str(room), optional_id(data.get("since"), 0, MAX_ID)],
        "leave": lambda: [required_str(room)],
        "message": lambda: [
            required_str(room),
            required_str(data.get("text")),
            optional_client_id(data.get("client_id")),
        ],
        "typing": lambda: [required_str(room), strict_bool(data.get("typing"))],
        "history": lambda: [
            required_str(room),
            optional_id(data.get("before"), 1, MAX_ID),
            optional_id(data.get("limit"), 1, HISTORY_MAX),
        ],
    }[event]
    verdicts = shape()
    if INVALID in verdicts:
        return {INVALID}
    if event == "rooms":
        outcomes = {OK}
    elif not valid_room(room):
        outcomes = {INVALID}
    elif event == "join":
        outcomes = {"forbidden"} if is_private(room) else {OK}
    elif event == "history":
        if is_private(room):
            outcomes = {"forbidden"}
        else:
            outcomes = {OK} if room in existing else {"not_found"}
    elif event == "typing" and is_private(room):
        outcomes = {"forbidden"}  # the fuzzer is a member of no private room
    elif event in ("leave", "typing"):
        outcomes = {OK} if room in joined else {"not_in_room"}
    else:  # message: the event's own rules, in an order the protocol leaves open
        errors = text_errors(data["text"])
        client_id = data.get("client_id")
        retry = client_id is not None and (room, FUZZER, client_id) in model.by_client_id
        if is_private(room):
            errors.add("forbidden")
        elif room not in joined:
            errors.add("not_in_room")
        # a retry's text is not compared; refusing a broken one is fair as well
        outcomes = errors | {OK} if retry else errors or {OK}
    if EITHER in verdicts:
        outcomes |= {INVALID}
    return outcomes


# -- checks ----------------------------------------------------------------------------------


def outcome_of(event, ack) -> str:
    """The outcome, OK or an error code, once the ack is checked to have the documented shape."""
    assert isinstance(ack, dict), f"{event!r} was answered {ack!r}, not an object"
    assert "ok" in ack, ack
    if ack["ok"] is True:
        return OK
    assert ack["ok"] is False, ack
    assert set(ack) == {"ok", "error"}, ack
    error = ack["error"]
    assert isinstance(error, dict), ack
    code = error.get("code")
    assert code in ERROR_CODES, ack
    assert code != "internal", f"a handler crashed on {event!r}: {ack}"
    allowed = (
        DOCUMENTED_ERRORS.get(event, UNKNOWN_ERRORS) if isinstance(event, str) else UNKNOWN_ERRORS
    )
    assert code in allowed, ack
    assert isinstance(error.get("message"), str), ack
    assert error["message"].strip(), ack
    expected_keys = {"code", "message"} | ({"retry_after"} if code == "rate_limited" else set())
    assert set(error) == expected_keys, ack
    return code


def check_message(message, *, room: str) -> None:
    assert isinstance(message, dict), message
    assert set(message) == MESSAGE_KEYS, message
    assert is_int(message["id"]), message
    assert message["id"] >= 1, message
    assert message["room"] == room, message
    assert message["user"] == FUZZER, message
    assert isinstance(message["text"], str), message
    assert isinstance(message["ts"], str), message
    assert TS.fullmatch(message["ts"]), message
    assert message["client_id"] is None or isinstance(message["client_id"], str), message


def expected_page(messages: list[dict], *, before=None, since=None, limit: int, newest: bool):
    """A page of a room's messages, oldest first, and whether more exist beyond it."""
    pool = [
        message
        for message in messages
        if (before is None or message["id"] < before) and (since is None or message["id"] > since)
    ]
    page = pool[-limit:] if newest else pool[:limit]
    return page, len(pool) > limit


def presence(status: str) -> tuple:
    return ("presence", {"room": OBSERVED, "user": FUZZER, "status": status})


class Harness:
    """One app, a watcher in OBSERVED, and a fresh fuzzer connection per example."""

    def __init__(self, server: Server):
        self.server = server
        self.model = Model()
        server.token(FUZZER)  # registered up front
        self.watcher = server.connect(WATCHER)
        self.ok(self.watcher, "join", {"room": OBSERVED})
        events(self.watcher)
        self.seed()
        self.resync()

    def seed(self) -> None:
        """Rooms with history (more than a join page, more than a history page), stored in one
        transaction straight into the tables: a commit per message would cost a second."""
        from sqlalchemy import update

        from app.domain.models import utc_now
        from app.extensions import db
        from app.storage.models import Message, Room
        from tests.support.sockets import user_id

        app = self.server.app
        authors = [user_id(app, FUZZER), user_id(app, WATCHER)]
        texts = [special for special in SPECIAL_STRINGS if is_clean(special) and special.strip()]
        with app.app_context():
            repository = app.extensions["chat_repository"]
            for name, count in SEEDED.items():
                room = repository.get_room(name) or repository.create_room(name)
                db.session.add_all(
                    Message(
                        room_id=room.id,
                        seq=seq,
                        user_id=authors[seq % 3 != 0],
                        text=f"seed {seq} {texts[seq % len(texts)]}",
                        client_id=f"seed-{seq}" if seq % 2 else None,
                        created_at=utc_now(),
                    )
                    for seq in range(1, count + 1)
                )
                db.session.execute(
                    update(Room).where(Room.id == room.id).values(last_message_id=count)
                )
            db.session.commit()

    @staticmethod
    def ok(client, event: str, *args) -> dict:
        """A call the harness makes itself: it must succeed."""
        ack = client.emit(event, *args, callback=True)
        assert isinstance(ack, dict), f"{event} answered {ack!r}"
        assert ack.get("ok") is True, ack
        return ack

    def rooms(self, client) -> dict[str, dict]:
        """The public rooms, checked against the model."""
        return self.check_rooms(self.ok(client, "rooms", {}))

    def check_rooms(self, ack: dict) -> dict[str, dict]:
        """A `rooms` ack: public rooms only, sorted, each room's newest id the model's (so every
        message went to the room it was sent to and nowhere else)."""
        assert set(ack) == {"ok", "rooms", "next"}, ack
        rooms = ack["rooms"]
        names = [room["name"] for room in rooms]
        assert ack["next"] is None or ack["next"] == names[-1], ack
        assert names == sorted(names), names
        for room in rooms:
            assert set(room) == ROOM_KEYS, room
            assert PUBLIC_ROOM.fullmatch(room["name"]), room
            assert isinstance(room["topic"], str), room
            assert is_int(room["online"]), room
            assert room["online"] >= 0, room
            assert room["last_message_id"] == self.model.last_id(room["name"]), (
                f"room {room['name']!r} holds message {room['last_message_id']}, "
                f"expected {self.model.last_id(room['name'])}"
            )
        return {room["name"]: room for room in rooms}

    def resync(self) -> None:
        """Rebuild the model from the server (after a failure, so later examples start clean)."""
        self.model = Model()
        ack = self.ok(self.watcher, "rooms", {})
        for room in ack["rooms"]:
            messages: list[dict] = []
            before = None
            while True:
                page = self.ok(
                    self.watcher,
                    "history",
                    {"room": room["name"], "before": before, "limit": HISTORY_MAX},
                )
                messages[:0] = page["messages"]
                if not page["has_more"] or not page["messages"]:
                    break
                before = page["messages"][0]["id"]
            for message in messages:
                self.model.add(message)
        events(self.watcher)

    def check(self, event, args: tuple, *, prejoin: bool = False) -> None:
        events(self.watcher)
        before = self.rooms(self.watcher)
        fuzzer = self.server.connect(FUZZER)
        joined: set[str] = set()
        try:
            try:
                self._check(fuzzer, event, args, prejoin, joined, set(before))
            finally:
                if fuzzer.is_connected():
                    fuzzer.disconnect()
                self.server.clients.remove(fuzzer)
            # the fuzzer's departure reaches OBSERVED only if it was there; nobody lingers
            assert self.watcher.is_connected()
            left = [presence("left")] if OBSERVED in joined else []
            assert events(self.watcher) == left
            for name, room in self.rooms(self.watcher).items():
                online = before[name]["online"] if name in before else 0
                assert room["online"] == online, f"{room} after the fuzzer left, was {online}"
        except BaseException:
            with suppress(Exception):  # the failure to report is the one already raised
                self.resync()
            raise

    def _check(self, fuzzer, event, args: tuple, prejoin: bool, joined: set[str], existing):
        self.ok(fuzzer, "join", {"room": HOME})
        joined.add(HOME)
        watched: list[tuple] = []  # what the watcher must receive, in order
        payload = args[0] if len(args) == 1 and isinstance(args[0], dict) else None
        target = payload.get("room") if payload is not None else None
        if prejoin and isinstance(target, str) and PUBLIC_ROOM.fullmatch(target):
            self.ok(fuzzer, "join", {"room": target})
            if target == OBSERVED and OBSERVED not in joined:
                watched.append(presence("joined"))
            joined.add(target)
        assert events(fuzzer) == []
        existing |= joined

        if carries_bytes([event, *args]):  # protocol v1 is JSON only
            assert fuzzer.emit(event, *args, callback=True) is None
            assert not fuzzer.is_connected(), f"binary {event!r} {args!r} left it open"
            hypothesis_event("binary data: connection closed")
            if OBSERVED in joined:  # the server's disconnect: the fuzzer left the room
                watched.append(presence("left"))
                joined.discard(OBSERVED)
            assert events(self.watcher) == watched
            return
        allowed = allowed_outcomes(event, args, joined, existing, self.model)
        ack = fuzzer.emit(event, *args, callback=True)
        outcome = outcome_of(event, ack)
        hypothesis_event(f"{event if event in EVENTS else 'unknown event'}: {outcome}")
        assert outcome in allowed, f"{event!r} {args!r}: answered {ack!r}, allowed {allowed}"

        stored: list[dict] = []  # messages this call stored
        if outcome == OK:
            self._check_result(event, payload, ack, fuzzer, joined, watched, stored)

        assert fuzzer.is_connected(), f"{event!r} {args!r} closed the connection"
        self.rooms(fuzzer)  # still answers, and every room holds only what was sent to it
        # The sender's connection gets its own message events and nothing else.
        assert events(fuzzer) == [("message", message) for message in stored]
        received = events(self.watcher)
        for name, data in received:
            assert name in ("message", "typing", "presence"), (name, data)
            assert data.get("room") == OBSERVED, f"the watcher got {name} for {data!r}"
        assert received == watched

    def _check_result(self, event, payload, ack, fuzzer, joined, watched, stored) -> None:
        if event == "rooms":
            self.check_rooms(ack)
            return
        room = payload["room"]
        if event in ("leave", "typing"):
            assert ack == {"ok": True}, ack
            if event == "leave":
                joined.discard(room)
                if room == OBSERVED:
                    watched.append(presence("left"))
            elif room == OBSERVED:
                watched.append(
                    ("typing", {"room": room, "user": FUZZER, "typing": payload["typing"]})
                )
        elif event == "join":
            assert set(ack) == JOIN_ACK_KEYS, ack
            assert set(ack["room"]) == {"name", "topic", "kind", "rev"} | STAFF_KEYS, ack
            assert ack["room"]["name"] == room, ack
            # nothing is ever edited here: a catch-up has no updates, whatever rev it gives
            assert ack["updates"] == [] and ack["updates_truncated"] is False, ack
            newest = max((m["rev"] for m in self.model.messages.get(room, [])), default=0)
            assert ack["room"]["rev"] >= newest, ack
            assert isinstance(ack["room"]["topic"], str), ack
            members = sorted(
                {FUZZER} | ({WATCHER} if room == OBSERVED else set()), key=str.casefold
            )
            assert ack["members"] == members, ack
            since = payload.get("since")
            page, more = expected_page(
                self.model.messages.get(room, []),
                since=since,
                limit=JOIN_PAGE if since is None else CATCH_UP_MAX,
                newest=since is None,
            )
            assert ack["messages"] == page, ack
            assert ack["has_more"] is more, ack
            if room == OBSERVED and room not in joined:
                watched.append(presence("joined"))
            joined.add(room)
        elif event == "history":
            assert set(ack) == {"ok", "messages", "has_more"}, ack
            page, more = expected_page(
                self.model.messages.get(room, []),
                before=payload.get("before"),
                limit=int(payload.get("limit") or HISTORY_DEFAULT),
                newest=True,
            )
            assert ack["messages"] == page, ack
            assert ack["has_more"] is more, ack
        elif event == "message":
            assert set(ack) == {"ok", "message"}, ack
            message = ack["message"]
            check_message(message, room=room)
            client_id = payload.get("client_id")
            original = self.model.by_client_id.get((room, FUZZER, client_id))
            if client_id is not None and original is not None:
                assert message == original, "a retry must answer the original message"
            else:
                assert message["text"] == payload["text"].strip(), message
                assert message["client_id"] == client_id, message
                assert message["id"] == (self.model.last_id(room) or 0) + 1, message
                self.model.add(message)
                stored.append(message)
                if room == OBSERVED:
                    watched.append(("message", message))
            # it is in the room the payload named (other rooms: `rooms` last_message_id)
            found = self.ok(
                fuzzer, "history", {"room": room, "before": message["id"] + 1, "limit": 1}
            )
            assert found["messages"] == [message], found


@pytest.fixture
def harness(app_factory):
    server = Server(app_factory(**NO_LIMITS))
    yield Harness(server)
    server.close()


# -- the tests -------------------------------------------------------------------------------


@pytest.mark.parametrize("event", EVENTS)
def test_fuzzed_payloads(harness, event):
    """Any arguments to a known event: a documented answer, the right room, a working link."""

    @FUZZ
    @given(args=arguments(PAYLOADS[event]), prejoin=st.booleans())
    @example(args=(), prejoin=False)  # no argument at all: treated as {}
    @example(args=({"room": OBSERVED}, {"room": OBSERVED}), prejoin=True)  # two objects
    @example(args=(None,), prejoin=False)
    @example(args=({"room": HOME, "text": "a\ud800b"},), prejoin=False)  # lone surrogate
    @example(args=({"room": HOME, "text": " \x00 ", "client_id": "\x00"},), prejoin=False)
    @example(args=({"room": OBSERVED, "text": "\U0001f600" * MAX_TEXT},), prejoin=True)
    @example(args=({"room": OBSERVED, "text": "\U0001f600" * (MAX_TEXT + 1)},), prejoin=True)
    @example(args=({"room": OBSERVED, "text": "\u202e\u200f\u200d", "typing": True},), prejoin=True)
    def run(args, prejoin):
        harness.check(event, args, prejoin=prejoin)

    run()


def test_fuzzed_unknown_events(harness):
    """Event names protocol v1 does not define are answered `invalid`, whatever the payload."""

    @FUZZ_NAMES
    @given(name=unknown_names, args=unknown_args)
    def run(name, args):
        harness.check(name, args)

    run()


@pytest.mark.parametrize("name", RESERVED_NAMES)
def test_fuzzed_reserved_event_names(harness, name):
    """`connect`, `disconnect` and `*` sent as events are unknown events too: `invalid`."""

    @FUZZ_NAMES
    @given(args=st.lists(st.one_of(anything, st.just(OWN_TOKEN)), max_size=3).map(tuple))
    def run(args):
        own = {"token": harness.server.token(FUZZER)}
        harness.check(name, tuple(own if arg is OWN_TOKEN else arg for arg in args))

    run()


def test_fuzzed_non_string_event_names(harness):
    """An event name that is not a string (a raw client can send one) is still answered."""

    @FUZZ_NAMES
    @given(name=non_string_names, args=unknown_args)
    def run(name, args):
        harness.check(name, args)

    run()
