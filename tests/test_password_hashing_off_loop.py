"""Issue 12 item 4: under gunicorn + gevent, password hashing never stalls other clients."""

import statistics
import threading
import time

import pytest
import requests

from tests.support.live import live_server
from tests.support.realclients import connect_as

pytestmark = pytest.mark.live

HASHERS = 4  # threads sending wrong passwords, as in the report
ACKS = 30


def test_wrong_passwords_do_not_delay_another_users_acks(tmp_path):
    """With scrypt (the production default) on the event loop, every ack waited behind the
    hashes in progress; in gevent's thread pool the loop stays free. Compared against the
    hashing requests' own latency in the same run, so a slow or loaded machine scales both."""
    with live_server(
        f"sqlite:///{tmp_path / 'prod.db'}",
        tmp_path / "gunicorn.log",
        production=True,
        RATELIMIT_ENABLED="1",
        LOGIN_RATE="100000/minute",
        LOGIN_ADDRESS_RATE="100000/minute",
        ROOMS_RATE="1000",  # the chatter times `rooms` acks back to back
        ROOMS_BURST="1000",
    ) as server:
        chatter = connect_as(server, "carol")
        server.token("alice")

        quiet = []
        for _ in range(10):
            started = time.perf_counter()
            assert chatter.call("rooms", {}, timeout=30)["ok"]
            quiet.append(time.perf_counter() - started)

        stop = threading.Event()
        hash_latencies: list[float] = []

        def guess() -> None:
            with requests.Session() as http:
                while not stop.is_set():
                    started = time.perf_counter()
                    response = http.post(
                        f"{server.url}/api/tokens",
                        json={"username": "alice", "password": "not her password"},
                        timeout=30,
                    )
                    hash_latencies.append(time.perf_counter() - started)
                    assert response.status_code == 401

        threads = [threading.Thread(target=guess, daemon=True) for _ in range(HASHERS)]
        for thread in threads:
            thread.start()
        try:
            time.sleep(0.5)  # the guessers are under way
            acks = []
            for _ in range(ACKS):
                started = time.perf_counter()
                assert chatter.call("rooms", {}, timeout=30)["ok"]
                acks.append(time.perf_counter() - started)
                time.sleep(0.02)
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=35)
            chatter.disconnect()

    ack, hashing = statistics.median(acks), statistics.median(hash_latencies)
    print(
        f"median ack {statistics.median(quiet) * 1000:.1f} ms alone, {ack * 1000:.1f} ms beside "
        f"{HASHERS} guessers; median wrong-password request {hashing * 1000:.1f} ms"
    )
    assert len(hash_latencies) >= HASHERS
    # on the loop an ack waits behind at least the hash in progress: about half a hash or
    # more. Off the loop it is a small fraction of one.
    assert ack < hashing / 5, (ack, hashing)
