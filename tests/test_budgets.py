"""Every event has a budget, as a client sees it over a socket.

Room creation cap and the paged `rooms`; the shared `events` bucket and the per-event ones;
presence coalescing; one `dm_opened` per opener; a block silences the blocked user in the DM.
"""

import time

from sqlalchemy import event as sql_event
from sqlalchemy import func, insert, select

from app.extensions import db
from app.storage.models import Room
from tests.support.sockets import assert_error, call, drain, events, join, ok, say


def rooms_page(sio_client, **payload) -> dict:
    ack = ok(call(sio_client, "rooms", payload))
    assert set(ack) == {"ok", "rooms", "next"}, ack
    return ack


# -- item 1: room creation cap, cheap `rooms` -------------------------------------------------


def test_a_user_cannot_create_an_eleventh_room_within_the_hour(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    for n in range(10):
        join(alice, f"room-{n}")
    refused = call(alice, "join", {"room": "room-10"})
    error = assert_error(refused, "rate_limited")
    # one new room every 360 s (10 per hour), rounded up to the ms plus 1 ms of slack
    assert 359 < error["retry_after"] <= 360.001
    listed = [room["name"] for room in rooms_page(bob)["rooms"]]
    assert "room-10" not in listed
    assert {f"room-{n}" for n in range(10)} <= set(listed)
    # joining rooms that exist is not charged to the cap; other users have their own
    join(alice, "general")
    join(alice, "room-3")
    join(bob, "room-10")
    assert "room-10" in [room["name"] for room in rooms_page(alice)["rooms"]]


def test_rooms_pages_through_5000_rooms_each_exactly_once(server_factory):
    server = server_factory(ROOMS_BURST=1000)  # this test is about paging, not the budget
    alice, bob = server.connect("alice"), server.connect("bob")
    with server.app.app_context():
        db.session.execute(
            insert(Room),
            [{"name": f"r{n:05d}", "topic": f"topic {n}"} for n in range(5000)],
        )
        db.session.commit()
        public = db.session.scalars(
            select(Room.name).where(Room.is_private.is_(False)).order_by(Room.name)
        ).all()
    assert len(public) == 5001  # with the seeded general room
    dm = ok(call(alice, "dm", {"user": "bob"}))["room"]["name"]
    join(bob, "r00042")

    with server.app.app_context():
        engine = db.engine
    statements = []
    listen = lambda *args: statements.append(args[2])  # noqa: E731
    sql_event.listen(engine, "before_cursor_execute", listen)
    try:
        first = rooms_page(alice)
    finally:
        sql_event.remove(engine, "before_cursor_execute", listen)
    # cheap at any room count: a page and the caller's DMs, not a query per room
    assert len(statements) <= 3, statements
    assert len(first["rooms"]) == 100 + 1  # a page of public rooms, then alice's DM
    assert [room["name"] for room in first["rooms"][:100]] == public[:100]
    assert first["rooms"][100]["name"] == dm and first["rooms"][100]["with"] == "bob"
    assert first["next"] == public[99]

    seen = [room["name"] for room in first["rooms"][:100]]
    after, online = first["next"], {room["name"]: room["online"] for room in first["rooms"]}
    while after is not None:
        page = rooms_page(alice, after=after)
        assert all(room["kind"] == "public" for room in page["rooms"])  # DMs: first page only
        assert 1 <= len(page["rooms"]) <= 100
        seen += [room["name"] for room in page["rooms"]]
        online.update({room["name"]: room["online"] for room in page["rooms"]})
        after = page["next"]
    assert seen == public  # every public room exactly once, in order
    assert online["r00042"] == 1 and online["r04999"] == 0

    small = rooms_page(alice, after="r00010", limit=3)
    assert [room["name"] for room in small["rooms"]] == ["r00011", "r00012", "r00013"]
    assert small["next"] == "r00013"
    last = rooms_page(alice, after="r04990", limit=100)
    assert len(last["rooms"]) == 9 and last["next"] is None
    for bad in ({"limit": 0}, {"limit": 101}, {"after": ""}, {"after": 5}, {"limit": "5"}):
        assert_error(call(alice, "rooms", bad), "invalid")


# -- item 2: every event has a budget ---------------------------------------------------------


def test_history_at_limit_100_is_refused_after_the_burst(server):
    alice = server.connect("alice")
    acks = [call(alice, "history", {"room": "general", "limit": 100}) for _ in range(12)]
    assert all(ack["ok"] for ack in acks[:10])  # HISTORY_BURST
    error = assert_error(acks[10], "rate_limited")
    assert 0 < error["retry_after"] <= 0.501  # one call every 0.5 s
    assert alice.is_connected()


def test_the_shared_events_bucket_refuses_an_event_mix(server):
    alice = server.connect("alice")
    mix = (
        [("join", {"room": "general"})] * 15
        + [("history", {"room": "general"})] * 8
        + [("rooms", {})] * 4
        + [("message", {"room": "general", "text": "hi"})] * 15
        + [("typing", {"room": "general", "typing": True})] * 8
        + [("no_such_event", {})] * 100
    )
    # each kind stays inside its own bucket; together they exceed EVENT_BURST (60)
    acks = []
    for event, payload in mix:
        acks.append(call(alice, event, payload))
        if not acks[-1]["ok"] and acks[-1]["error"]["code"] == "rate_limited":
            break
    assert not acks[-1]["ok"], f"{len(acks)} events at once all passed the shared bucket"
    assert_error(acks[-1], "rate_limited")
    assert len(acks) > 60  # the burst, plus what refilled (30/s) while they were sent
    assert all(ack["ok"] for ack in acks[:50])  # every kind within its own bucket
    # unknown events within the budget are still `invalid`
    assert acks[50]["error"]["code"] == "invalid"
    assert alice.is_connected()


def test_a_dm_loop_sends_the_target_one_dm_opened(server_factory):
    server = server_factory(DM_BURST=100, JOIN_BURST=100)  # let every open through
    alice, bob = server.connect("alice"), server.connect("bob")
    acks = [call(alice, "dm", {"user": "bob"}) for _ in range(15)]
    assert all(ack["ok"] for ack in acks)  # every open still joins the room
    assert len(events(bob, "dm_opened")) == 1


def test_a_dm_loop_is_limited_by_the_dm_budget(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    acks = [call(alice, "dm", {"user": "bob"}) for _ in range(12)]
    assert [ack["ok"] for ack in acks[:5]] == [True] * 5  # DM_BURST
    assert all(ack["error"]["code"] == "rate_limited" for ack in acks[5:])
    assert len(events(bob, "dm_opened")) == 1
    assert alice.is_connected()


def test_find_partner_loops_create_a_bounded_number_of_pair_rooms(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    started = time.monotonic()
    acks = []
    for _ in range(15):
        acks.append(call(alice, "find_partner", {}))
        acks.append(call(bob, "find_partner", {}))
    elapsed = time.monotonic() - started
    with server.app.app_context():
        pair_rooms = db.session.scalar(
            select(func.count()).select_from(Room).where(Room.name.startswith("pair:"))
        )
    # PARTNER_BURST (5) each, plus one per second of the loop: not one room per two calls
    assert pair_rooms <= 5 + int(elapsed) + 1, (pair_rooms, elapsed)
    assert any(ack.get("error", {}).get("code") == "rate_limited" for ack in acks)
    assert alice.is_connected() and bob.is_connected()


def test_block_and_unblock_share_a_budget(server):
    alice = server.connect("alice")
    server.token("bob")
    acks = [call(alice, event, {"user": "bob"}) for event in ("block", "unblock") * 6]
    assert all(ack["ok"] for ack in acks[:10])  # BLOCK_BURST
    assert_error(acks[10], "rate_limited")


# -- item 2: presence is coalesced ------------------------------------------------------------


def wait_for_presence(sio_client, seconds: float) -> list[dict]:
    """Every presence event received within `seconds` (the coalescing window's end included)."""
    received: list[dict] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        received += events(sio_client, "presence")
        time.sleep(0.05)
    return received + events(sio_client, "presence")


def test_a_join_leave_loop_gives_a_bystander_a_handful_of_presence_events(server_factory):
    # budgets out of the way: this is about what reaches the room when the loop is allowed
    server = server_factory(JOIN_BURST=10_000, EVENT_BURST=10_000)
    looper, bystander = server.connect("looper"), server.connect("bystander")
    join(bystander, "lobby")
    drain(bystander)
    for _ in range(200):
        join(looper, "lobby")
        ok(call(looper, "leave", {"room": "lobby"}))
    received = wait_for_presence(bystander, 2.6)  # PRESENCE_COALESCE is 2 s
    assert 1 <= len(received) <= 4, received
    assert received[0] == {"room": "lobby", "user": "looper", "status": "joined"}
    assert received[-1] == {"room": "lobby", "user": "looper", "status": "left"}  # final state
    assert join(bystander, "lobby")["members"] == ["bystander"]

    # ending inside the room: the final `joined` arrives too, and `members` is always current
    for _ in range(50):
        join(looper, "lobby")
        ok(call(looper, "leave", {"room": "lobby"}))
    join(looper, "lobby")
    assert join(bystander, "lobby")["members"] == ["bystander", "looper"]
    received = wait_for_presence(bystander, 2.6)
    assert 1 <= len(received) <= 3, received
    assert received[-1] == {"room": "lobby", "user": "looper", "status": "joined"}


def test_a_single_join_is_announced_at_once(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    join(bob)
    drain(bob)
    join(alice)
    assert events(bob, "presence") == [{"room": "general", "user": "alice", "status": "joined"}]


# -- item 10: block means silence in a DM -----------------------------------------------------


def test_after_a_block_nothing_from_the_blocked_user_reaches_the_blocker(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    room = ok(call(alice, "dm", {"user": "bob"}))["room"]["name"]
    join(bob, room)
    say(alice, "hello bob", room=room)
    drain(alice, bob)

    ok(call(bob, "block", {"user": "alice"}))
    for event, payload in (
        ("typing", {"room": room, "typing": True}),
        ("message", {"room": room, "text": "why?"}),
        ("join", {"room": room}),
        ("typing", {"room": room, "typing": False}),
        ("message", {"room": room, "text": "please"}),
        ("dm", {"user": "bob"}),
    ):
        assert_error(call(alice, event, payload), "forbidden")
    alice.disconnect()  # not even a `left` from alice's last connection
    time.sleep(0.3)
    assert events(bob) == []  # no typing, message, presence or dm_opened from alice

    # the DM's history stays readable by both
    alice = server.connect("alice")
    for reader in (alice, bob):
        history = ok(call(reader, "history", {"room": room}))
        assert [m["text"] for m in history["messages"]] == ["hello bob"]


def test_the_blocker_is_silenced_in_the_dm_too(server):
    alice, bob = server.connect("alice"), server.connect("bob")
    room = ok(call(alice, "dm", {"user": "bob"}))["room"]["name"]
    join(bob, room)
    drain(alice, bob)
    ok(call(alice, "block", {"user": "bob"}))  # alice blocks: both are silenced there
    assert_error(call(alice, "typing", {"room": room, "typing": True}), "forbidden")
    assert_error(call(bob, "typing", {"room": room, "typing": True}), "forbidden")
    assert_error(call(bob, "join", {"room": room}), "forbidden")
    time.sleep(0.3)
    assert events(alice) == [] and events(bob) == []


def test_unknown_and_reserved_event_names_are_charged_too(server_factory):
    server = server_factory(EVENT_BURST=4, EVENT_RATE=0.01)
    alice = server.connect("alice")
    acks = [call(alice, name, {}) for name in ("nope", "disconnect", "connect", "nope", "connect")]
    assert [ack["error"]["code"] for ack in acks] == ["invalid"] * 4 + ["rate_limited"]
    assert_error(acks[4], "rate_limited")
    assert_error(call(alice, "nope", {}), "rate_limited")
    assert alice.is_connected()


def test_malformed_payloads_are_charged_too(server_factory):
    """A flood of payloads that fail validation draws on the shared bucket: it is answered
    `rate_limited` once the bucket is empty, and closed once the client ignores that."""
    server = server_factory(EVENT_BURST=4, EVENT_RATE=0.01, FLOOD_STRIKES=2)
    alice = server.connect("alice")
    acks = [call(alice, "message", {"room": 5}) for _ in range(5)]
    assert [ack["error"]["code"] for ack in acks] == ["invalid"] * 4 + ["rate_limited"]
    assert acks[4]["error"]["retry_after"] > 0
    # ignoring retry_after: strikes, then the connection is closed
    for _ in range(6):
        if not alice.is_connected():
            break
        call(alice, "message", {"room": 5})
        time.sleep(0.05)
    deadline = time.monotonic() + 5
    while alice.is_connected() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alice.is_connected()
