"""Domain tests: the chat services' rules with no Flask and no Socket.IO."""

import ast
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.domain.budgets import Budget, Budgets
from app.domain.errors import ChatError
from app.domain.limits import Limits
from app.domain.models import PartnerFound, PartnerLeft, RoomsPage, RoomSummary
from app.domain.services import ChatServices

DOMAIN_DIR = Path(__file__).resolve().parents[2] / "app" / "domain"
UNTHROTTLED = Budgets(message=Budget(100.0, 100))


def refusal(call, *args) -> ChatError:
    with pytest.raises(ChatError) as caught:
        call(*args)
    return caught.value


def test_domain_modules_import_no_flask_nor_storage():
    for path in DOMAIN_DIR.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [("." * node.level) + (node.module or "")]
            else:
                continue
            for name in names:
                assert not name.startswith(("flask", "werkzeug", "sqlalchemy", "..")), (
                    f"{path.name} imports {name}"
                )


def test_domain_and_storage_load_without_flask():
    code = (
        "import sys, app.domain.services, app.domain.accounts, app.storage.sql, app.storage.memory;"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug')];"
        "sys.exit(f'Flask loaded: {loaded}' if loaded else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=DOMAIN_DIR.parents[1])


def test_join_creates_room_and_reports_presence(chat, connected, broadcaster):
    connected("s1", "alice")
    connected("s2", "bob")
    result = chat.rooms.join("s1", "lobby")
    assert result.room.name == "lobby"
    assert result.members == ["alice"]
    assert result.messages == [] and result.has_more is False
    chat.rooms.join("s2", "lobby")
    assert ("presence", "lobby", "bob", "joined", ("s2",)) in broadcaster.sent
    assert broadcaster.subscriptions["lobby"] == {"s1", "s2"}


def test_two_tabs_are_one_member(chat, connected, broadcaster, scheduler):
    connected("tab1", "alice")
    connected("tab2", "alice")
    chat.rooms.join("tab1", "general")
    chat.rooms.join("tab2", "general")
    assert [s for s in broadcaster.sent if s[0] == "presence"] == [
        ("presence", "general", "alice", "joined", ("tab1",))
    ]
    chat.rooms.leave("tab1", "general")
    assert not [s for s in broadcaster.sent if s[:1] == ("presence",) and s[3] == "left"]
    chat.connections.disconnect("tab2")
    # inside the joined broadcast's coalescing window: held until the window closes
    scheduler.run_pending()
    # skipping alice's own connections (tab1, connected but no longer in the room)
    assert broadcaster.sent[-1] == ("presence", "general", "alice", "left", ("tab1",))
    assert chat.ports.presence.members("general") == []


@pytest.mark.fake_clock_limits
def test_post_assigns_consecutive_ids_per_room(chat, connected, clock):
    connected("s1", "alice")
    chat.rooms.join("s1", "a")
    chat.rooms.join("s1", "b")
    ids = []
    for room in ["a", "a", "b", "a"]:
        clock.now += 10  # stay under the rate limit
        ids.append((room, chat.messages.post("s1", room, f"  hi {room}  ").id))
    assert ids == [("a", 1), ("a", 2), ("b", 1), ("a", 3)]
    messages, has_more = chat.messages.history("s1", "a")
    assert [m.text for m in messages] == ["hi a", "hi a", "hi a"] and not has_more


def test_post_rules(chat, connected):
    connected("s1", "alice")
    assert refusal(chat.messages.post, "s1", "general", "hello").code == "not_in_room"
    chat.rooms.join("s1", "general")
    assert refusal(chat.messages.post, "s1", "general", "   ").code == "invalid"
    assert refusal(chat.messages.post, "s1", "general", "x" * 4001).code == "too_large"
    assert refusal(chat.messages.post, "s1", "general", "a\x00b").code == "invalid"
    assert refusal(chat.messages.post, "s1", "general", "\ud800").code == "invalid"
    assert refusal(chat.messages.post, "s1", "General", "hi").code == "invalid"
    assert chat.messages.post("s1", "general", "x" * 4000).id == 1


def test_client_id_makes_send_idempotent(chat, connected, broadcaster, clock):
    connected("s1", "alice")
    chat.rooms.join("s1", "general")
    first = chat.messages.post("s1", "general", "once", "c-1")
    clock.now += 10
    again = chat.messages.post("s1", "general", "once", "c-1")
    assert again == first
    assert [s for s in broadcaster.sent if s[0] == "message"] == [("message", "general", 1, "once")]


@pytest.mark.fake_clock_limits
def test_rate_limit_refills_over_time(chat, connected, clock):
    connected("s1", "alice")
    chat.rooms.join("s1", "general")
    for n in range(3):  # burst of 3
        chat.messages.post("s1", "general", f"m{n}")
    error = refusal(chat.messages.post, "s1", "general", "too fast")
    # rounded up to the ms, plus 1 ms of slack
    assert error.code == "rate_limited" and error.retry_after == 1.001
    clock.now += 1.0
    assert chat.messages.post("s1", "general", "later").id == 4


def test_typing_skips_the_typers_own_connections(chat, connected, broadcaster, clock):
    connected("t1", "alice")
    connected("t2", "alice")
    connected("s3", "bob")
    for sid in ("t1", "s3"):
        chat.rooms.join(sid, "general")
    chat.messages.typing("t1", "general", True)
    assert broadcaster.sent[-1] == ("typing", "general", "alice", True, ("t1", "t2"))
    assert refusal(chat.messages.typing, "t2", "general", True).code == "not_in_room"


def test_join_since_catches_up_in_pages(ports, connected):
    chat = ChatServices.build(ports, Limits(catch_up_max=3, budgets=UNTHROTTLED))
    connected("s1", "alice")
    chat.rooms.join("s1", "general")
    for n in range(7):
        chat.messages.post("s1", "general", f"m{n + 1}")
    page = chat.rooms.join("s1", "general", since=2)
    assert [m.id for m in page.messages] == [3, 4, 5] and page.has_more
    page = chat.rooms.join("s1", "general", since=5)
    assert [m.id for m in page.messages] == [6, 7] and not page.has_more


def test_history_pages_backwards(ports, connected):
    chat = ChatServices.build(ports, Limits(budgets=UNTHROTTLED))
    connected("s1", "alice")
    chat.rooms.join("s1", "general")
    for n in range(5):
        chat.messages.post("s1", "general", f"m{n + 1}")
    messages, has_more = chat.messages.history("s1", "general", limit=2)
    assert [m.id for m in messages] == [4, 5] and has_more
    messages, has_more = chat.messages.history("s1", "general", before=4, limit=2)
    assert [m.id for m in messages] == [2, 3] and has_more
    messages, has_more = chat.messages.history("s1", "general", before=2, limit=2)
    assert [m.id for m in messages] == [1] and not has_more
    assert refusal(chat.messages.history, "s1", "nowhere").code == "not_found"


def test_private_rooms_are_members_only(chat, connected, session):
    alice = connected("s1", "alice")
    connected("s2", "mallory")
    repository = chat.ports.repository
    room = repository.create_room("dm:1-2", private=True)
    repository.add_member(room, alice.user_id)
    assert chat.rooms.join("s1", "dm:1-2").room.private
    assert refusal(chat.rooms.join, "s2", "dm:1-2").code == "forbidden"
    assert refusal(chat.messages.history, "s2", "dm:1-2").code == "forbidden"
    # a private-looking name that does not exist gives the same answer: nothing leaks
    assert refusal(chat.rooms.join, "s2", "dm:9-9").code == "forbidden"
    assert chat.rooms.page("s1") == RoomsPage([], None)


def test_expired_identity_is_unauthorized(chat, connected, clock):
    connected("s1", "alice", expires_at=clock.now + 5)
    chat.rooms.join("s1", "general")
    clock.now += 5
    assert refusal(chat.rooms.page, "s1").code == "unauthorized"
    assert refusal(chat.connections.charge, "unknown-sid", "rooms").code == "unauthorized"


def test_rooms_lists_online_users_and_last_id(chat, connected):
    connected("s1", "alice")
    connected("s2", "alice")
    connected("s3", "bob")
    for sid in ("s1", "s2", "s3"):
        chat.rooms.join(sid, "general")
    chat.rooms.join("s3", "zeta")
    chat.messages.post("s1", "general", "hello")
    page = chat.rooms.page("s1")
    listed = [(e.room.name, e.room.kind, e.online, e.room.last_message_id) for e in page.rooms]
    assert listed == [("general", "public", 2, 1), ("zeta", "public", 1, None)]
    assert page.next_after is None and [e.with_user for e in page.rooms] == [None, None]


def test_accounts_unique_ignoring_case(accounts):
    accounts.register("Alice", "password123")
    assert refusal(accounts.register, "alice", "password123").code == "username_taken"
    assert refusal(accounts.register, "al", "password123").code == "invalid"
    assert refusal(accounts.register, "bob", "short").code == "invalid"
    assert accounts.authenticate("ALICE", "password123").username == "Alice"
    assert accounts.authenticate("alice", "wrong-password") is None


def test_retry_of_a_stored_message_is_answered_while_rate_limited(chat, connected):
    connected("s1", "alice")
    chat.rooms.join("s1", "general")
    first = chat.messages.post("s1", "general", "one", "c-1")
    chat.messages.post("s1", "general", "two")
    chat.messages.post("s1", "general", "three")  # burst of 3 used up
    assert chat.messages.post("s1", "general", "one", "c-1") == first
    assert refusal(chat.messages.post, "s1", "general", "four", "c-4").code == "rate_limited"


def pair_events(broadcaster, kind):
    """(sid, notice) of each `kind` of notice sent."""
    return [sent[1:] for sent in broadcaster.sent if sent[0] == kind.__name__]


def partner_name(chat, sid) -> str:
    """The username of the stranger the user behind `sid` is paired with (the store's view:
    clients only ever see aliases)."""
    pairing = chat.ports.pairs.pairing_of(chat.ports.presence.identity(sid).user_id)
    return pairing.partner.username


def test_strangers_are_matched_first_come_first_served(chat, connected, broadcaster):
    ids = {
        name: connected(f"s{n}", name).user_id
        for n, name in enumerate(["amy", "ben", "cat", "dan"])
    }
    assert chat.strangers.find_partner("s0") is None  # waiting
    chat.strangers.find_partner("s1")
    assert partner_name(chat, "s1") == "amy"
    assert chat.strangers.find_partner("s2") is None
    paired = chat.strangers.find_partner("s3")
    assert partner_name(chat, "s3") == "cat"
    cat, dan = (chat.strangers.alias_of(paired.room, ids[name]) for name in ("cat", "dan"))
    assert paired == PartnerFound(paired.room, cat, dan)
    found = pair_events(broadcaster, PartnerFound)
    assert ("s2", PartnerFound(paired.room, dan, cat)) in found
    assert ("s3", PartnerFound(paired.room, cat, dan)) in found
    assert chat.ports.presence.in_room("s2", paired.room)


def test_no_self_match_and_next_avoids_the_last_partner(chat, connected, broadcaster):
    connected("a1", "amy")
    connected("a2", "amy")
    connected("b1", "ben")
    connected("c1", "cat")
    assert chat.strangers.find_partner("a1") is None
    assert chat.strangers.find_partner("a2") is None  # another tab: not yourself
    first = chat.strangers.find_partner("b1")
    assert partner_name(chat, "b1") == "amy"
    assert chat.strangers.find_partner("c1") is None
    # ben presses Next: amy is told, ben goes to cat rather than straight back to amy
    chat.strangers.find_partner("b1")
    assert partner_name(chat, "b1") == "cat"
    assert ("a1", PartnerLeft(first.room)) in pair_events(broadcaster, PartnerLeft)
    # amy asked again from her second tab, so that tab holds her seat in the pair room
    assert refusal(chat.messages.post, "a2", first.room, "still there?").code == "forbidden"


def test_disconnected_partner_is_gone_only_after_the_grace(chat, connected, broadcaster, scheduler):
    connected("a1", "amy")
    connected("b1", "ben")
    chat.strangers.find_partner("a1")
    room = chat.strangers.find_partner("b1").room
    chat.connections.disconnect("b1")
    assert pair_events(broadcaster, PartnerLeft) == []
    connected("b2", "ben")  # ben is back in time and rejoins the pair's room
    chat.rooms.join("b2", room)
    scheduler.run_pending()
    assert pair_events(broadcaster, PartnerLeft) == []
    assert chat.messages.post("b2", room, "back").id == 1
    chat.connections.disconnect("b2")
    scheduler.run_pending()
    assert pair_events(broadcaster, PartnerLeft) == [("a1", PartnerLeft(room))]


def test_blocked_users_are_never_matched_nor_messaged(chat, connected):
    connected("a1", "amy")
    connected("b1", "ben")
    chat.direct.block("a1", "ben")
    assert chat.strangers.find_partner("b1") is None
    assert chat.strangers.find_partner("a1") is None
    assert refusal(chat.direct.open, "b1", "amy").code == "forbidden"
    chat.direct.unblock("a1", "ben")
    dm = chat.direct.open("b1", "amy")
    assert dm.room.kind == "dm" and dm.room.private


def test_a_joined_room_is_summarised_as_its_user_sees_it(chat, connected):
    connected("a1", "amy")
    connected("b1", "ben")
    public = chat.rooms.join("a1", "general").room
    # amy's join created the room here, so she owns it
    assert public == RoomSummary("general", "", "public", False, owner="amy", role="owner")
    dm = chat.direct.open("a1", "ben").room
    assert (dm.kind, dm.private, dm.with_user, dm.active) == ("dm", True, "ben", None)
    chat.strangers.find_partner("a1")
    room = chat.strangers.find_partner("b1").room
    ben = chat.ports.presence.identity("b1").user_id
    assert chat.rooms.join("a1", room).room.with_user == chat.strangers.alias_of(room, ben)
    assert chat.rooms.join("a1", room).room.active is True
    chat.strangers.leave_partner("b1")
    # the pair has ended: a page coming back learns it from its join
    assert chat.rooms.join("a1", room).room.active is False


def test_redis_rate_limiter_shares_a_bucket_and_refills_on_the_servers_clock(private_redis):
    from redis import Redis

    from app.storage.redis_stores import RedisRateLimiter

    private_redis.flush()
    client = Redis.from_url(private_redis.url, decode_responses=True)
    one_process, another_process = RedisRateLimiter(client), RedisRateLimiter(client)
    assert one_process.hit("message:1", 20.0, 2) == 0.0
    assert another_process.hit("message:1", 20.0, 2) == 0.0
    wait = one_process.hit("message:1", 20.0, 2)
    assert 0 < wait <= 0.05
    assert one_process.hit("message:2", 20.0, 2) == 0.0  # another user's bucket
    time.sleep(wait + 0.01)
    assert another_process.hit("message:1", 20.0, 2) == 0.0
    client.close()
