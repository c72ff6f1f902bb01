"""The production server (gunicorn, gevent worker, simple-websocket) with real clients."""

import json
import signal
import time

import pytest
import requests

from tests.support.live import live_server
from tests.support.realclients import InOrderClient, connect_as

pytestmark = pytest.mark.live

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
            clients[name] = connect_as(server, name)
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


def test_sigterm_under_gunicorn_closes_open_websockets_instead_of_waiting_them_out(tmp_path):
    import time

    with live_server(
        f"sqlite:///{tmp_path / 'prod.db'}",
        tmp_path / "gunicorn.log",
        production=True,
        GUNICORN_GRACEFUL_TIMEOUT="30",
        **FAST_HASH,
    ) as server:
        dropped = []
        clients = []
        for name in ("alice", "bob"):
            client = InOrderClient(reconnection=False)
            client.on("disconnect", lambda *reason, name=name: dropped.append(name))
            client.connect(server.url, auth={"token": server.token(name)}, transports=["websocket"])
            assert client.call("join", {"room": "general"}, timeout=5)["ok"]
            clients.append(client)

        started = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        # without the drain gunicorn would wait its whole 30 s graceful timeout for them
        assert server.process.wait(timeout=10) == 0
        assert time.monotonic() - started < 10
        deadline = time.monotonic() + 5
        while len(dropped) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sorted(dropped) == ["alice", "bob"]


def test_a_reader_that_falls_behind_gets_every_broadcast_whole_and_in_order(tmp_path):
    """Broadcasts are written straight to each socket when nothing is queued for it; what the
    kernel can't take at once must go out before anything later, with frames intact."""
    import json as jsonlib

    import websocket

    with live_server(
        f"sqlite:///{tmp_path / 'prod.db'}",
        tmp_path / "gunicorn.log",
        production=True,
        MESSAGE_RATE="1000",
        MESSAGE_BURST="1000",
        EVENT_RATE="1000",
        EVENT_BURST="1000",
        LOG_LEVEL="debug",
        **FAST_HASH,
    ) as server:
        slow = websocket.create_connection(
            f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket", timeout=10
        )
        assert slow.recv().startswith("0")  # engine.io open
        slow.send("40" + jsonlib.dumps({"token": server.token("slow")}))
        assert slow.recv().startswith("40")  # socket.io connected
        slow.send('421["join",{"room":"general"}]')
        assert slow.recv().startswith("431")  # the join's ack

        sender = connect_as(server, "fast")
        assert sender.call("join", {"room": "general"}, timeout=5)["ok"]
        # ~5 MB while nobody reads: more than the kernel buffers (tcp_wmem's 4 MB at most)
        texts = [f"{n:04d} " + "x" * 3990 for n in range(1250)]
        acks = [sender.call("message", {"room": "general", "text": t}, timeout=10) for t in texts]
        assert all(ack["ok"] for ack in acks)
        sender.disconnect()

        received = []
        while len(received) < len(texts):
            frame = slow.recv()
            if frame == "2":  # engine.io ping
                slow.send("3")
                continue
            if frame.startswith('42["message"'):
                received.append(jsonlib.loads(frame[2:])[1])
        slow.close()
    assert [m["text"] for m in received] == texts
    assert [m["id"] for m in received] == [ack["message"]["id"] for ack in acks]
    # the kernel did run out of room mid-frame: the path this test is about was taken
    assert "the rest queued" in (tmp_path / "gunicorn.log").read_text()


def test_idle_websockets_are_pinged_every_interval_and_closed_when_they_stop_answering(tmp_path):
    """engine.io's heartbeat under gevent (pings on timers, reads in the handler's greenlet):
    a client that answers stays connected; one that stops answering is closed."""
    import time

    import websocket

    with live_server(
        f"sqlite:///{tmp_path / 'prod.db'}",
        tmp_path / "gunicorn.log",
        production=True,
        SOCKETIO_PING_INTERVAL="1",
        SOCKETIO_PING_TIMEOUT="1",
        **FAST_HASH,
    ) as server:
        url = f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket"

        def connect(name: str) -> websocket.WebSocket:
            ws = websocket.create_connection(url, timeout=5)
            opened = json.loads(ws.recv()[1:])
            assert (opened["pingInterval"], opened["pingTimeout"]) == (1000, 1000)
            ws.send("40" + json.dumps({"token": server.token(name)}))
            assert ws.recv().startswith("40")
            return ws

        answering, silent = connect("answering"), connect("silent")
        pings, started = 0, time.monotonic()
        while time.monotonic() - started < 3.5:
            assert answering.recv() == "2"
            answering.send("3")
            pings += 1
        assert pings >= 3  # one a second
        answering.send('421["rooms",{}]')
        assert answering.recv().startswith("431")  # still connected, still served

        # the silent client gets its first ping, never answers, and is closed
        assert silent.recv() == "2"
        silent.settimeout(5)
        with pytest.raises(websocket.WebSocketConnectionClosedException):
            while True:
                silent.recv()
        answering.close()


def json_log_entries(log_path) -> list[dict]:
    """Every line of a server log, each asserted to be one JSON object."""
    lines = [line for line in log_path.read_text(errors="replace").splitlines() if line]
    raw = [line for line in lines if not line.startswith("{")]
    assert raw == [], "lines that are not JSON:\n" + "\n".join(raw[:20])
    return [json.loads(line) for line in lines]


def test_every_log_line_is_json_and_each_engineio_error_is_logged_once(tmp_path):
    """Engine.IO's errors (a bad session, an unknown protocol version, packets that do not
    parse) reach the log once, as JSON with any traceback inside a field: no raw lines."""
    import websocket

    log_path = tmp_path / "gunicorn.log"
    with live_server(
        f"sqlite:///{tmp_path / 'prod.db'}", log_path, production=True, **FAST_HASH
    ) as server:
        polling = f"{server.url}/socket.io/"
        bogus = requests.get(
            polling, params={"EIO": "4", "transport": "polling", "sid": "bogus"}, timeout=5
        )
        assert bogus.status_code == 400
        old_protocol = requests.get(polling, params={"EIO": "9", "transport": "polling"}, timeout=5)
        assert old_protocol.status_code == 400

        opened = requests.get(polling, params={"EIO": "4", "transport": "polling"}, timeout=5)
        sid = json.loads(opened.text[1:])["sid"]
        requests.post(  # not UTF-8: engine.io cannot decode the payload
            polling,
            params={"EIO": "4", "transport": "polling", "sid": sid},
            data=b"\xff\xfe\xfd",
            timeout=5,
        )

        ws = websocket.create_connection(
            f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket", timeout=5
        )
        assert ws.recv().startswith("0")
        ws.send("40" + json.dumps({"token": server.token("alice")}))
        assert ws.recv().startswith("40")
        ws.send('42["message", {')  # a Socket.IO packet whose JSON is cut off
        ws.send('421["rooms",{}]')  # still served afterwards
        assert ws.recv().startswith("431")
        ws.close()

        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=20) == 0

    entries = json_log_entries(log_path)
    errors = [e for e in entries if e["level"] == "error"]
    messages = [e["message"] for e in errors]
    assert len(messages) == len(set(messages)), messages  # each error once
    assert sum("Invalid session bogus" in m for m in messages) == 1
    assert sum("unsupported version" in m for m in messages) == 1
    # a traceback is one field of one line
    assert any("Traceback" in e.get("exception", "") for e in errors), errors


def test_a_greenlet_or_thread_dying_of_an_error_and_a_warning_are_logged_as_json(tmp_path):
    """What Python and gevent print by themselves (a greenlet or thread that died of an
    exception, a warning) is one JSON line each, the traceback inside it."""
    log_path = tmp_path / "gunicorn.log"
    with live_server(
        f"sqlite:///{tmp_path / 'prod.db'}",
        log_path,
        production=True,
        wsgi_app="tests.support.stray_errors_app:app",
        **FAST_HASH,
    ) as server:
        page = requests.get(f"{server.url}/test/stray-errors", timeout=5)
        assert page.text == "started"
        time.sleep(0.5)  # the greenlet and the thread run after the response
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=20) == 0

    entries = json_log_entries(log_path)
    greenlet = [e for e in entries if "ZeroDivisionError" in e["message"]]
    thread = [e for e in entries if e["message"] == "thread doomed failed"]
    assert len(greenlet) == 1 and "1 / 0" in greenlet[0]["exception"]
    assert len(thread) == 1 and "KeyError: 'missing'" in thread[0]["exception"]
    assert [e["logger"] for e in entries if "a stray warning" in e["message"]] == ["py.warnings"]
