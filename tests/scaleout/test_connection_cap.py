"""MAX_CONNECTIONS_PER_USER holds across server processes: the count lives in Redis."""

import json

import pytest
import websocket

from tests.support.services import wait_until

pytestmark = pytest.mark.timeout(60)


def connect(server, token: str) -> tuple[websocket.WebSocket, str]:
    """A raw Socket.IO connection; returns it and the server's answer to the connect."""
    url = f"ws://127.0.0.1:{server.port}/socket.io/?EIO=4&transport=websocket"
    ws = websocket.create_connection(url, timeout=5)
    assert ws.recv().startswith("0{")
    ws.send("40" + json.dumps({"token": token}))
    return ws, ws.recv()


def test_the_cap_counts_connections_on_every_process(start_servers):
    first, second = start_servers(2, MAX_CONNECTIONS_PER_USER="4")
    token = first.token("capped")
    sockets = []
    for server in (first, second, first, second):
        ws, answer = connect(server, token)
        sockets.append(ws)
        assert answer.startswith("40{"), answer
    try:
        for server in (first, second):
            ws, answer = connect(server, token)
            ws.close()
            assert answer == '44{"message":"too_many_connections"}'

        sockets.pop(0).close()  # one on the first process goes away

        def reconnected() -> bool:  # the slot is free on the other process too
            ws, answer = connect(second, token)
            sockets.append(ws)
            return answer.startswith("40{")

        assert wait_until(reconnected, 5)
    finally:
        for ws in sockets:
            ws.close()
