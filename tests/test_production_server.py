"""The production server (gunicorn, gevent worker, simple-websocket) with real clients."""

import json
import signal

import requests

from tests.live import live_server
from tests.realclients import InOrderClient

FAST_HASH = {"PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}


def test_gunicorn_gevent_serves_websocket_chat_health_and_json_logs(tmp_path):
    log_path = tmp_path / "gunicorn.log"
    with live_server(
        f"sqlite:///{tmp_path / 'prod.db'}", log_path, production=True, **FAST_HASH
    ) as server:
        health = requests.get(f"{server.url}/healthz", timeout=5)
        assert health.status_code == 200
        assert health.json() == {"status": "ok", "database": "ok"}

        clients = {}
        for name in ("alice", "bob"):
            clients[name] = InOrderClient(reconnection=False)
            clients[name].connect(
                server.url, auth={"token": server.token(name)}, transports=["websocket"]
            )
            assert clients[name].transport() == "websocket"
            assert clients[name].call("join", {"room": "general"}, timeout=5)["ok"]
        received = []
        clients["bob"].on("message", received.append)
        ack = clients["alice"].call("message", {"room": "general", "text": "from gevent"})
        assert ack["ok"] and ack["message"]["id"] == 1
        deadline_calls = 50
        while not received and deadline_calls:
            clients["bob"].sleep(0.1)
            deadline_calls -= 1
        assert received == [ack["message"]]
        for client in clients.values():
            client.disconnect()

        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=20) == 0

    lines = [line for line in log_path.read_text().splitlines() if line.startswith("{")]
    entries = [json.loads(line) for line in lines]
    assert any(e["logger"] == "gunicorn.error" and "gevent" in e["message"] for e in entries)
    assert any(e["logger"] == "gunicorn.access" and "/healthz" in e["message"] for e in entries)
