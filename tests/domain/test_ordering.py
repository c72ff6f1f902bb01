"""RoomSequencer: what one process delivers when broadcasts from several processes interleave."""

from app.domain.ordering import RoomSequencer


def deliver(sequencer: RoomSequencer, room: str, message_id: int) -> list[tuple[int, list[str]]]:
    """What the process emits for an arriving broadcast: (id, skipped sids) in order."""
    emitted = []
    for due in sequencer.due(room, message_id):
        emitted.append((due, sorted(sequencer.skip(room, due))))
        sequencer.delivered(room, due)
    return emitted


def test_in_order_broadcasts_are_delivered_as_they_come():
    sequencer = RoomSequencer()
    sequencer.caught_up("general", "s1", 0)
    assert deliver(sequencer, "general", 1) == [(1, [])]
    assert deliver(sequencer, "general", 2) == [(2, [])]


def test_a_gap_is_filled_before_the_newer_message_and_the_late_one_dropped():
    sequencer = RoomSequencer()
    sequencer.caught_up("general", "s1", 4)
    # process B's 6 arrives before process A's 5: 5 is read back first
    assert deliver(sequencer, "general", 6) == [(5, []), (6, [])]
    assert deliver(sequencer, "general", 5) == []
    assert deliver(sequencer, "general", 7) == [(7, [])]


def test_a_joiner_is_skipped_for_what_its_catch_up_held():
    sequencer = RoomSequencer()
    sequencer.caught_up("general", "old", 3)
    assert deliver(sequencer, "general", 4) == [(4, [])]
    # 5 and 6 were committed before "new" read its catch-up; their broadcasts come later
    sequencer.caught_up("general", "new", 6)
    assert deliver(sequencer, "general", 5) == [(5, ["new"])]
    assert deliver(sequencer, "general", 6) == [(6, ["new"])]
    assert deliver(sequencer, "general", 7) == [(7, [])]


def test_first_broadcast_after_joins_starts_from_the_oldest_catch_up():
    sequencer = RoomSequencer()
    sequencer.caught_up("general", "a", 2)
    sequencer.caught_up("general", "b", 5)
    assert deliver(sequencer, "general", 6) == [(3, ["b"]), (4, ["b"]), (5, ["b"]), (6, [])]


def test_a_joiner_behind_what_was_delivered_gets_later_messages_normally():
    sequencer = RoomSequencer()
    sequencer.caught_up("general", "a", 0)
    deliver(sequencer, "general", 1)
    sequencer.caught_up("general", "b", 1)
    assert deliver(sequencer, "general", 2) == [(2, [])]


def test_forgetting_a_subscriber_and_dropping_a_room():
    sequencer = RoomSequencer()
    sequencer.caught_up("general", "a", 5)
    sequencer.forget("general", "a")
    sequencer.caught_up("general", "b", 3)
    assert deliver(sequencer, "general", 4) == [(4, [])]
    sequencer.drop_room("general")
    sequencer.caught_up("general", "c", 9)
    assert deliver(sequencer, "general", 10) == [(10, [])]


def test_rooms_are_independent():
    sequencer = RoomSequencer()
    sequencer.caught_up("a", "s", 1)
    sequencer.caught_up("b", "s", 7)
    assert deliver(sequencer, "a", 2) == [(2, [])]
    assert deliver(sequencer, "b", 8) == [(8, [])]


def test_a_very_long_gap_is_not_read_back_whole():
    sequencer = RoomSequencer()
    sequencer.caught_up("general", "s", 0)
    due = sequencer.due("general", 5000)
    assert due[-1] == 5000
    assert len(due) == RoomSequencer.MAX_GAP + 1
