"""Rate-limiter announcements (flood strikes only for ignored retry_after) and presence
coalescing, in the domain with a fake clock and scheduler."""

import time

import pytest
from redis import Redis

from app.domain.budgets import announced_wait
from app.domain.presence import SWEEP_AT, PresenceCoalescer
from app.storage.memory import MemoryRateLimiter
from app.storage.redis_stores import RedisRateLimiter


def test_announced_wait_is_rounded_up_to_the_ms_with_a_ms_of_slack():
    assert announced_wait(0.1) == 0.101
    assert announced_wait(0.0994) == 0.101
    assert announced_wait(1 / 3) == 0.335
    for wait in (0.1, 1 / 3, 2 / 7, 0.0000001, 359.9999):
        assert announced_wait(wait) > wait


def test_a_refusal_announces_a_time_when_a_token_is_there(clock):
    limiter = MemoryRateLimiter(clock=clock)
    assert limiter.take("message:1", 10.0, 1) == (0.0, False)
    retry_after, early = limiter.take("message:1", 10.0, 1)
    assert (retry_after, early) == (0.101, False)  # the first refusal is no strike
    clock.now += 0.05
    retry_after, early = limiter.take("message:1", 10.0, 1)
    assert early  # came before the announced time: ignored it
    clock.now += retry_after  # waits exactly as told
    assert limiter.take("message:1", 10.0, 1) == (0.0, False)
    clock.now += 0.2
    limiter.take("message:1", 10.0, 1)
    # a refusal after the announced time passed (a token was used meanwhile) is polite
    assert limiter.take("message:1", 10.0, 1)[1] is False


def test_redis_buckets_announce_and_flag_early_attempts_too(private_redis):
    private_redis.flush()
    client = Redis.from_url(private_redis.url, decode_responses=True)
    one, another = RedisRateLimiter(client), RedisRateLimiter(client)
    assert one.take("message:1", 20.0, 1) == (0.0, False)
    retry_after, early = another.take("message:1", 20.0, 1)
    assert 0 < retry_after <= 0.051 and not early
    assert retry_after == round(retry_after, 3)  # whole milliseconds
    assert one.take("message:1", 20.0, 1)[1] is True  # ignored the announcement
    time.sleep(0.06)
    assert another.take("message:1", 20.0, 1) == (0.0, False)
    assert one.hit("message:2", 20.0, 1) == 0.0  # hit() keeps its meaning
    assert 0 < one.hit("message:2", 20.0, 1) <= 0.05
    client.close()


def presence_sent(broadcaster):
    return [sent for sent in broadcaster.sent if sent[0] == "presence"]


@pytest.mark.fake_clock_limits
def test_a_join_leave_loop_is_coalesced_to_the_final_state(
    chat, connected, broadcaster, scheduler, clock
):
    connected("s1", "looper")
    for _ in range(200):
        chat.rooms.join("s1", "lobby")
        chat.rooms.leave("s1", "lobby")
    # the first change goes out at once, the rest is held until the window closes
    assert presence_sent(broadcaster) == [("presence", "lobby", "looper", "joined", ("s1",))]
    clock.now += 2
    scheduler.run_pending()
    # the user's own connections are skipped: they know where they are
    assert presence_sent(broadcaster)[-1] == ("presence", "lobby", "looper", "left", ("s1",))
    assert len(presence_sent(broadcaster)) == 2
    clock.now += 2
    scheduler.run_pending()  # the last window closes with nothing held: nothing more
    assert len(presence_sent(broadcaster)) == 2
    chat.rooms.join("s1", "lobby")  # after a quiet window: at once again
    assert presence_sent(broadcaster)[-1][3] == "joined" and len(presence_sent(broadcaster)) == 3


@pytest.mark.fake_clock_limits
def test_back_to_the_state_last_sent_sends_nothing_more(
    chat, connected, broadcaster, scheduler, clock
):
    connected("s1", "alice")
    chat.rooms.join("s1", "lobby")
    chat.rooms.leave("s1", "lobby")
    chat.rooms.join("s1", "lobby")
    clock.now += 2
    scheduler.run_pending()
    assert presence_sent(broadcaster) == [("presence", "lobby", "alice", "joined", ("s1",))]


def test_closed_presence_windows_do_not_pile_up(broadcaster, scheduler, clock):
    coalescer = PresenceCoalescer(
        broadcaster, scheduler, 2.0, clock, present=lambda *_: True, sids_of=lambda _: []
    )
    for n in range(5000):  # one join in each of 5,000 rooms, one every 10 ms
        coalescer.changed(f"room-{n}", 1, "alice", "joined", ())
        clock.now += 0.01
    assert len(broadcaster.sent) == 5000  # each a first change: sent at once
    assert scheduler.pending == []  # nothing held: no timers
    assert len(coalescer._windows) <= SWEEP_AT


def test_a_held_left_never_reaches_the_users_own_new_connection(broadcaster, scheduler, clock):
    """bob leaves inside a window; by the time the window closes and his state is read as
    gone, a new connection of his may already be in the room again: the `left` that goes
    out must not reach it (seen on a loaded machine: bob's new tab was told bob left)."""
    connections = {"bob": ["b1"]}
    present = {"now": False}  # read just before b2 joined
    coalescer = PresenceCoalescer(
        broadcaster,
        scheduler,
        2.0,
        clock,
        present=lambda *_: present["now"],
        sids_of=lambda _: connections["bob"],
    )
    coalescer.changed("general", 2, "bob", "joined", ("b1",))
    coalescer.changed("general", 2, "bob", "left", ())  # b1 went away: held
    connections["bob"] = ["b2"]  # bob is back on a new connection
    clock.now += 2
    scheduler.run_pending()
    assert presence_sent(broadcaster)[-1] == ("presence", "general", "bob", "left", ("b2",))
    # b2's join found the window already held and scheduled nothing of its own: the state
    # is looked at once more when the next window ends, so the room learns bob is back
    present["now"] = True
    clock.now += 2
    scheduler.run_pending()
    assert presence_sent(broadcaster)[-1] == ("presence", "general", "bob", "joined", ("b2",))
    clock.now += 2
    scheduler.run_pending()  # settled: nothing more, and no timer left
    assert len(presence_sent(broadcaster)) == 3
    assert scheduler.pending == []
