"""Transport limits against a real server, spoken by hand over a raw WebSocket: binary
packets, connections that never complete the Socket.IO connect, connections per user, and
deeply nested JSON. Both servers: `flask run` (threading) and gunicorn (gevent)."""

import json
import struct
import threading
import time
from pathlib import Path

import pytest
import requests
import websocket

from tests.support.live import live_server
from tests.support.realclients import connect_as

pytestmark = pytest.mark.timeout(120)

SETTINGS = {
    "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
    "CONNECT_TIMEOUT": "1",
    "MAX_CONNECTIONS_PER_USER": "20",
    # each of the twenty asks `rooms` at once: the event budgets are not what is tested here
    "ROOMS_BURST": "100",
}
FRAME = b"\x00" * 60_000
FRAMES = 200  # 12 MB, were the server to buffer them


@pytest.fixture(scope="module", params=["flask-run", "gunicorn"])
def server(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp(request.param)
    production = request.param == "gunicorn"
    with live_server(
        f"sqlite:///{tmp / 'chat.db'}", tmp / "server.log", production=production, **SETTINGS
    ) as live:
        yield live
    log = live.log_path.read_text()
    assert "Traceback" not in log, log  # every refusal is a warning line, never a crash


@pytest.fixture(scope="module")
def bystander(server):
    sio = connect_as(server, "bystander", wait_timeout=5)
    yield sio
    sio.disconnect()


def still_served(bystander) -> bool:
    return bystander.connected and bystander.call("rooms", {}, timeout=5)["ok"]


def open_raw(server, token: str | None = None) -> websocket.WebSocket:
    """An engine.io WebSocket; with `token`, also connected to Socket.IO's namespace `/`."""
    url = f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket"
    ws = websocket.create_connection(url, timeout=5)
    assert ws.recv().startswith("0{")  # engine.io OPEN
    if token is not None:
        ws.send("40" + json.dumps({"token": token}))
        assert ws.recv().startswith("40{"), "Socket.IO CONNECT refused"
    return ws


def read_until_close(ws) -> tuple[list[str], int | None, str]:
    """Text frames received, then the close frame's code and reason."""
    texts = []
    while True:
        opcode, frame = ws.recv_data_frame(True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else None
            return texts, code, frame.data[2:].decode()
        if opcode == websocket.ABNF.OPCODE_TEXT:
            texts.append(frame.data.decode())


def rss_kib(server) -> int:
    """Resident memory of the process serving sockets (gunicorn: its one worker)."""
    pid = server.process.pid
    if server.production:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        assert len(children) == 1, children
        pid = int(children[0])
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


PLACEHOLDER = '["message",{"_placeholder":true,"num":0}]'


def test_a_binary_event_closes_the_connection_with_its_reason(server, bystander):
    ws = open_raw(server, server.token("binary1"))
    ws.send("451-" + PLACEHOLDER)  # a BINARY_EVENT announcing one attachment
    texts, code, reason = read_until_close(ws)
    assert texts == ["41", "1"]  # Socket.IO disconnect, engine.io close
    assert (code, reason) == (1003, "binary packets are not accepted")
    assert still_served(bystander)


def test_binary_attachments_are_never_buffered(server, bystander):
    ws = open_raw(server, server.token("binary2"))
    before = rss_kib(server)
    # a placeholder packet announcing 9,999,999,999 attachments, then 60 KB frames
    ws.send("459999999999-" + PLACEHOLDER)
    sent = 0
    try:
        for _ in range(FRAMES):
            ws.send_binary(FRAME)
            sent += 1
        closed_with = read_until_close(ws)[1]  # what the server answered
    except (OSError, websocket.WebSocketException):
        closed_with = "reset"  # the server closed the connection while we were sending
    ws.close()
    grown = rss_kib(server) - before
    kind = "gunicorn" if server.production else "flask run"
    print(f"\n{kind}: {sent} of {FRAMES} frames of 60 KB sent; server memory {grown:+d} KiB")
    assert grown < 6 * 1024, f"the server grew {grown} KiB after {sent} frames of 60 KB"
    assert closed_with in (1003, "reset")
    assert still_served(bystander)


def test_a_binary_engineio_message_closes_the_connection(server, bystander):
    ws = open_raw(server, server.token("binary3"))
    ws.send_binary(b"\x01\x02\x03")  # WebSocket opcode 2
    texts, code, reason = read_until_close(ws)
    assert texts == ["41", "1"]
    assert (code, reason) == (1003, "binary packets are not accepted")
    assert still_served(bystander)


def test_a_connection_that_never_sends_the_socketio_connect_is_closed(server, bystander):
    token = server.token("slowpoke")
    started = time.monotonic()
    idle = open_raw(server)
    punctual = open_raw(server, token)
    texts, code, reason = read_until_close(idle)
    waited = time.monotonic() - started
    assert texts == ["1"]
    assert (code, reason) == (1008, "connect timeout")
    assert waited >= 0.9  # CONNECT_TIMEOUT=1: not before it ran out
    # the connection that did connect is left alone, past the timeout
    time.sleep(0.5)
    punctual.send('420["rooms",{}]')
    assert punctual.recv().startswith('430[{"ok":true')
    punctual.close()
    assert still_served(bystander)


def test_a_long_polling_session_that_never_connects_is_closed(server):
    url = f"{server.url}/socket.io/?EIO=4&transport=polling"
    opened = requests.get(url, timeout=5)
    assert opened.text.startswith("0{")
    sid = json.loads(opened.text[1:])["sid"]
    poll = requests.get(f"{url}&sid={sid}", timeout=10)  # answered when the server closes it
    assert poll.text == "1"  # engine.io close packet
    assert requests.get(f"{url}&sid={sid}", timeout=5).status_code == 400  # session gone


def test_a_user_gets_twenty_connections_at_once_and_no_more(server, bystander):
    token = server.token("many")
    sockets = [open_raw(server) for _ in range(40)]
    answers = [None] * len(sockets)

    def connect(n: int) -> None:
        sockets[n].send("40" + json.dumps({"token": token}))
        answers[n] = sockets[n].recv()

    threads = [threading.Thread(target=connect, args=(n,)) for n in range(len(sockets))]
    for thread in threads:  # all at once: the check and the count are one atomic step
        thread.start()
    for thread in threads:
        thread.join(10)
    accepted = [n for n, answer in enumerate(answers) if answer.startswith("40{")]
    refused = [n for n, answer in enumerate(answers) if n not in accepted]
    assert len(accepted) == 20
    assert {answers[n] for n in refused} == {'44{"message":"too_many_connections"}'}

    for n in accepted:  # the twenty keep working
        sockets[n].send('421["rooms",{}]')
        assert sockets[n].recv().startswith('431[{"ok":true')
    sockets[accepted[0]].close()
    time.sleep(0.2)  # the server sees the close
    again = open_raw(server, token)  # a slot freed: a new connection is accepted
    for ws in [again, *sockets]:
        ws.close()
    assert still_served(bystander)


@pytest.mark.parametrize("ack_id", ["7", ""])
def test_deeply_nested_json_is_answered_and_the_connection_carries_on(server, ack_id):
    ws = open_raw(server, server.token(f"nester{ack_id}"))
    depth = 20_000
    ws.send(f"42{ack_id}" + '["history",{"room":' + "[" * depth + "]" * depth + "}]")
    ws.send('429["rooms",{}]')
    if ack_id:
        ack = json.loads(ws.recv().removeprefix(f"43{ack_id}"))[0]
        assert ack["ok"] is False and ack["error"]["code"] == "invalid", ack
        assert "nested more than 64 levels" in ack["error"]["message"]
    assert ws.recv().startswith('439[{"ok":true')  # still served
    ws.close()


def test_deep_nesting_at_the_engineio_level_closes_the_connection(server, bystander):
    ws = open_raw(server, server.token("nester-eio"))
    ws.send("4" + "[" * 20_000 + "]" * 20_000)  # not a Socket.IO packet at all
    texts, code, reason = read_until_close(ws)
    assert texts == ["41", "1"]
    assert (code, reason) == (1002, "malformed packet")
    assert still_served(bystander)
