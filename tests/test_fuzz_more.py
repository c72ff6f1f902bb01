"""Property-based fuzzing (hypothesis) of the events tests/test_fuzz.py does not model:
private conversations, moderation and reports (docs/protocol.md).

Each example sends one event with fuzzed arguments (random JSON, right keys with wrong or
edge-case values, names of real users and rooms, zero or several arguments) from `fuzzer`,
who owns its own room and is a plain member elsewhere, and checks what a hostile client must
never get: an ack that is not an object of the documented shape, an error code the protocol
does not list for that event, `internal` (a crashed handler), or a connection that stops
answering. What the events do when they succeed is tested in test_moderation.py,
test_reports.py and test_private.py.
"""

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.support.sockets import JOIN_ACK_KEYS, Server, call, events, join, ok

FUZZER = "fuzzer"
VICTIM = "victim"
HOME = "fuzz-own"  # the fuzzer owns it
OTHERS = "victims"  # the victim owns it
NO_LIMITS = {
    name: value
    for bucket in ("EVENT", "MESSAGE", "JOIN", "ROOMS", "DM", "PARTNER", "BLOCK", "MODERATE")
    for name, value in ((f"{bucket}_RATE", 1e6), (f"{bucket}_BURST", 10**6))
}
COMMON = {"invalid", "unauthorized", "rate_limited"}
# The error codes docs/protocol.md lists for each event.
ALLOWED = {
    "dm": COMMON | {"not_found", "forbidden"},
    "find_partner": COMMON,
    "leave_partner": COMMON,
    "block": COMMON | {"not_found"},
    "unblock": COMMON | {"not_found"},
    "report": COMMON | {"not_found", "forbidden"},
    **{
        event: COMMON | {"not_found", "forbidden"}
        for event in (
            "set_role",
            "set_topic",
            "kick",
            "ban",
            "unban",
            "mute",
            "unmute",
            "sanctions",
        )
    },
}
# Successful acks: exactly these fields besides "ok" (dm: as join; find_partner: either form).
SUCCESS_FIELDS = {
    "dm": [JOIN_ACK_KEYS - {"ok"}],
    "find_partner": [{"status"}, {"status", "room", "partner", "you"}],
    "sanctions": [{"sanctions"}],
}

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    st.text(max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
names = st.one_of(
    st.sampled_from([FUZZER, VICTIM, "VICTIM", "nobody-here", "stranger-0000", "", " ", "\x00"]),
    st.text(max_size=70),
    json_values,
)
rooms = st.one_of(
    st.sampled_from([HOME, OTHERS, "general", "dm:1-2", "pair:" + "0" * 32, "no-such-room"]),
    names,
)
numbers = st.one_of(
    st.sampled_from([0, 1, 5, 525600, 525601, -1, 2**53, 2**53 + 1, 1.5, True, "5"]),
    json_values,
)
texts = st.one_of(st.sampled_from(["", " ", "why", "x" * 1001, "\ud800", "\u202e"]), names)
FIELDS = {
    "user": names,
    "room": rooms,
    "role": st.one_of(st.sampled_from(["moderator", "member", "owner", "admin"]), json_values),
    "topic": texts,
    "reason": texts,
    "minutes": numbers,
    "message_id": numbers,
}
KEYS = {
    "dm": ("user",),
    "find_partner": (),
    "leave_partner": (),
    "block": ("user",),
    "unblock": ("user",),
    "report": ("user", "room", "message_id", "reason"),
    "set_role": ("room", "user", "role"),
    "set_topic": ("room", "topic"),
    "kick": ("room", "user", "reason"),
    "ban": ("room", "user", "minutes", "reason"),
    "unban": ("room", "user"),
    "mute": ("room", "user", "minutes", "reason"),
    "unmute": ("room", "user"),
    "sanctions": ("room",),
}


def payloads(event: str):
    """Objects with some of the event's keys (fuzzed values) and sometimes stray ones."""
    keys = KEYS[event]
    return st.fixed_dictionaries(
        {},
        optional={key: FIELDS[key] for key in keys} | {"extra": json_values},
    )


def arguments(event: str):
    """What a client may put after the event name: mostly one object, sometimes anything."""
    return st.one_of(
        payloads(event).map(lambda payload: (payload,)),
        st.lists(json_values, max_size=3).map(tuple),
    )


FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.fixture
def fuzzing(app_factory):
    server = Server(app_factory(**NO_LIMITS))
    victim = server.connect(VICTIM)
    ok(join(victim, OTHERS))
    fuzzer = server.connect(FUZZER)
    ok(join(fuzzer, HOME))
    yield server, fuzzer
    server.close()


@pytest.mark.parametrize("event", sorted(KEYS))
def test_fuzzed_arguments_get_a_documented_answer(fuzzing, event):
    server, _ = fuzzing

    @FUZZ
    @given(args=arguments(event))
    @example(args=())
    @example(args=({"room": HOME, "user": VICTIM, "minutes": 1, "role": "moderator"},))
    @example(args=({"room": OTHERS, "user": FUZZER, "minutes": 1, "reason": "x"},))
    def run(args):
        # a fresh connection each time: a kick, ban or stranger chat must not leak into the next
        fuzzer = server.connect(FUZZER)
        try:
            ack = call(fuzzer, event, *args)
            assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), ack
            if ack["ok"]:
                fields = set(ack) - {"ok"}
                allowed = SUCCESS_FIELDS.get(event, [set()])
                assert fields in allowed, (event, args, ack)
            else:
                error = ack["error"]
                assert set(error) <= {"code", "message", "retry_after"}, ack
                assert isinstance(error["message"], str) and error["message"], ack
                assert error["code"] in ALLOWED[event], (event, args, ack)
            # the connection still answers
            assert call(fuzzer, "rooms", {})["ok"] is True
        finally:
            call(fuzzer, "leave_partner", {})
            events(fuzzer)
            fuzzer.disconnect()

    run()
