"""Stranger chat in the domain, on both stores and a fake clock: no rematch within
PAIR_REMATCH_SECONDS, aliases, and the report threshold's 24 hours."""

import hashlib
import hmac

from app.domain.aliases import pair_aliases
from app.domain.models import PartnerFound

TEN_MINUTES = 600.0


def partner_of(chat, sid) -> str | None:
    identity = chat.ports.presence.identity(sid)
    pairing = chat.ports.pairs.pairing_of(identity.user_id)
    return pairing.partner.username if pairing else None


def test_no_rematch_for_ten_minutes_whoever_else_waits(chat, connected, clock):
    connected("a1", "amy")
    connected("b1", "ben")
    assert chat.strangers.find_partner("a1") is None
    assert isinstance(chat.strangers.find_partner("b1"), PartnerFound)
    chat.strangers.leave_partner("b1")
    # both wait, nobody else does: still not matched, for ten minutes
    assert chat.strangers.find_partner("a1") is None
    assert chat.strangers.find_partner("b1") is None
    clock.now += TEN_MINUTES - 1
    assert chat.strangers.find_partner("b1") is None
    assert partner_of(chat, "b1") is None
    # a newcomer is matched with the longest waiting meanwhile
    connected("c1", "cat")
    chat.strangers.find_partner("c1")
    assert partner_of(chat, "c1") == "amy"
    chat.strangers.leave_partner("c1")
    clock.now += 1
    # ten minutes after amy and ben parted, amy asks again: ben, still waiting, is hers
    assert chat.strangers.find_partner("a1") is not None
    assert partner_of(chat, "a1") == "ben"


def test_the_window_runs_from_the_end_of_a_long_chat(chat, connected, clock):
    connected("a1", "amy")
    connected("b1", "ben")
    chat.strangers.find_partner("a1")
    chat.strangers.find_partner("b1")
    clock.now += 3 * TEN_MINUTES  # a long chat
    chat.strangers.find_partner("b1")  # "Next"
    clock.now += TEN_MINUTES / 2
    assert chat.strangers.find_partner("a1") is None
    clock.now += TEN_MINUTES / 2
    assert chat.strangers.find_partner("a1") is not None


def test_aliases_are_stable_distinct_and_keyed():
    aliases = pair_aliases(b"key", "pair:ab", 3, 7)
    assert aliases == pair_aliases(b"key", "pair:ab", 7, 3)
    assert aliases[3] != aliases[7]
    assert all(a.startswith("stranger-") and len(a) == 13 for a in aliases.values())
    assert pair_aliases(b"other key", "pair:ab", 3, 7) != aliases


def test_colliding_aliases_take_the_next_digits_for_the_higher_id():
    # find a room where the two first-4 digests collide, then check they still differ
    def digest(room, user_id):
        return hmac.new(b"k", f"{room}\x00{user_id}".encode(), hashlib.sha256).hexdigest()

    for n in range(200_000):
        room = f"pair:{n}"
        if digest(room, 1)[:4] == digest(room, 2)[:4]:
            aliases = pair_aliases(b"k", room, 2, 1)
            assert aliases[1] == "stranger-" + digest(room, 1)[:4]
            assert aliases[2] == "stranger-" + digest(room, 2)[4:8]
            return
    raise AssertionError("no collision found")


def test_the_threshold_counts_reporters_of_the_last_24_hours(chat, connected, clock):
    target = connected("m1", "mal")
    for n in range(2):
        connected(f"r{n}", f"rep{n}")
        chat.reports.report(f"r{n}", "mal", "spam")
    clock.now += 24 * 3600 - 10
    connected("r2", "rep2")
    chat.reports.report("r2", "mal", "spam")
    assert chat.strangers.held_out(target.user_id)
    assert chat.strangers.find_partner("m1") is None
    clock.now += 11  # the first two are over 24 hours old now
    assert not chat.strangers.held_out(target.user_id)
    connected("n1", "newcomer")
    chat.strangers.find_partner("m1")
    assert chat.strangers.find_partner("n1") is not None
