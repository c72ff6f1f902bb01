"""Crashes and shutdowns: SIGKILL in a send storm and SIGTERM lose no acknowledged message."""

import signal
import time

import pytest

from tests.support.live import LiveServer
from tests.support.realclients import InOrderClient
from tests.support.storm import (
    FAST_SERVER,
    Sender,
    assert_every_ack_stored,
    stored_messages,
    storm,
)

SENDERS = 6


def storm_then(server: LiveServer, stop_server, room: str) -> list[Sender]:
    senders = [Sender(server, f"sender{n}", room) for n in range(SENDERS)]

    def until_300_acked_then_stop_the_server() -> None:
        deadline = time.monotonic() + 10
        while sum(len(s.acked) for s in senders) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        stop_server()

    storm(senders, until_300_acked_then_stop_the_server)
    return senders


@pytest.mark.timeout(90)
def test_sigkill_during_a_send_storm_loses_no_acknowledged_message(tmp_path):
    server = LiveServer(f"sqlite:///{tmp_path / 'kill.db'}", tmp_path / "server.log", **FAST_SERVER)
    server.start()
    try:
        senders = storm_then(server, server.kill, "storm")
        assert server.process.returncode == -signal.SIGKILL
        server.start()
        stored = stored_messages(server, "storm")
        acked = assert_every_ack_stored(senders, stored)

        # Retrying every unacknowledged send with its client_id stores each exactly once.
        for sender in senders:
            if not sender.unacked:
                continue
            again = Sender(server, sender.username, "storm")
            for client_id, text in sender.unacked.items():
                ack = again.sio.call(
                    "message", {"room": "storm", "text": text, "client_id": client_id}
                )
                assert ack["ok"] and ack["message"]["client_id"] == client_id
            again.sio.disconnect()
        stored = stored_messages(server, "storm")
        client_ids = [m["client_id"] for m in stored]
        assert len(client_ids) == len(set(client_ids))
        print(f"\nsigkill: acked={acked} stored_after_retries={len(stored)}")
    finally:
        server.stop()


@pytest.mark.timeout(90)
def test_sigterm_closes_clients_who_reconnect_and_loses_nothing(tmp_path):
    server = LiveServer(f"sqlite:///{tmp_path / 'term.db'}", tmp_path / "server.log", **FAST_SERVER)
    server.start()
    try:
        watcher = InOrderClient(
            reconnection=True, reconnection_delay=0.2, reconnection_delay_max=0.5
        )
        reasons, connects = [], []
        watcher.on("disconnect", reasons.append)
        watcher.on("connect", lambda: connects.append(time.monotonic()))
        watcher.connect(
            server.url, auth={"token": server.token("watcher")}, transports=["websocket"]
        )

        def terminate():
            server.process.send_signal(signal.SIGTERM)
            assert server.process.wait(timeout=15) == 0  # drained and exited cleanly

        senders = storm_then(server, terminate, "storm")
        # a dropped connection, not a Socket.IO disconnect: clients come back (checked below)
        # instead of staying away as after "io server disconnect"
        assert reasons[:1] == [InOrderClient.reason.TRANSPORT_ERROR]

        server.start()  # same port: the watcher comes back by itself
        deadline = time.monotonic() + 15
        while len(connects) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(connects) >= 2
        watcher.disconnect()
        assert_every_ack_stored(senders, stored_messages(server, "storm"))
        assert "shutdown: closed" in server.log_path.read_text()
    finally:
        server.stop()
