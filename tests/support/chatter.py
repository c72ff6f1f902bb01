"""Real Socket.IO clients for the scale-out tests: they record every server event in wire
order, and can be bound to one source address (so nginx's `hash $remote_addr` places them)."""

import logging
import socket
import threading
import time
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from tests.support.live import LiveServer
from tests.support.realclients import InOrderClient, _InOrderEngineIOClient

SERVER_EVENTS = (
    "message",
    "presence",
    "typing",
    "dm_opened",
    "partner_found",
    "partner_left",
    "account_suspended",
    # moderation (docs/protocol.md "Moderation")
    "room_updated",
    "kicked",
    "muted",
    "unmuted",
)


class RecordingHandler(logging.Handler):
    """Keeps the log records of one client (its python-socketio and engine.io loggers)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


def client_logger(name: str) -> tuple[logging.Logger, RecordingHandler]:
    """A logger of its own for one client, recording warnings and errors (a failed WebSocket
    upgrade, an HTTP 400 on a poll) instead of printing them."""
    logger = logging.getLogger(f"tests.scaleout.client.{name}")
    logger.handlers.clear()
    handler = RecordingHandler()
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    logger.propagate = False
    return logger, handler


class SourceAddressAdapter(HTTPAdapter):
    """requests' adapter whose connections leave from `source_ip`; `max_timeout` caps every
    request's timeout (engine.io's long-poll GET otherwise waits up to 30 s)."""

    def __init__(self, source_ip: str, max_timeout: float | None = None, **kwargs):
        self.source_ip = source_ip  # init_poolmanager runs inside HTTPAdapter.__init__
        self.max_timeout = max_timeout
        super().__init__(**kwargs)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        pool_kwargs["source_address"] = (self.source_ip, 0)
        super().init_poolmanager(connections, maxsize, block=block, **pool_kwargs)

    def send(self, request, timeout=None, **kwargs):
        if self.max_timeout is not None:
            timeout = min(timeout or self.max_timeout, self.max_timeout)
        return super().send(request, timeout=timeout, **kwargs)


def bound_session(source_ip: str, max_timeout: float | None = None) -> requests.Session:
    session = requests.Session()
    adapter = SourceAddressAdapter(source_ip, max_timeout)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def source_bound_client(
    source_ip: str, *, max_http_timeout: float | None = None, **kwargs
) -> InOrderClient:
    """A python-socketio client whose long-polling requests (through `http_session`) and
    WebSocket (a socket connected from `source_ip`, handed to websocket-client's
    create_connection as `socket=`) all come from `source_ip`."""

    class BoundEngineIOClient(_InOrderEngineIOClient):
        def _connect_websocket(self, url, headers, engineio_path):
            # engine.io passes websocket_extra_options to create_connection on every attempt:
            # a fresh socket each time, connected from the source address.
            parts = urlsplit(url)
            self.websocket_extra_options["socket"] = socket.create_connection(
                (parts.hostname, parts.port or 80),
                timeout=self.request_timeout,
                source_address=(source_ip, 0),
            )
            return super()._connect_websocket(url, headers, engineio_path)

    class BoundClient(InOrderClient):
        def _engineio_client_class(self):
            return BoundEngineIOClient

    return BoundClient(http_session=bound_session(source_ip, max_http_timeout), **kwargs)


class Chatter:
    """One connection of one user, recording the server's events as they arrive."""

    def __init__(
        self,
        url: str,
        token: str,
        name: str,
        *,
        transports: tuple[str, ...] | list[str] | None = ("websocket",),
        sio: InOrderClient | None = None,
        wait_timeout: float = 10,
    ):
        self.name = name
        self.url = url
        self.events: list[tuple[str, dict]] = []
        self.connect_errors: list = []
        self._changed = threading.Condition()
        self.sio = sio or InOrderClient(reconnection=False)
        for event in SERVER_EVENTS:
            self.sio.on(event, self._recorder(event))
        self.sio.on("connect_error", self.connect_errors.append)
        self.sio.connect(
            url,
            auth={"token": token},
            transports=list(transports) if transports else None,
            wait_timeout=wait_timeout,
        )

    @classmethod
    def on(cls, server: LiveServer, username: str, **kwargs) -> "Chatter":
        """A connection of `username` (registered on first use) to `server`."""
        return cls(server.url, server.token(username), username, **kwargs)

    def _recorder(self, event: str):
        def record(payload):
            with self._changed:
                self.events.append((event, payload))
                self._changed.notify_all()

        return record

    def call(self, event: str, payload: dict | None = None, timeout: float = 10) -> dict:
        return self.sio.call(event, payload if payload is not None else {}, timeout=timeout)

    def join(self, room: str, **fields) -> dict:
        ack = self.call("join", {"room": room, **fields})
        assert ack["ok"], f"{self.name} could not join {room}: {ack}"
        return ack

    def say(self, room: str, text: str) -> dict:
        """Post `text` to `room`, which must succeed; returns the Message acked."""
        ack = self.call("message", {"room": room, "text": text})
        assert ack["ok"], f"{self.name} could not post to {room}: {ack}"
        return ack["message"]

    def received(self, event: str, where=None) -> list[dict]:
        with self._changed:
            return [p for e, p in self.events if e == event and (where is None or where(p))]

    def wait(self, event: str, count: int = 1, timeout: float = 8, where=None) -> list[dict]:
        """The payloads of `event` (matching `where`) received so far, once there are at least
        `count` of them or `timeout` seconds have passed: assert on what comes back."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [p for e, p in self.events if e == event and (where is None or where(p))]
                remaining = deadline - time.monotonic()
                if len(found) >= count or remaining <= 0:
                    return found
                self._changed.wait(remaining)

    def messages(self, room: str) -> list[dict]:
        return self.received("message", where=lambda m: m["room"] == room)

    def transport(self) -> str:
        return self.sio.transport()

    def close(self) -> None:
        if self.sio.connected:
            self.sio.disconnect()


def in_room(room: str):
    return lambda payload: payload.get("room") == room
