"""The suspension sweep's selection, on both presence stores: only users suspended since its
last look, only this process's connections, nothing told twice (docs/protocol.md
"Suspended accounts")."""

from dataclasses import replace
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest
from redis import Redis

from app.domain.admin import AdminService
from app.domain.errors import ChatError
from app.domain.models import AccountSuspended, Identity
from app.domain.services import ChatServices
from app.domain.suspensions import SuspensionSweep
from app.storage.admin import SqlReportQueue
from app.storage.redis_stores import RedisPresenceStore
from tests.domain.conftest import TEST_LIMITS, RecordingBroadcaster


class DateClock:
    """The sweep's clock (naive UTC, like suspended_at), moved by the test."""

    def __init__(self):
        self.now = datetime(2026, 12, 2, 9, 0, 0)

    def __call__(self):
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def day():
    return DateClock()


@pytest.fixture
def sweep(accounts, chat, day):
    return SuspensionSweep(accounts.repository, chat.connections, day)


def suspend(accounts, identity: Identity, at: datetime) -> None:
    """What another process does (`flask users suspend` without Redis): only the database."""
    accounts.repository.suspend(identity.user_id, None, at)


def told_and_closed(*sids: str) -> list[tuple]:
    return [("AccountSuspended", sid, AccountSuspended()) for sid in sids] + [
        ("disconnect", sid) for sid in sids
    ]


def test_only_users_suspended_since_the_last_look_are_told_and_closed_once(
    sweep, accounts, chat, connected, broadcaster, day
):
    old = connected("o1", "olga")
    bob = connected("b1", "bob")
    connected("b2", "bob")
    connected("a1", "alice")
    # suspended long before this process looked (its connections were refused at connect):
    # not this sweep's business, and not read again every time
    suspend(accounts, old, day.now - timedelta(hours=1))
    day.advance(5)
    assert sweep.sweep() == 0
    assert broadcaster.sent == []

    day.advance(2)
    suspend(accounts, bob, day.now)
    day.advance(3)
    assert sweep.sweep() == 2
    assert broadcaster.sent == told_and_closed("b1", "b2")
    # the mark refuses bob's events until the close lands
    with pytest.raises(ChatError) as refused:
        chat.connections.charge("b1", "message")
    assert refused.value.code == "unauthorized"
    chat.connections.charge("a1", "message")

    # the next looks still read bob (inside the margin) but tell him nothing again, without
    # even looking for his connections
    broadcaster.sent.clear()
    looked_for = []
    suspend_here = chat.connections.suspend_here
    sweep.connections = SimpleNamespace(
        suspend_here=lambda user_id: looked_for.append(user_id) or suspend_here(user_id)
    )
    for _ in range(3):
        day.advance(5)
        assert sweep.sweep() == 0
    assert broadcaster.sent == [] and looked_for == []


def test_a_failed_look_is_made_again_from_as_far_back(sweep, accounts, connected, broadcaster, day):
    bob = connected("b1", "bob")
    suspend(accounts, bob, day.now)
    read = accounts.repository.suspended_since
    accounts.repository.suspended_since = lambda since: 1 / 0  # the database is away
    day.advance(40)  # longer than the margin
    with pytest.raises(ZeroDivisionError):
        sweep.sweep()
    accounts.repository.suspended_since = read
    day.advance(40)
    assert sweep.sweep() == 1
    assert broadcaster.sent == told_and_closed("b1")


def test_a_suspension_committed_after_a_look_it_predates_is_still_seen(
    sweep, accounts, connected, broadcaster, day
):
    bob = connected("b1", "bob")
    day.advance(5)
    taken_at = day.now - timedelta(seconds=1)  # its time was taken before this look...
    assert sweep.sweep() == 0
    suspend(accounts, bob, taken_at)  # ...and committed after it
    day.advance(5)
    assert sweep.sweep() == 1
    assert broadcaster.sent == told_and_closed("b1")


def test_a_user_suspended_again_after_an_unsuspension_is_closed_again(
    sweep, accounts, chat, connected, broadcaster, day
):
    bob = connected("b1", "bob")
    suspend(accounts, bob, day.now)
    day.advance(5)
    assert sweep.sweep() == 1
    chat.connections.disconnect("b1")  # the close landed
    accounts.repository.unsuspend(bob.user_id)
    connected("b2", "bob")  # signed in again
    day.advance(1)
    suspend(accounts, bob, day.now)
    broadcaster.sent.clear()
    day.advance(4)
    assert sweep.sweep() == 1
    assert broadcaster.sent == told_and_closed("b2")


def test_connections_told_by_the_suspension_itself_are_not_told_again(
    sweep, accounts, ports, chat, connected, broadcaster, session, day
):
    connected("b1", "bob")
    admin = AdminService(
        accounts.repository, ports.audit, chat.connections, SqlReportQueue(session), day
    )
    admin.suspend(None, "bob")  # the admin page: told and closed at once
    assert broadcaster.sent == told_and_closed("b1")
    broadcaster.sent.clear()
    day.advance(5)
    assert sweep.sweep() == 0  # its close has not landed yet: still connected, still quiet
    assert broadcaster.sent == []


@pytest.mark.parametrize("stores", ["redis"], indirect=True)  # shared by processes
def test_each_process_closes_only_its_own_connections(
    private_redis, sweep, accounts, ports, connected, broadcaster, day
):
    bob = connected("b1", "bob")
    # bob has a second connection, held by another process on the same Redis
    other_presence = RedisPresenceStore(
        Redis.from_url(private_redis.url, decode_responses=True), "other-host"
    )
    other_broadcaster = RecordingBroadcaster()
    other_chat = ChatServices.build(
        replace(ports, presence=other_presence, broadcaster=other_broadcaster), TEST_LIMITS
    )
    other_chat.connections.connect("b9", bob)
    other_sweep = SuspensionSweep(accounts.repository, other_chat.connections, day)

    suspend(accounts, bob, day.now)
    day.advance(5)
    assert sweep.sweep() == 1
    assert broadcaster.sent == told_and_closed("b1")
    # the other process's connection was left to it, unmarked: it tells it and closes it
    assert not other_presence.identity("b9").suspended
    assert other_sweep.sweep() == 1
    assert other_broadcaster.sent == told_and_closed("b9")
    assert sweep.sweep() == other_sweep.sweep() == 0
