"""python-socketio clients for real-server tests: in wire order (InOrderClient), or the
SimpleClient a bot author uses."""

import time

import engineio
import socketio


class _InOrderEngineIOClient(engineio.Client):
    # engine.io's client hands each incoming message to a new thread, which can reorder
    # them; the audits must see exactly the order the server wrote.
    def _trigger_event(self, event, *args, **kwargs):
        if event == "message":
            kwargs["run_async"] = False
        return super()._trigger_event(event, *args, **kwargs)


class InOrderClient(socketio.Client):
    def _engineio_client_class(self):
        return _InOrderEngineIOClient


def connect_as(server, username: str, **options) -> InOrderClient:
    """`username` (registered on first use) connected to a live `server` over WebSocket, with
    events handled in wire order; `options` go to connect (e.g. wait_timeout)."""
    sio = InOrderClient(reconnection=False)
    sio.connect(
        server.url, auth={"token": server.token(username)}, transports=["websocket"], **options
    )
    return sio


def bot(server, username: str) -> socketio.SimpleClient:
    """`username` (registered on first use) connected to a live `server` the way a bot
    author would: python-socketio's SimpleClient, an API token, WebSocket."""
    client = socketio.SimpleClient()
    client.connect(
        server.url,
        auth={"token": server.token(username)},
        transports=["websocket"],
        wait_timeout=5,
    )
    return client


def wait_for_event(client: socketio.SimpleClient, name: str, match, timeout: float = 10.0):
    """The first `name` event whose payload satisfies `match`, skipping others; bounded."""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            event, payload = client.receive(timeout=left)
        except socketio.exceptions.TimeoutError:
            break
        if event == name and match(payload):
            return payload
    raise AssertionError(f"no matching {name!r} event in {timeout} s")
