"""RoomSequencer: what one process delivers when changes from several processes interleave."""

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from app.domain.ordering import NEW, UPDATED, RoomSequencer


class Database:
    """A room's stored messages as (id -> current state); each change takes the next rev."""

    def __init__(self):
        self.rev = 0
        self.states: dict[int, dict] = {}
        self.log: list[tuple[str, dict]] = []  # what each change published, by rev

    def post(self) -> dict:
        self.rev += 1
        state = {"id": len(self.states) + 1, "rev": self.rev, "text": f"m{self.rev}"}
        self.states[state["id"]] = state
        self.log.append((NEW, state))
        return state

    def edit(self, message_id: int) -> dict:
        self.rev += 1
        state = {"id": message_id, "rev": self.rev, "text": f"e{self.rev}"}
        self.states[message_id] = state
        self.log.append((UPDATED, state))
        return state

    def by_rev(self, room, after, before):
        changed = [s for s in self.states.values() if after < s["rev"] < before]
        return sorted(changed, key=lambda s: s["rev"])

    def by_id(self, room, after, before):
        return [s for i, s in sorted(self.states.items()) if after < i < before]


def arrive(sequencer, db, event, payload, room="general", now=0.0):
    """What the process emits for an arriving change: (event, id, rev, skipped sids)."""
    return shown(sequencer.deliver(room, payload, now, db.by_rev, db.by_id))


def shown(deliveries):
    return [(name, sent["id"], sent["rev"], sorted(skip)) for name, sent, skip in deliveries]


def later(sequencer, db, room="general"):
    """What the process reads back once a held change has waited GAP_WAIT."""
    assert sequencer.overdue(0.0) == []
    assert room in sequencer.overdue(RoomSequencer.GAP_WAIT)
    return shown(sequencer.flush(room, RoomSequencer.GAP_WAIT, db.by_rev, db.by_id))


def test_in_order_changes_are_delivered_as_they_come():
    sequencer, db = RoomSequencer(), Database()
    sequencer.caught_up("general", "s1", 0, 0)
    first = db.post()
    assert arrive(sequencer, db, NEW, first) == [(NEW, 1, 1, [])]
    edit = db.edit(1)
    assert arrive(sequencer, db, UPDATED, edit) == [(UPDATED, 1, 2, [])]


def test_a_change_ahead_of_a_lower_revision_waits_for_it():
    sequencer, db = RoomSequencer(), Database()
    sequencer.caught_up("general", "s1", 0, 0)
    first, edit, second = db.post(), db.edit(1), db.post()
    assert arrive(sequencer, db, NEW, first) == [(NEW, 1, 1, [])]
    # process B's revision 3 arrives before process A's revision 2: it waits for it
    assert arrive(sequencer, db, NEW, second) == []
    assert arrive(sequencer, db, UPDATED, edit) == [(UPDATED, 1, 2, []), (NEW, 2, 3, [])]
    assert sequencer.overdue(100.0) == []


def test_an_edit_that_overtakes_its_message_goes_out_after_it():
    sequencer, db = RoomSequencer(), Database()
    sequencer.caught_up("general", "s1", 0, 0)
    first, second = db.post(), db.post()
    edit_first = db.edit(1)
    assert arrive(sequencer, db, UPDATED, edit_first) == []
    assert arrive(sequencer, db, NEW, second) == []
    assert arrive(sequencer, db, NEW, first) == [
        (NEW, 1, 1, []),
        (NEW, 2, 2, []),
        (UPDATED, 1, 3, []),
    ]


def test_a_revision_that_never_comes_is_read_back_and_dropped_if_it_comes_late():
    sequencer, db = RoomSequencer(), Database()
    sequencer.caught_up("general", "s1", 0, 0)
    first, edit, second = db.post(), db.edit(1), db.post()
    assert arrive(sequencer, db, NEW, first) == [(NEW, 1, 1, [])]
    assert arrive(sequencer, db, NEW, second) == []
    assert later(sequencer, db) == [(UPDATED, 1, 2, []), (NEW, 2, 3, [])]
    assert arrive(sequencer, db, UPDATED, edit) == []


def test_a_read_back_sends_a_message_never_sent_before_higher_ids_in_its_current_state():
    sequencer, db = RoomSequencer(), Database()
    sequencer.caught_up("general", "s1", 0, 0)
    db.post()
    created_two = db.post()
    created_three = db.post()
    edit_two = db.edit(2)
    assert arrive(sequencer, db, NEW, db.log[0][1]) == [(NEW, 1, 1, [])]
    assert arrive(sequencer, db, NEW, created_three) == []
    # 2 (now at rev 4) is read back by id and sent first, in its current state
    assert later(sequencer, db) == [(NEW, 2, 4, []), (NEW, 3, 3, [])]
    assert arrive(sequencer, db, NEW, created_two) == []
    assert arrive(sequencer, db, UPDATED, edit_two) == []
    assert arrive(sequencer, db, UPDATED, db.edit(2)) == [(UPDATED, 2, 5, [])]


def test_a_joiner_is_skipped_for_what_its_catch_up_held():
    sequencer, db = RoomSequencer(), Database()
    sequencer.caught_up("general", "old", 0, 0)
    assert arrive(sequencer, db, NEW, db.post()) == [(NEW, 1, 1, [])]
    second, edit = db.post(), db.edit(1)
    # both were stored before "new" read its catch-up (messages up to 2, changes up to 3)
    sequencer.caught_up("general", "new", 2, 3)
    assert arrive(sequencer, db, NEW, second) == [(NEW, 2, 2, ["new"])]
    assert arrive(sequencer, db, UPDATED, edit) == [(UPDATED, 1, 3, ["new"])]
    assert arrive(sequencer, db, UPDATED, db.edit(2)) == [(UPDATED, 2, 4, [])]


def test_a_truncated_catch_up_does_not_skip_messages_beyond_it():
    sequencer, db = RoomSequencer(), Database()
    for _ in range(3):
        db.post()
    sequencer.caught_up("general", "a", 0, 0)
    # "b" got messages up to 2 only (its ack was cut), though the room was at revision 3
    sequencer.caught_up("general", "b", 2, 3)
    delivered = [arrive(sequencer, db, NEW, db.log[n][1]) for n in range(3)]
    assert delivered == [[(NEW, 1, 1, ["b"])], [(NEW, 2, 2, ["b"])], [(NEW, 3, 3, [])]]


def test_first_change_after_joins_starts_from_the_oldest_catch_up():
    sequencer, db = RoomSequencer(), Database()
    for _ in range(5):
        db.post()
    sequencer.caught_up("general", "a", 2, 2)
    sequencer.caught_up("general", "b", 5, 5)
    assert arrive(sequencer, db, NEW, db.post()) == []
    assert later(sequencer, db) == [
        (NEW, 3, 3, ["b"]),
        (NEW, 4, 4, ["b"]),
        (NEW, 5, 5, ["b"]),
        (NEW, 6, 6, []),
    ]


def test_forgetting_a_subscriber_and_dropping_a_room():
    sequencer, db = RoomSequencer(), Database()
    for _ in range(3):
        db.post()
    sequencer.caught_up("general", "a", 5, 5)
    sequencer.forget("general", "a")
    sequencer.caught_up("general", "b", 3, 3)
    assert arrive(sequencer, db, NEW, db.post()) == [(NEW, 4, 4, [])]
    sequencer.drop_room("general")
    for _ in range(5):
        db.post()
    sequencer.caught_up("general", "c", 9, 9)
    assert arrive(sequencer, db, NEW, db.post()) == [(NEW, 10, 10, [])]


def test_rooms_are_independent():
    sequencer, a, b = RoomSequencer(), Database(), Database()
    sequencer.caught_up("a", "s", 0, 0)
    sequencer.caught_up("b", "s", 0, 0)
    assert arrive(sequencer, a, NEW, a.post(), room="a") == [(NEW, 1, 1, [])]
    assert arrive(sequencer, b, NEW, b.post(), room="b") == [(NEW, 1, 1, [])]


def test_a_very_long_gap_is_read_back_at_once_but_not_whole():
    sequencer, db = RoomSequencer(), Database()
    sequencer.caught_up("general", "s", 0, 0)
    for _ in range(5000):
        db.post()
    delivered = arrive(sequencer, db, NEW, db.log[-1][1])
    # at most MAX_GAP changes read back by revision, and MAX_GAP messages by id
    assert len(delivered) <= 2 * RoomSequencer.MAX_GAP + 1
    assert delivered[-1][:3] == (NEW, 5000, 5000)


@settings(max_examples=300, deadline=None)
@given(
    changes=st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=40),
    seed=st.integers(min_value=0, max_value=2**32),
    stalls=st.booleans(),
)
def test_any_arrival_order_gives_each_change_once_in_order(changes, seed, stalls):
    """Changes published by several processes arrive in any order and each process has
    committed some more by then. A subscriber gets every message once as `message` before
    any update of it, never an older state after a newer one, and ends with exactly the
    stored state; when no publisher stalls, it gets exactly every change, in rev order."""
    db = Database()
    for choice in changes:
        if choice < 4 or not db.states:
            db.post()
        else:
            db.edit(random.Random(choice).randint(1, len(db.states)))
    final = {i: s["rev"] for i, s in db.states.items()}
    log = list(db.log)
    order = list(range(len(log)))
    rng = random.Random(seed)
    rng.shuffle(order)

    class Committed:
        """The database as a process sees it while changes arrive: committed up to some rev."""

        upto = 0

        def visible(self):
            states = {}
            for _, state in log[: self.upto]:
                states[state["id"]] = state
            return states

        def by_rev(self, room, after, before):
            seen = self.visible().values()
            return sorted((s for s in seen if after < s["rev"] < before), key=lambda s: s["rev"])

        def by_id(self, room, after, before):
            return [s for i, s in sorted(self.visible().items()) if after < i < before]

    view = Committed()
    sequencer = RoomSequencer()
    sequencer.caught_up("general", "s", 0, 0)
    held: dict[int, int] = {}
    received = []
    now = 0.0
    for index in order:
        _, payload = log[index]
        view.upto = max(view.upto, payload["rev"], rng.randint(0, len(log)))
        deliveries = sequencer.deliver("general", payload, now, view.by_rev, view.by_id)
        if stalls and rng.random() < 0.3:
            now += RoomSequencer.GAP_WAIT
            deliveries += sequencer.flush("general", now, view.by_rev, view.by_id)
        for name, sent, skip in deliveries:
            assert skip == []
            if name == NEW:
                assert sent["id"] not in held, "a second `message` for one id"
                assert sent["id"] == len(held) + 1, "ids out of order"
            else:
                assert sent["id"] in held, "`message_updated` before its `message`"
                assert sent["rev"] > held[sent["id"]], "an old or repeated state"
            held[sent["id"]] = sent["rev"]
            received.append((name, sent))
    if stalls:
        now += RoomSequencer.GAP_WAIT
        for _name, sent, _ in sequencer.flush("general", now, view.by_rev, view.by_id):
            held[sent["id"]] = sent["rev"]
    else:
        assert received == log
    assert held == final
