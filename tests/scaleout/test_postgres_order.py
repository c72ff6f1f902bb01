"""Two processes writing one room of one PostgreSQL database at the same time: ids are gapless,
unique and increasing, and every client, on either process, receives the room's messages in id
order with none missing and none twice."""

import time

import pytest

from tests.support.chatter import Chatter, in_room
from tests.support.storm import FAST_SERVER, Sender, stored_messages, storm

pytestmark = pytest.mark.timeout(60)

WRITERS_PER_PROCESS = 3
READERS_PER_PROCESS = 2
STORM_SECONDS = 3


def test_two_processes_storming_one_room_keep_ids_gapless_and_delivery_in_order(start_servers):
    servers = start_servers(2, **FAST_SERVER)
    room = "pg-storm"
    readers = [
        Chatter.on(server, f"pg-reader{n}{m}")
        for n, server in enumerate(servers)
        for m in range(READERS_PER_PROCESS)
    ]
    for reader in readers:
        assert reader.join(room)["messages"] == []
    senders = [
        Sender(server, f"pg-writer{n}{m}", room)
        for n, server in enumerate(servers)
        for m in range(WRITERS_PER_PROCESS)
    ]
    storm(senders, lambda: time.sleep(STORM_SECONDS))

    acked = [m for s in senders for m in s.acked.values()]
    stored = stored_messages(servers[1], room)
    ids = [m["id"] for m in stored]
    assert len(acked) >= 100
    assert all(s.acked for s in senders)  # both processes really wrote
    assert ids == list(range(1, len(ids) + 1))  # gapless, unique, increasing
    assert sorted(m["id"] for m in acked) == sorted({m["id"] for m in acked})
    by_id = {m["id"]: m for m in stored}
    assert all(by_id[m["id"]] == m for m in acked)  # each ack names its stored message

    for reader in readers:
        got = reader.wait("message", count=len(stored), timeout=15, where=in_room(room))
        got_ids = [m["id"] for m in got]
        missing = sorted(set(ids) - set(got_ids))
        assert got_ids == ids, (
            f"{reader.name} ({reader.url}): {len(got_ids)} of {len(ids)}, "
            f"missing {missing[:10]}, twice {len(got_ids) - len(set(got_ids))}, "
            f"in order {got_ids == sorted(got_ids)}"
        )
        assert got == stored
    print(f"\ntwo processes on PostgreSQL: acked={len(acked)} stored={len(stored)}")
    for reader in readers:
        reader.close()
    for sender in senders:
        sender.sio.disconnect()
