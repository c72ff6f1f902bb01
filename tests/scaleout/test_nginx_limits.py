"""The shipped deploy/nginx.conf caps open Socket.IO connections per client address
(`limit_conn`): the next one is answered 429, other addresses are not affected."""

import re

import pytest
import websocket

from tests.support.chatter import bound_session
from tests.support.services import SHIPPED_NGINX_CONF, wait_until

pytestmark = pytest.mark.timeout(60)


def shipped_cap() -> int:
    caps = re.findall(r"^\s*limit_conn\s+\S+\s+(\d+);", SHIPPED_NGINX_CONF.read_text(), re.M)
    assert len(caps) == 1, caps
    return int(caps[0])


def open_socket(nginx) -> websocket.WebSocket:
    url = f"ws://127.0.0.1:{nginx.port}/socket.io/?EIO=4&transport=websocket"
    ws = websocket.create_connection(url, timeout=5)
    assert ws.recv().startswith("0{")  # engine.io OPEN from a backend
    return ws


def test_nginx_caps_open_sockets_per_address(start_servers, start_nginx):
    # sockets that stay open without the Socket.IO connect for the whole test
    servers = start_servers(2, CONNECT_TIMEOUT="60")
    nginx = start_nginx(servers)
    cap = shipped_cap()
    sockets = [open_socket(nginx) for _ in range(cap)]
    try:
        with pytest.raises(websocket.WebSocketBadStatusException) as refused:
            open_socket(nginx)
        assert refused.value.status_code == 429

        with bound_session("127.0.0.2") as http:  # another address: served
            handshake = http.get(f"{nginx.url}/socket.io/?EIO=4&transport=polling", timeout=5)
        assert handshake.status_code == 200 and handshake.text.startswith("0{")

        sockets.pop().close()  # a slot freed once nginx sees the close

        def reopened() -> bool:
            try:
                sockets.append(open_socket(nginx))
                return True
            except websocket.WebSocketBadStatusException:
                return False

        assert wait_until(reopened, 5)
    finally:
        for ws in sockets:
            ws.close()
