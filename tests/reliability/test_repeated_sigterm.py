"""A burst of SIGTERMs under load (a process manager signalling the whole process group, make
passing its own on, an impatient operator) stops the server every time, within a bounded time,
with a clean exit, and loses no acknowledged message."""

import os
import signal
import subprocess
import time

import pytest

from tests.support.live import LiveServer
from tests.support.storm import (
    FAST_SERVER,
    Sender,
    assert_every_ack_stored,
    stored_messages,
    storm,
)

ATTEMPTS = 3
FLOOD_SECONDS = 0.2
EXIT_WITHIN_SECONDS = 15
SENDERS = 4


def sigterm_burst_under_load(server: LiveServer, room: str) -> tuple[list[Sender], int | None]:
    """Senders storm `room`; after 300 acks the server's process group gets SIGTERM after
    SIGTERM for FLOOD_SECONDS (thousands: some land while a handler is running). The senders,
    and the exit status (None: still running after EXIT_WITHIN_SECONDS)."""
    senders = [Sender(server, f"{room}-sender{n}", room) for n in range(SENDERS)]
    status: list[int | None] = []

    def burst_when_loaded() -> None:
        deadline = time.monotonic() + 10
        while sum(len(s.acked) for s in senders) < 300 and time.monotonic() < deadline:
            time.sleep(0.01)
        group = os.getpgid(server.process.pid)
        flood_until = time.monotonic() + FLOOD_SECONDS
        while time.monotonic() < flood_until:
            try:
                os.killpg(group, signal.SIGTERM)
            except ProcessLookupError:
                break
        try:
            status.append(server.process.wait(timeout=EXIT_WITHIN_SECONDS))
        except subprocess.TimeoutExpired:  # it hangs
            status.append(None)

    storm(senders, burst_when_loaded)
    return senders, status[0]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("production", [False, True], ids=["flask-run", "gunicorn"])
def test_a_burst_of_sigterms_under_load_stops_the_server_every_time(tmp_path, production):
    database = f"sqlite:///{tmp_path / 'term.db'}"
    for attempt in range(ATTEMPTS):
        server = LiveServer(
            database,
            tmp_path / f"server-{attempt}.log",
            production=production,
            own_process_group=True,
            GUNICORN_GRACEFUL_TIMEOUT="30",  # longer than the bound: the drain must end it
            **FAST_SERVER,
        )
        server.start()
        room = f"burst{attempt}"
        try:
            senders, status = sigterm_burst_under_load(server, room)
            assert status is not None, (
                f"attempt {attempt}: still running {EXIT_WITHIN_SECONDS} s after the SIGTERMs"
            )
            # 0: it drained and exited by itself; -15 would be a later SIGTERM killing it
            assert status == 0, f"attempt {attempt}: exit status {status}"
        finally:
            if server.process.poll() is None:
                os.killpg(os.getpgid(server.process.pid), signal.SIGKILL)
                server.process.wait()

        server.start()
        try:
            assert_every_ack_stored(senders, stored_messages(server, room))
        finally:
            server.stop()
