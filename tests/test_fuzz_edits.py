"""Property-based fuzzing (hypothesis) of edit, delete, react, replies and `join` with `rev`,
in the pattern of tests/test_fuzz_more.py: whatever the arguments, the ack is an object of
the documented shape with an error code the protocol lists for the event, never `internal`;
the connection keeps answering; and nothing changes in a room the event did not name."""

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.sockets import JOIN_ACK_KEYS, MESSAGE_KEYS, Server, call, events, join, ok, say
from tests.test_fuzz_more import json_values, names

FUZZER = "fuzzer"
VICTIM = "victim"
HOME = "fuzz-own"  # the fuzzer's messages
OTHERS = "victims"  # the victim's, the fuzzer joined
QUIET = "quiet"  # the victim's, the fuzzer never joined
ROOMS = (HOME, OTHERS, QUIET)
NO_LIMITS = {
    name: value
    for bucket in ("EVENT", "MESSAGE", "REACT", "JOIN", "HISTORY", "ROOMS", "MODERATE")
    for name, value in ((f"{bucket}_RATE", 1e6), (f"{bucket}_BURST", 10**6))
} | {"PRESENCE_COALESCE": 0, "ROOM_CREATE_RATE": 10**6}
COMMON = {"invalid", "unauthorized", "rate_limited"}
CHANGES = COMMON | {"not_in_room", "not_found", "forbidden"}
ALLOWED = {
    "edit": CHANGES | {"too_large"},
    "delete": CHANGES,
    "react": CHANGES,
    "message": CHANGES | {"too_large"},
    "join": COMMON | {"forbidden"},
}
SUCCESS_FIELDS = {
    "join": JOIN_ACK_KEYS - {"ok"},
}

rooms = st.one_of(st.sampled_from([*ROOMS, "general", "dm:1-2", "no-such-room"]), names)
ids = st.one_of(
    st.sampled_from([0, 1, 2, 3, 4, 99, -1, 2**53, 2**53 + 1, 1.5, True, "1"]), json_values
)
texts = st.one_of(
    st.sampled_from(["", " ", "fixed", "x" * 4001, "\ud800", "a\x00b", "**bold**"]), names
)
emoji = st.one_of(
    st.sampled_from(["👍", "+1", "", " ", "x" * 33, "\u202e", "\x07", "👨\u200d👩\u200d👧"]),
    st.text(max_size=40),
    json_values,
)
FIELDS = {
    "room": rooms,
    "id": ids,
    "text": texts,
    "emoji": emoji,
    "on": st.one_of(st.booleans(), json_values),
    "reply_to": ids,
    "client_id": st.one_of(st.sampled_from(["c-1", "c-2"]), json_values),
    "since": ids,
    "rev": ids,
}
KEYS = {
    "edit": ("room", "id", "text"),
    "delete": ("room", "id"),
    "react": ("room", "id", "emoji", "on"),
    "message": ("room", "text", "reply_to", "client_id"),
    "join": ("room", "since", "rev"),
}


def arguments(event: str):
    """Mostly one object with some of the event's keys (fuzzed values), sometimes anything."""
    keys = KEYS[event]
    payloads = st.fixed_dictionaries(
        {}, optional={key: FIELDS[key] for key in keys} | {"extra": json_values}
    )
    return st.one_of(
        payloads.map(lambda payload: (payload,)), st.lists(json_values, max_size=3).map(tuple)
    )


FUZZ = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def fuzzing(app_factory):
    server = Server(app_factory(**NO_LIMITS))
    victim = server.connect(VICTIM)
    fuzzer = server.connect(FUZZER)
    join(fuzzer, HOME)
    for room in (OTHERS, QUIET):
        join(victim, room)
    join(fuzzer, OTHERS)
    for number in range(3):
        say(fuzzer, f"mine {number}", room=HOME)
        say(victim, f"theirs {number}", room=OTHERS)
        say(victim, f"quiet {number}", room=QUIET)
    events(victim)
    yield server, fuzzer, victim
    server.close()


def snapshot(sio_client) -> dict[str, list]:
    return {room: ok(call(sio_client, "history", {"room": room}))["messages"] for room in ROOMS}


@pytest.mark.parametrize("event", sorted(KEYS))
def test_fuzzed_changes_get_a_documented_answer_and_touch_no_other_room(fuzzing, event):
    server, fuzzer, victim = fuzzing

    @FUZZ
    @given(args=arguments(event))
    @example(args=())
    @example(args=({"room": OTHERS, "id": 1, "text": "mine now", "emoji": "👍", "on": True},))
    @example(args=({"room": HOME, "id": 1, "text": "x", "emoji": "👍", "on": False},))
    @example(args=({"room": QUIET, "id": 2, "text": "x", "reply_to": 1, "since": 0, "rev": 0},))
    def run(args):
        before = snapshot(victim)
        ack = call(fuzzer, event, *args)
        assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), ack
        named = args[0].get("room") if args and isinstance(args[0], dict) else None
        if ack["ok"]:
            fields = set(ack) - {"ok"}
            assert fields == SUCCESS_FIELDS.get(event, {"message"}), (event, args, ack)
            if fields == {"message"}:
                assert set(ack["message"]) == MESSAGE_KEYS, ack
                assert ack["message"]["room"] == named, (args, ack)
        else:
            error = ack["error"]
            assert set(error) <= {"code", "message", "retry_after"}, ack
            assert isinstance(error["message"], str) and error["message"], ack
            assert error["code"] in ALLOWED[event], (event, args, ack)
        after = snapshot(victim)
        for room in ROOMS:
            if room != named or not ack["ok"]:
                assert after[room] == before[room], (event, args, ack, room)
        # the victim hears only of changes in the one room named, and only of one that worked
        # (the test client hands `message` events over as their argument list)
        heard = [p[0] if isinstance(p, list) else p for _, p in events(victim)]
        assert all(payload["room"] == named for payload in heard), heard
        assert ack["ok"] or not heard, (args, ack, heard)
        assert call(fuzzer, "rooms", {})["ok"] is True

    run()
