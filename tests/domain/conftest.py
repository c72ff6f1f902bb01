"""Domain fixtures: the chat services over plain SQLAlchemy and in-memory stores, no Flask."""

from dataclasses import dataclass, field

import pytest
from redis import Redis
from sqlalchemy import create_engine
from sqlalchemy.orm import scoped_session, sessionmaker

from app.domain.accounts import AccountService
from app.domain.budgets import Budget, Budgets
from app.domain.limits import Limits
from app.domain.models import (
    AccountSuspended,
    DmOpened,
    Identity,
    Kicked,
    Muted,
    PartnerFound,
    PartnerLeft,
    PresenceChanged,
    RoomUpdated,
    TypingChanged,
    Unmuted,
)
from app.domain.ports import Ports
from app.domain.services import ChatServices
from app.storage.audit import SqlAuditLog
from app.storage.memory import (
    MemoryPairStore,
    MemoryPresenceStore,
    MemoryRateLimiter,
    StripedRoomLocks,
)
from app.storage.models import Base
from app.storage.moderation import SqlModerationRepository
from app.storage.redis_stores import RedisPairStore, RedisPresenceStore, RedisRateLimiter
from app.storage.reports import SqlReports
from app.storage.sql import SqlAccountRepository, SqlChatRepository


@dataclass
class RecordingBroadcaster:
    """Stands in for Socket.IO: remembers subscriptions and what would have been emitted."""

    subscriptions: dict[str, set[str]] = field(default_factory=dict)
    sent: list[tuple] = field(default_factory=list)
    caught_up_to: dict[tuple[str, str], int] = field(default_factory=dict)
    caught_up_rev: dict[tuple[str, str], int] = field(default_factory=dict)

    def subscribe(self, sid, room):
        self.subscriptions.setdefault(room, set()).add(sid)

    def unsubscribe(self, sid, room):
        self.subscriptions.get(room, set()).discard(sid)

    def caught_up(self, sid, room, upto, upto_rev):
        self.caught_up_to[(sid, room)] = upto
        self.caught_up_rev[(sid, room)] = upto_rev

    def message(self, message):
        self.sent.append(("message", message.room, message.id, message.text))

    def updated(self, message):
        self.sent.append(("message_updated", message.room, message.id, message.rev))

    def to_room(self, change, skip_sids):
        if isinstance(change, PresenceChanged):
            self.sent.append(
                ("presence", change.room, change.user, change.status, tuple(skip_sids))
            )
        elif isinstance(change, RoomUpdated):
            self.sent.append(("room_updated", change.room, change.summary, tuple(skip_sids)))
        else:
            assert isinstance(change, TypingChanged)
            skipped = tuple(sorted(skip_sids))
            self.sent.append(("typing", change.room, change.user, change.typing, skipped))

    def notify(self, sids, notice):
        assert isinstance(
            notice,
            DmOpened | PartnerFound | PartnerLeft | AccountSuspended | Kicked | Muted | Unmuted,
        )
        for sid in sorted(sids):
            self.sent.append((type(notice).__name__, sid, notice))

    def disconnect(self, sids):
        for sid in sorted(sids):
            self.sent.append(("disconnect", sid))


class FakeClock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


class FakeScheduler:
    """Collects delayed calls; a test runs them when it wants time to have passed."""

    def __init__(self):
        self.pending: list[tuple[float, object, tuple]] = []

    def call_later(self, delay, fn, *args):
        self.pending.append((delay, fn, args))

    def run_pending(self):
        pending, self.pending = self.pending, []
        for _, fn, args in pending:
            fn(*args)


class PlainHasher:
    def hash(self, password):
        return "plain$" + password

    def verify(self, password_hash, password):
        return password_hash == "plain$" + password


@pytest.fixture
def session(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'domain.db'}")
    Base.metadata.create_all(engine)
    session = scoped_session(sessionmaker(engine))
    yield session
    session.remove()
    engine.dispose()


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def broadcaster():
    return RecordingBroadcaster()


@pytest.fixture
def accounts(session):
    return AccountService(SqlAccountRepository(session), PlainHasher())


@pytest.fixture
def scheduler():
    return FakeScheduler()


@pytest.fixture(params=["memory", "redis"])
def stores(request, clock):
    """Every domain test runs on both store implementations: one process, or shared (Redis)."""
    if request.param == "memory":
        return MemoryPresenceStore(), MemoryRateLimiter(clock=clock), MemoryPairStore()
    server = request.getfixturevalue("private_redis")
    server.flush()
    client = Redis.from_url(server.url, decode_responses=True)
    request.addfinalizer(client.close)
    # Redis buckets refill on Redis's own clock, which a test can't move (tested apart)
    limiter = (
        MemoryRateLimiter(clock=clock)
        if request.node.get_closest_marker("fake_clock_limits")
        else RedisRateLimiter(client)
    )
    return RedisPresenceStore(client, "test-host"), limiter, RedisPairStore(client)


@pytest.fixture
def ports(session, broadcaster, clock, scheduler, stores):
    presence, limiter, pairs = stores
    return Ports(
        repository=SqlChatRepository(session, session.get_bind()),
        presence=presence,
        broadcaster=broadcaster,
        locks=StripedRoomLocks(),
        limiter=limiter,
        pairs=pairs,
        scheduler=scheduler,
        audit=SqlAuditLog(session),
        reports=SqlReports(session),
        moderation=SqlModerationRepository(session),
        wall_clock=clock,
    )


# Small message and typing bursts, so that tests reach them quickly.
TEST_LIMITS = Limits(budgets=Budgets(message=Budget(1.0, 3), typing=Budget(1.0, 2)))


@pytest.fixture
def chat(ports):
    return ChatServices.build(ports, TEST_LIMITS)


@pytest.fixture
def connected(chat, accounts):
    """Connect `sid` as `username` (registered on first use); returns the Identity."""

    def connect(sid: str, username: str, expires_at: float | None = None) -> Identity:
        account = accounts.repository.find_by_username(username) or accounts.register(
            username, "password123"
        )
        identity = Identity(account.id, account.username, expires_at)
        chat.connections.connect(sid, identity)
        return identity

    return connect
