"""python-socketio clients for real-server tests, with events handled in wire order."""

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
