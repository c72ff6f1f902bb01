"""Two server processes sharing one PostgreSQL database and one Redis behave as one server:
messages, typing, members and presence, rate limits and the stranger queue cross processes,
and when a process dies its users leave and its clients catch up on the other one."""

import re
import signal
import threading
import time

import pytest

from tests.support.chatter import Chatter, in_room
from tests.support.services import wait_until

pytestmark = pytest.mark.timeout(60)


def test_a_message_sent_on_one_process_reaches_clients_on_the_other(start_servers):
    a, b = start_servers(2)
    room = "xp-chat"
    alice = Chatter.on(a, "xp-alice")
    bob = Chatter.on(b, "xp-bob")
    bob_on_a = Chatter.on(a, "xp-bob")  # another tab of bob's, on the other process
    carol = Chatter.on(b, "xp-carol")
    everyone = [alice, bob, bob_on_a, carol]
    for chatter in everyone:
        chatter.join(room)

    first = alice.call("message", {"room": room, "text": "from A", "client_id": "xp-1"})
    assert first["ok"], first
    for chatter in everyone:  # the sender's own connection included
        assert chatter.wait("message", where=in_room(room)) == [first["message"]], (
            f"{chatter.name} on {chatter.url}"
        )
    reply = bob.say(room, "from B")
    for chatter in everyone:  # bob's tab on A too
        assert chatter.wait("message", count=2, where=in_room(room)) == [
            first["message"],
            reply,
        ], f"{chatter.name} on {chatter.url}"

    # typing reaches the room's other users on both processes, none of bob's own tabs
    assert bob.call("typing", {"room": room, "typing": True}) == {"ok": True}
    expected = [{"room": room, "user": "xp-bob", "typing": True}]
    assert alice.wait("typing") == expected
    assert carol.wait("typing") == expected
    # alice (on A) had it, so A has handled it; a later message on A orders after it there
    later = alice.say(room, "after typing")
    assert bob_on_a.wait("message", count=3, where=in_room(room))[-1] == later
    assert bob_on_a.received("typing") == [] and bob.received("typing") == []

    for chatter in everyone:
        chatter.close()


def test_members_and_presence_agree_across_processes(start_servers):
    a, b = start_servers(2)
    room = "xp-presence"
    alice = Chatter.on(a, "xp-p-alice")
    assert alice.join(room)["members"] == ["xp-p-alice"]
    bob = Chatter.on(b, "xp-p-bob")
    assert bob.join(room)["members"] == ["xp-p-alice", "xp-p-bob"]

    def joined(user):
        return {"room": room, "user": user, "status": "joined"}

    def left(user):
        return {"room": room, "user": user, "status": "left"}

    assert alice.wait("presence") == [joined("xp-p-bob")]

    # a second connection of bob's, on A: still one member, no second `joined`
    bob_on_a = Chatter.on(a, "xp-p-bob")
    assert bob_on_a.join(room)["members"] == ["xp-p-alice", "xp-p-bob"]
    carol = Chatter.on(b, "xp-p-carol")
    assert carol.join(room)["members"] == ["xp-p-alice", "xp-p-bob", "xp-p-carol"]
    assert alice.wait("presence", count=2) == [joined("xp-p-bob"), joined("xp-p-carol")]

    def online(chatter):
        rooms = chatter.call("rooms")["rooms"]
        return next(r["online"] for r in rooms if r["name"] == room)

    assert online(alice) == online(carol) == 3  # asked on A and on B

    # bob leaves on B but is still there on A: nobody is told he left
    assert bob.call("leave", {"room": room}) == {"ok": True}
    assert alice.join(room)["members"] == carol.join(room)["members"]
    assert carol.join(room)["members"] == ["xp-p-alice", "xp-p-bob", "xp-p-carol"]
    # his last connection (on A) goes: both processes' clients see him leave, once
    bob_on_a.close()
    assert carol.wait("presence") == [left("xp-p-bob")]
    assert alice.wait("presence", count=3) == [
        joined("xp-p-bob"),
        joined("xp-p-carol"),
        left("xp-p-bob"),
    ]
    assert (
        alice.join(room)["members"]
        == carol.join(room)["members"]
        == [
            "xp-p-alice",
            "xp-p-carol",
        ]
    )
    assert online(alice) == online(carol) == 2
    for chatter in (alice, bob, carol):
        chatter.close()


def test_rate_limits_are_shared_across_processes(start_servers):
    burst = 4
    # refills one message per 10 s: none comes back while the test sends
    a, b = start_servers(2, MESSAGE_RATE="0.1", MESSAGE_BURST=str(burst))
    room = "xp-rate"
    on_a = Chatter.on(a, "xp-r-mallory")
    on_b = Chatter.on(b, "xp-r-mallory")
    on_a.join(room)
    on_b.join(room)
    acks = []
    for n in range(2 * burst):  # alternate: A, B, A, B...
        chatter = (on_a, on_b)[n % 2]
        acks.append((chatter.name, n % 2, chatter.call("message", {"room": room, "text": f"{n}"})))
    accepted = [ack for _, _, ack in acks if ack["ok"]]
    refused = [(side, ack) for _, side, ack in acks if not ack["ok"]]
    assert len(accepted) == burst, f"one user got {len(accepted)} messages past a burst of {burst}"
    assert all(ack["error"]["code"] == "rate_limited" for _, ack in refused), refused
    assert all(ack["error"]["retry_after"] > 0 for _, ack in refused), refused
    assert {side for side, _ in refused} == {0, 1}  # both processes refuse: one bucket
    on_a.close()
    on_b.close()


def test_the_stranger_matcher_pairs_users_on_different_processes(start_servers):
    a, b = start_servers(2)
    alice = Chatter.on(a, "xp-s-alice")
    assert alice.call("find_partner") == {"ok": True, "status": "waiting"}
    bob = Chatter.on(b, "xp-s-bob")
    paired = bob.call("find_partner")
    assert paired["ok"] and paired["status"] == "paired", paired
    room, bob_alias, alice_alias = paired["room"], paired["you"], paired["partner"]
    # strangers see aliases, the same on both processes (one SECRET_KEY)
    assert all(re.fullmatch(r"stranger-[0-9a-f]{4}", a) for a in (bob_alias, alice_alias))
    assert alice.wait("partner_found") == [{"room": room, "partner": bob_alias, "you": alice_alias}]
    assert bob.wait("partner_found") == [{"room": room, "partner": alice_alias, "you": bob_alias}]

    # both asking connections are in the pair room, each on its own process
    hello = bob.say(room, "hi stranger")
    assert alice.wait("message", where=in_room(room)) == [hello]
    answer = alice.say(room, "hi yourself")
    assert bob.wait("message", count=2, where=in_room(room)) == [hello, answer]

    assert alice.call("leave_partner") == {"ok": True}
    assert bob.wait("partner_left") == [{"room": room}]
    assert bob.call("message", {"room": room, "text": "still there?"})["error"]["code"] == (
        "forbidden"
    )
    alice.close()
    bob.close()


def test_one_stranger_queue_never_pairs_a_user_with_their_own_tab(start_servers):
    a, b = start_servers(2)
    carol_a = Chatter.on(a, "xp-q-carol")
    carol_b = Chatter.on(b, "xp-q-carol")
    assert carol_a.call("find_partner") == {"ok": True, "status": "waiting"}
    # her other tab, on the other process, keeps her place (and is now the one to pair)
    assert carol_b.call("find_partner") == {"ok": True, "status": "waiting"}
    dave = Chatter.on(a, "xp-q-dave")
    paired = dave.call("find_partner")
    assert paired["ok"] and paired["status"] == "paired", paired
    assert carol_b.wait("partner_found") == [
        {"room": paired["room"], "partner": paired["you"], "you": paired["partner"]}
    ]
    assert carol_a.received("partner_found") == []
    for chatter in (carol_a, carol_b, dave):
        chatter.close()


PRESENCE_TTL = 3


def test_sigkill_of_a_process_makes_its_users_leave_and_they_catch_up_elsewhere(start_servers):
    a, b = start_servers(
        2, PRESENCE_TTL=str(PRESENCE_TTL), MESSAGE_RATE="1000", MESSAGE_BURST="1000"
    )
    room = "xp-kill"
    alice = Chatter.on(a, "xp-k-alice")
    bob = Chatter.on(b, "xp-k-bob")
    carol = Chatter.on(b, "xp-k-carol")
    alice.join(room)
    assert bob.join(room)["members"] == ["xp-k-alice", "xp-k-bob"]
    carol.join(room)

    # carol (on B) talks the whole time: before, during and after the crash of A
    stop, sent, failures = threading.Event(), [], []

    def talk():
        n = 0
        while not stop.is_set():
            try:
                ack = carol.call("message", {"room": room, "text": f"carol {n}"})
            except Exception as exc:  # reported below
                failures.append(repr(exc))
                return
            if not ack["ok"]:
                failures.append(ack)
                return
            sent.append(ack["message"])
            n += 1
            time.sleep(0.05)

    talker = threading.Thread(target=talk, daemon=True)
    talker.start()
    assert len(alice.wait("message", count=5, where=in_room(room))) >= 5

    a.kill()
    killed_at = time.monotonic()
    assert a.process.returncode == -signal.SIGKILL
    assert wait_until(lambda: not alice.sio.connected, 5), "alice's client missed the crash"
    held = [m["id"] for m in alice.messages(room)]
    assert held == list(range(1, len(held) + 1))  # in order, none missing before the crash

    # B notices A's heartbeat expired and makes alice leave: about TTL + TTL/3 s
    limit = PRESENCE_TTL + PRESENCE_TTL / 3 + 3
    gone = {"room": room, "user": "xp-k-alice", "status": "left"}
    assert bob.wait("presence", timeout=limit, where=lambda p: p == gone) == [gone], (
        f"no `left` for the users of the killed process within {limit:.1f} s"
    )
    took = time.monotonic() - killed_at
    assert "xp-k-alice" not in carol.join(room)["members"]

    # alice's client comes back, on B, with the last id it holds
    back = Chatter.on(b, "xp-k-alice")
    caught_up = back.join(room, since=held[-1])
    time.sleep(0.5)  # carol keeps talking after the join
    stop.set()
    talker.join(timeout=10)
    assert failures == [], "carol, on the surviving process, could not send"
    assert not caught_up["has_more"]
    last = sent[-1]["id"]
    live = back.wait("message", where=lambda m: m["room"] == room and m["id"] >= last)
    assert live, "no live message after the catch-up join"
    after = [m["id"] for m in caught_up["messages"]] + [m["id"] for m in back.messages(room)]
    # everything after what alice held, once, in order: nothing lost, nothing twice
    assert after == list(range(held[-1] + 1, last + 1))
    assert bob.wait("presence", count=2, where=lambda p: p["user"] == "xp-k-alice")[-1] == {
        "room": room,
        "user": "xp-k-alice",
        "status": "joined",
    }
    print(f"\nleft after {took:.1f} s (TTL {PRESENCE_TTL} s); caught up {len(after)} messages")
    for chatter in (bob, carol, back):
        chatter.close()
