"""Catch-up by room revision on a real server (`flask run`) with python-socketio clients: a
client that misses edits, deletes, reactions and new messages rejoins with `since` + `rev`
and then holds exactly what a client that never left holds."""

import pytest

from tests.support.live import live_server
from tests.support.realclients import connect_as
from tests.support.replica import ReplicaClient, close_all, quote_problems, read_room
from tests.support.services import wait_until

pytestmark = pytest.mark.live

ROOM = "catchup"


def ok(ack: dict) -> dict:
    """The Message of a successful ack."""
    assert ack.get("ok") is True, ack
    return ack["message"]


def post(client: ReplicaClient, text: str, **fields) -> dict:
    return ok(client.call("message", {"room": ROOM, "text": text, **fields}))


def change(client: ReplicaClient, event: str, **fields) -> dict:
    return ok(client.call(event, {"room": ROOM, **fields}))


def settled(clients: list[ReplicaClient], rev: int) -> None:
    """Wait (bounded) until every client holds room revision `rev`."""
    wait_until(lambda: all(c.views[ROOM].rev >= rev for c in clients), timeout=5)
    assert [c.views[ROOM].rev for c in clients] == [rev] * len(clients)


@pytest.mark.parametrize("abrupt", [False, True], ids=["clean", "abrupt"])
def test_a_client_back_from_a_disconnect_holds_what_one_that_stayed_holds(tmp_path, abrupt):
    with live_server(f"sqlite:///{tmp_path / 'live.db'}", tmp_path / "server.log") as server:
        alice, bob, carol, dave = (
            ReplicaClient(name, server.token(name), [ROOM]).connect(server.url)
            for name in ("alice", "Bob", "carol", "dave")
        )
        everyone = [alice, bob, carol, dave]
        assert dave.views[ROOM].rev == 0  # a new room starts at revision 0

        first = post(alice, "first")
        second = post(alice, "second")
        third = post(bob, "third", reply_to=second["id"])
        change(bob, "react", id=first["id"], emoji="👍", on=True)
        change(alice, "react", id=third["id"], emoji="🎉", on=True)
        fourth = post(carol, "carol *here*")
        assert [m["rev"] for m in (first, second, third, fourth)] == [1, 2, 3, 6]
        settled(everyone, 6)

        dave.drop(abrupt=abrupt)
        # dave misses all of these: edits, a delete (and its reply's quote), reactions off and
        # on, a new message that replies, and an edit that changes that reply's quote
        change(alice, "edit", id=first["id"], text="first, edited")  # rev 7
        change(alice, "delete", id=second["id"])  # rev 8; #3 quotes it: rev 9
        change(bob, "react", id=first["id"], emoji="👍", on=False)  # rev 10
        change(bob, "react", id=third["id"], emoji="🎉", on=True)  # rev 11
        fifth = post(alice, "new while dave was away", reply_to=first["id"])  # rev 12
        change(bob, "edit", id=third["id"], text="third, edited")  # rev 13
        change(bob, "react", id=fifth["id"], emoji="👍", on=True)  # rev 14
        change(alice, "edit", id=first["id"], text="first, edited twice")  # rev 15; #5: 16
        settled([alice, bob, carol], 16)

        dave.connect(server.url)  # joins with since=4, rev=6
        ack = dave.join(ROOM)  # joining again answers the same way, and changes nothing
        assert ack["room"]["rev"] == 16
        assert (ack["has_more"], ack["updates_truncated"]) == (False, False)
        rejoin = dave.views[ROOM]
        assert rejoin.caught_updates == 3 and rejoin.caught_messages == 1
        stored = read_room(dave.call, ROOM)
        by_id = {m["id"]: m for m in stored}

        assert [(m["id"], m["rev"]) for m in stored] == [(1, 15), (2, 8), (3, 13), (4, 6), (5, 16)]
        assert (by_id[1]["text"], by_id[1]["reactions"]) == ("first, edited twice", {})
        assert by_id[1]["edited_at"] is not None
        assert (by_id[2]["deleted"], by_id[2]["text"], by_id[2]["edited_at"]) == (True, "", None)
        assert by_id[3]["text"] == "third, edited"
        assert by_id[3]["reply_to"] == {"id": 2, "user": "alice", "text": "", "deleted": True}
        assert by_id[3]["reactions"] == {"🎉": ["alice", "Bob"]}
        assert by_id[4] == fourth
        assert by_id[5]["reply_to"] == {
            "id": 1, "user": "alice", "text": "first, edited twice", "deleted": False
        }  # fmt: skip
        assert by_id[5]["reactions"] == {"👍": ["Bob"]}
        assert quote_problems(stored) == []

        for client in everyone:
            assert client.views[ROOM].differences(stored) == [], client.name
            assert client.problems() == []
        # the ones that stayed were sent every revision, once, in order
        for client in (alice, bob, carol):
            assert client.views[ROOM].revs_seen == set(range(1, 17)), client.name

        # and dave goes on like the others
        sixth = post(bob, "welcome back", reply_to=fifth["id"])
        change(carol, "react", id=fifth["id"], emoji="👍", on=True)
        settled(everyone, sixth["rev"] + 1)
        stored = read_room(carol.call, ROOM)
        assert stored[-1]["reply_to"]["text"] == "new while dave was away"
        for client in everyone:
            assert client.views[ROOM].differences(stored) == [], client.name
            assert client.problems() == []
        close_all(everyone)


def test_updates_are_one_per_message_and_over_500_the_client_is_told_to_reload(tmp_path):
    fast = {f"{bucket}_{kind}": "100000" for bucket in ("MESSAGE", "REACT", "EVENT")
            for kind in ("RATE", "BURST")}  # fmt: skip
    with live_server(
        f"sqlite:///{tmp_path / 'live.db'}", tmp_path / "server.log", **fast
    ) as server:
        alice, dave = (
            ReplicaClient(name, server.token(name), [ROOM]).connect(server.url)
            for name in ("alice", "dave")
        )
        for n in range(501):
            post(alice, f"message {n}")
        settled([alice, dave], 501)

        dave.drop(abrupt=False)
        for n in range(30):  # thirty changes of one message
            change(alice, "react", id=1, emoji=f"e{n % 3}", on=n % 6 < 3)
        dave.connect(server.url)
        view = dave.views[ROOM]
        assert (view.caught_updates, view.caught_messages) == (1, 0)  # its current state, once
        stored = read_room(alice.call, ROOM)
        assert view.differences(stored) == [] and dave.problems() == []

        dave.drop(abrupt=True)
        for n in range(501):  # one change of each of 501 messages
            change(alice, "react", id=n + 1, emoji="👀", on=True)
        held = view.join_payload()
        assert held == {"room": ROOM, "since": 501, "rev": 531}
        sio = connect_as(server, "dave", wait_timeout=10)
        ack = sio.call("join", held, timeout=10)
        assert ack["ok"] and ack["updates_truncated"] is True, ack
        assert (ack["messages"], ack["has_more"]) == ([], False)
        assert [(u["id"], u["rev"]) for u in ack["updates"]] == [
            (n + 1, 532 + n) for n in range(500)
        ]
        # the protocol's way out: drop what is held and join again without since
        stored = read_room(alice.call, ROOM)
        fresh = sio.call("join", {"room": ROOM}, timeout=10)
        assert fresh["ok"] and fresh["room"]["rev"] == 1032, fresh["room"]
        assert fresh["messages"] == stored[-50:]
        assert all(m["reactions"] == {"👀": ["alice"]} for m in stored[1:])
        close_all([alice, sio])
