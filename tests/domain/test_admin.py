"""AdminService and suspension in the domain, on both presence stores: what a suspended user's
connections are sent and whether their events still pass, and what the audit log keeps."""

import pytest
from redis import Redis

from app.domain.admin import AdminService
from app.domain.errors import ChatError
from app.domain.models import AccountSuspended
from app.storage.admin import SqlReportQueue
from app.storage.redis_stores import RedisPresenceStore


@pytest.fixture
def admin(accounts, ports, chat, session):
    return AdminService(accounts.repository, ports.audit, chat.connections, SqlReportQueue(session))


def audit(ports) -> list[tuple]:
    return [(e.actor_id, e.action, e.target_id, e.reason) for e in reversed(ports.audit.recent())]


def test_suspending_tells_and_closes_every_connection_of_that_user(
    admin, chat, connected, broadcaster, ports
):
    bob = connected("b1", "bob")
    connected("b2", "bob")
    connected("a1", "alice")
    chat.rooms.join("b1", "general")
    broadcaster.sent.clear()
    assert admin.suspend(None, "bob", "  spam ") == 2
    assert broadcaster.sent == [
        ("AccountSuspended", "b1", AccountSuspended()),
        ("AccountSuspended", "b2", AccountSuspended()),
        ("disconnect", "b1"),
        ("disconnect", "b2"),
    ]
    # until the close lands, the connection's own mark refuses every event, like an expiry
    for sid in ("b1", "b2"):
        with pytest.raises(ChatError) as refused:
            chat.connections.charge(sid, "message")
        assert (refused.value.code, refused.value.message) == (
            "unauthorized",
            "This account is suspended.",
        )
    chat.connections.charge("a1", "message")  # others are untouched
    assert admin.accounts.is_suspended(bob.user_id)
    assert audit(ports) == [(None, "suspend", bob.user_id, "spam")]


@pytest.mark.parametrize("stores", ["redis"], indirect=True)  # shared by processes
def test_the_mark_is_shared_with_other_processes(private_redis, admin, connected, ports, stores):
    presence = stores[0]
    connected("b1", "bob")
    other_process = RedisPresenceStore(
        Redis.from_url(private_redis.url, decode_responses=True), "x"
    )
    assert not other_process.identity("b1").suspended
    admin.suspend(None, "bob")
    assert other_process.identity("b1").suspended
    # a connection that closed is not brought back by the mark
    assert presence.suspend_user(12345) == []


def test_nobody_suspends_or_unadmins_themselves_and_members_act_on_no_one(
    admin, accounts, connected, ports
):
    root = connected("r1", "root")
    bob = connected("b1", "bob")
    admin.set_admin(None, "root", True)
    for act in (
        lambda: admin.suspend(root.user_id, "root"),
        lambda: admin.set_admin(root.user_id, "root", False),
        lambda: admin.suspend(bob.user_id, "root"),  # bob is no admin
        lambda: admin.set_admin(bob.user_id, "bob", True),
    ):
        with pytest.raises(ChatError) as refused:
            act()
        assert refused.value.code == "forbidden"
    with pytest.raises(ChatError) as refused:
        admin.unsuspend(root.user_id, "nobody")
    assert refused.value.code == "not_found"
    assert not accounts.repository.is_suspended(root.user_id)
    assert accounts.repository.is_admin(root.user_id)
    assert audit(ports) == [(None, "grant_admin", root.user_id, None)]
