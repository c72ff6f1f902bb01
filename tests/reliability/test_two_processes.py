"""Two server processes writing one room of one database: ids stay gapless and in order."""

import time

import pytest

from tests.support.live import LiveServer
from tests.support.storm import FAST_SERVER, Sender, stored_messages, storm

PER_PROCESS = 3


@pytest.mark.timeout(90)
def test_ids_from_two_processes_sharing_a_database_are_gapless_and_unique(tmp_path):
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    servers = [
        LiveServer(database, tmp_path / f"server{n}.log", **FAST_SERVER).start() for n in range(2)
    ]
    try:
        senders = [
            Sender(server, f"writer{n}{m}", "shared")
            for n, server in enumerate(servers)
            for m in range(PER_PROCESS)
        ]
        storm(senders, lambda: time.sleep(4), join_timeout=15)

        acked = [m for s in senders for m in s.acked.values()]
        stored = stored_messages(servers[0], "shared")
        ids = [m["id"] for m in stored]
        assert len(acked) > 200
        assert ids == list(range(1, len(ids) + 1))  # no gap a `since` could skip
        assert sorted(m["id"] for m in acked) == sorted(set(m["id"] for m in acked))
        by_id = {m["id"]: m for m in stored}
        assert all(by_id[m["id"]] == m for m in acked)  # each ack names its stored message
        # both processes really wrote: each one's senders got acks
        assert all(s.acked for s in senders)
        print(f"\ntwo processes: acked={len(acked)} stored={len(stored)}")
    finally:
        for server in servers:
            server.stop()
