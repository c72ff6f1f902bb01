"""Domain tests: the chat service's rules with no Flask and no Socket.IO."""

import ast
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.domain.budgets import Budget, Budgets
from app.domain.errors import ChatError

DOMAIN_DIR = Path(__file__).resolve().parents[2] / "app" / "domain"


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
        "import sys, app.domain.chat, app.domain.accounts, app.storage.sql, app.storage.memory;"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('flask', 'werkzeug')];"
        "sys.exit(f'Flask loaded: {loaded}' if loaded else 0)"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=DOMAIN_DIR.parents[1])


def test_join_creates_room_and_reports_presence(service, connected, broadcaster):
    connected("s1", "alice")
    connected("s2", "bob")
    result = service.join("s1", "lobby")
    assert result.room.name == "lobby"
    assert result.members == ["alice"]
    assert result.messages == [] and result.has_more is False
    service.join("s2", "lobby")
    assert ("presence", "lobby", "bob", "joined", ("s2",)) in broadcaster.sent
    assert broadcaster.subscriptions["lobby"] == {"s1", "s2"}


def test_two_tabs_are_one_member(service, connected, broadcaster, scheduler):
    connected("tab1", "alice")
    connected("tab2", "alice")
    service.join("tab1", "general")
    service.join("tab2", "general")
    assert [s for s in broadcaster.sent if s[0] == "presence"] == [
        ("presence", "general", "alice", "joined", ("tab1",))
    ]
    service.leave("tab1", "general")
    assert not [s for s in broadcaster.sent if s[:1] == ("presence",) and s[3] == "left"]
    service.disconnect("tab2")
    # inside the joined broadcast's coalescing window: held until the window closes
    scheduler.run_pending()
    # skipping alice's own connections (tab1, connected but no longer in the room)
    assert broadcaster.sent[-1] == ("presence", "general", "alice", "left", ("tab1",))
    assert service.presence.members("general") == []


@pytest.mark.fake_clock_limits
def test_post_assigns_consecutive_ids_per_room(service, connected, clock):
    connected("s1", "alice")
    service.join("s1", "a")
    service.join("s1", "b")
    ids = []
    for room in ["a", "a", "b", "a"]:
        clock.now += 10  # stay under the rate limit
        ids.append((room, service.post("s1", room, f"  hi {room}  ").id))
    assert ids == [("a", 1), ("a", 2), ("b", 1), ("a", 3)]
    messages, has_more = service.history("s1", "a")
    assert [m.text for m in messages] == ["hi a", "hi a", "hi a"] and not has_more


def test_post_rules(service, connected):
    connected("s1", "alice")
    assert refusal(service.post, "s1", "general", "hello").code == "not_in_room"
    service.join("s1", "general")
    assert refusal(service.post, "s1", "general", "   ").code == "invalid"
    assert refusal(service.post, "s1", "general", "x" * 4001).code == "too_large"
    assert refusal(service.post, "s1", "general", "a\x00b").code == "invalid"
    assert refusal(service.post, "s1", "general", "\ud800").code == "invalid"
    assert refusal(service.post, "s1", "General", "hi").code == "invalid"
    assert service.post("s1", "general", "x" * 4000).id == 1


def test_client_id_makes_send_idempotent(service, connected, broadcaster, clock):
    connected("s1", "alice")
    service.join("s1", "general")
    first = service.post("s1", "general", "once", "c-1")
    clock.now += 10
    again = service.post("s1", "general", "once", "c-1")
    assert again == first
    assert [s for s in broadcaster.sent if s[0] == "message"] == [("message", "general", 1, "once")]


@pytest.mark.fake_clock_limits
def test_rate_limit_refills_over_time(service, connected, clock):
    connected("s1", "alice")
    service.join("s1", "general")
    for n in range(3):  # burst of 3
        service.post("s1", "general", f"m{n}")
    error = refusal(service.post, "s1", "general", "too fast")
    # rounded up to the ms, plus 1 ms of slack
    assert error.code == "rate_limited" and error.retry_after == 1.001
    clock.now += 1.0
    assert service.post("s1", "general", "later").id == 4


def test_typing_skips_the_typers_own_connections(service, connected, broadcaster, clock):
    connected("t1", "alice")
    connected("t2", "alice")
    connected("s3", "bob")
    for sid in ("t1", "s3"):
        service.join(sid, "general")
    service.typing("t1", "general", True)
    assert broadcaster.sent[-1] == ("typing", "general", "alice", True, ("t1", "t2"))
    assert refusal(service.typing, "t2", "general", True).code == "not_in_room"


def test_join_since_catches_up_in_pages(service, connected, clock):
    connected("s1", "alice")
    service.join("s1", "general")
    service.limits = type(service.limits)(catch_up_max=3)
    service.throttle.budgets = Budgets(message=Budget(100.0, 100))
    for n in range(7):
        service.post("s1", "general", f"m{n + 1}")
    page = service.join("s1", "general", since=2)
    assert [m.id for m in page.messages] == [3, 4, 5] and page.has_more
    page = service.join("s1", "general", since=5)
    assert [m.id for m in page.messages] == [6, 7] and not page.has_more


def test_history_pages_backwards(service, connected):
    connected("s1", "alice")
    service.join("s1", "general")
    service.throttle.budgets = Budgets(message=Budget(100.0, 100))
    for n in range(5):
        service.post("s1", "general", f"m{n + 1}")
    messages, has_more = service.history("s1", "general", limit=2)
    assert [m.id for m in messages] == [4, 5] and has_more
    messages, has_more = service.history("s1", "general", before=4, limit=2)
    assert [m.id for m in messages] == [2, 3] and has_more
    messages, has_more = service.history("s1", "general", before=2, limit=2)
    assert [m.id for m in messages] == [1] and not has_more
    assert refusal(service.history, "s1", "nowhere").code == "not_found"


def test_private_rooms_are_members_only(service, connected, session):
    alice = connected("s1", "alice")
    connected("s2", "mallory")
    repository = service.repository
    room = repository.create_room("dm:1-2", private=True)
    repository.add_member(room, alice.user_id)
    assert service.join("s1", "dm:1-2").room.private
    assert refusal(service.join, "s2", "dm:1-2").code == "forbidden"
    assert refusal(service.history, "s2", "dm:1-2").code == "forbidden"
    # a private-looking name that does not exist gives the same answer: nothing leaks
    assert refusal(service.join, "s2", "dm:9-9").code == "forbidden"
    assert [r["name"] for r in service.rooms("s1")[0]] == []


def test_expired_identity_is_unauthorized(service, connected, clock):
    connected("s1", "alice", expires_at=clock.now + 5)
    service.join("s1", "general")
    clock.now += 5
    assert refusal(service.rooms, "s1").code == "unauthorized"
    assert refusal(service.identity, "unknown-sid").code == "unauthorized"


def test_rooms_lists_online_users_and_last_id(service, connected):
    connected("s1", "alice")
    connected("s2", "alice")
    connected("s3", "bob")
    for sid in ("s1", "s2", "s3"):
        service.join(sid, "general")
    service.join("s3", "zeta")
    service.post("s1", "general", "hello")
    assert service.rooms("s1") == (
        [
            {"name": "general", "topic": "", "online": 2, "last_message_id": 1, "kind": "public"},
            {"name": "zeta", "topic": "", "online": 1, "last_message_id": None, "kind": "public"},
        ],
        None,
    )


def test_accounts_unique_ignoring_case(accounts):
    accounts.register("Alice", "password123")
    assert refusal(accounts.register, "alice", "password123").code == "username_taken"
    assert refusal(accounts.register, "al", "password123").code == "invalid"
    assert refusal(accounts.register, "bob", "short").code == "invalid"
    assert accounts.authenticate("ALICE", "password123").username == "Alice"
    assert accounts.authenticate("alice", "wrong-password") is None


def test_retry_of_a_stored_message_is_answered_while_rate_limited(service, connected):
    connected("s1", "alice")
    service.join("s1", "general")
    first = service.post("s1", "general", "one", "c-1")
    service.post("s1", "general", "two")
    service.post("s1", "general", "three")  # burst of 3 used up
    assert service.post("s1", "general", "one", "c-1") == first
    assert refusal(service.post, "s1", "general", "four", "c-4").code == "rate_limited"


def pair_events(broadcaster, event):
    return [sent[1:] for sent in broadcaster.sent if sent[0] == event]


def test_strangers_are_matched_first_come_first_served(service, connected, broadcaster):
    for n, name in enumerate(["amy", "ben", "cat", "dan"]):
        connected(f"s{n}", name)
    assert service.find_partner("s0") == {"status": "waiting"}
    assert service.find_partner("s1")["partner"] == "amy"
    assert service.find_partner("s2") == {"status": "waiting"}
    paired = service.find_partner("s3")
    assert paired["status"] == "paired" and paired["partner"] == "cat"
    found = pair_events(broadcaster, "partner_found")
    assert ("s2", {"room": paired["room"], "partner": "dan"}) in found
    assert ("s3", {"room": paired["room"], "partner": "cat"}) in found
    assert service.presence.in_room("s2", paired["room"])


def test_no_self_match_and_next_avoids_the_last_partner(service, connected, broadcaster):
    connected("a1", "amy")
    connected("a2", "amy")
    connected("b1", "ben")
    connected("c1", "cat")
    assert service.find_partner("a1") == {"status": "waiting"}
    assert service.find_partner("a2") == {"status": "waiting"}  # another tab: not yourself
    first = service.find_partner("b1")
    assert first["partner"] == "amy"
    assert service.find_partner("c1") == {"status": "waiting"}
    # ben presses Next: amy is told, ben goes to cat rather than straight back to amy
    assert service.find_partner("b1")["partner"] == "cat"
    assert ("a1", {"room": first["room"]}) in pair_events(broadcaster, "partner_left")
    # amy asked again from her second tab, so that tab holds her seat in the pair room
    assert refusal(service.post, "a2", first["room"], "still there?").code == "forbidden"


def test_disconnected_partner_is_gone_only_after_the_grace(
    service, connected, broadcaster, scheduler
):
    connected("a1", "amy")
    connected("b1", "ben")
    service.find_partner("a1")
    room = service.find_partner("b1")["room"]
    service.disconnect("b1")
    assert pair_events(broadcaster, "partner_left") == []
    connected("b2", "ben")  # ben is back in time and rejoins the pair's room
    service.join("b2", room)
    scheduler.run_pending()
    assert pair_events(broadcaster, "partner_left") == []
    assert service.post("b2", room, "back").id == 1
    service.disconnect("b2")
    scheduler.run_pending()
    assert pair_events(broadcaster, "partner_left") == [("a1", {"room": room})]


def test_blocked_users_are_never_matched_nor_messaged(service, connected):
    connected("a1", "amy")
    connected("b1", "ben")
    service.block("a1", "ben")
    assert service.find_partner("b1") == {"status": "waiting"}
    assert service.find_partner("a1") == {"status": "waiting"}
    assert refusal(service.direct, "b1", "amy").code == "forbidden"
    service.unblock("a1", "ben")
    dm = service.direct("b1", "amy")
    assert dm.room.kind == "dm" and dm.room.private


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
