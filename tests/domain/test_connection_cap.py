"""MAX_CONNECTIONS_PER_USER in the domain, on both presence stores: an atomic cap."""

from concurrent.futures import ThreadPoolExecutor

from app.domain.models import Identity

ALICE = Identity(1, "alice", 1e12)
BOB = Identity(2, "bob")


def test_connections_over_the_cap_are_refused_and_leave_no_trace(chat):
    assert all(chat.connections.connect(f"a{n}", ALICE, 3) for n in range(3))
    assert not chat.connections.connect("a3", ALICE, 3)
    assert chat.ports.presence.identity("a3") is None
    assert sorted(chat.ports.presence.sids_of(ALICE.user_id)) == ["a0", "a1", "a2"]
    assert chat.connections.connect("b0", BOB, 3)  # per user

    chat.connections.disconnect("a1")
    assert chat.connections.connect("a4", ALICE, 3)
    assert chat.ports.presence.identity("a4") == ALICE  # the expiry survives the round trip
    assert chat.connections.connect("a5", ALICE, 0)  # 0: no cap


def test_simultaneous_connects_never_overshoot_the_cap(chat):
    # 60 connects of one user at once: the check and the add are one step in either store
    with ThreadPoolExecutor(max_workers=12) as pool:
        accepted = list(pool.map(lambda n: chat.connections.connect(f"s{n}", ALICE, 20), range(60)))
    assert accepted.count(True) == 20
    assert len(chat.ports.presence.sids_of(ALICE.user_id)) == 20
