"""nginx (Debian's, running the shipped deploy/nginx.conf) in front of two server processes:
sessions that start on long-polling and upgrade to WebSocket stay on one backend.

Each client leaves from its own address in 127.0.0.0/8, so `hash $remote_addr consistent`
spreads them over both backends. The same sessions through the config without its `hash`
line (round-robin) break with 400 "Invalid session": stickiness is what makes them work.
"""

import pytest

from tests.support.chatter import Chatter, bound_session, client_logger, in_room
from tests.support.chatter import source_bound_client as bound_client
from tests.support.services import WITHOUT_REDIS, json_log, wait_until

pytestmark = pytest.mark.timeout(60)

PER_BACKEND = 4


def spread_addresses(nginx, backends: set[str]) -> dict[str, str]:
    """Source addresses from 127.0.0.2 up, PER_BACKEND of them per backend: address ->
    backend, as nginx's access log shows it routing a plain request from each."""
    chosen: dict[str, str] = {}
    for last in range(2, 255):
        ip = f"127.0.0.{last}"
        with bound_session(ip) as http:
            http.get(f"{nginx.url}/healthz", timeout=5)
        # nginx writes the log line as it finishes the request, maybe after we read the reply
        logged = wait_until(lambda ip=ip: [e for e in nginx.access() if e["ip"] == ip], 5)
        assert logged, f"nginx logged no request from {ip}"
        backend = logged[-1]["upstream"]
        assert backend in backends, f"{ip} went to {backend!r}, not one of {backends}"
        if list(chosen.values()).count(backend) < PER_BACKEND:
            chosen[ip] = backend
        if len(chosen) == PER_BACKEND * len(backends):
            return chosen
    raise AssertionError(f"nginx sent 253 addresses to too few backends: {chosen}")


def socketio_requests(nginx) -> list[dict]:
    return [e for e in nginx.access() if "/socket.io/" in e["request"]]


def test_sticky_nginx_carries_polling_then_websocket_sessions(start_servers, start_nginx):
    servers = start_servers(2, PROXY_FIX="1")  # as docs/deploy.md sets it up behind nginx
    nginx = start_nginx(servers)
    backends = {f"127.0.0.1:{server.port}" for server in servers}
    addresses = spread_addresses(nginx, backends)
    room = "ngx-sticky"

    chatters, client_logs = [], {}
    for n, ip in enumerate(addresses):
        name = f"ngx-user{n}"
        logger, client_logs[name] = client_logger(name)
        sio = bound_client(ip, reconnection=False, logger=logger, engineio_logger=logger)
        # transports=None: python-socketio's default, long-polling first, then the upgrade
        chatter = Chatter(nginx.url, servers[0].token(name), name, transports=None, sio=sio)
        chatters.append(chatter)
        assert chatter.transport() == "websocket", (
            f"{name} from {ip} did not upgrade: {client_logs[name].records}"
        )
        chatter.join(room)

    sent = [chatter.say(room, f"hello from {chatter.name}") for chatter in chatters]
    for chatter, own in zip(chatters, sent, strict=True):
        if WITHOUT_REDIS:  # each process alone: only its own clients' messages arrive live
            assert own in chatter.wait("message", where=lambda m, own=own: m == own)
        else:  # one room across both backends: everything, in id order
            assert chatter.wait("message", count=len(sent), where=in_room(room)) == sent
    history = chatters[0].call("history", {"room": room})
    assert history["messages"] == sent  # every message stored once, in order
    # no warning while the sessions ran: no 400 on a poll, no failed upgrade
    warnings = {name: list(handler.records) for name, handler in client_logs.items()}
    for chatter in chatters:
        chatter.close()

    assert all(not c.connect_errors for c in chatters), [c.connect_errors for c in chatters]
    assert all(not records for records in warnings.values()), warnings

    def upgrades_logged() -> bool:  # nginx logs an upgraded request when it closes
        return sum(e["status"] == 101 for e in socketio_requests(nginx)) >= len(addresses)

    assert wait_until(upgrades_logged, 5), socketio_requests(nginx)
    proxied = socketio_requests(nginx)
    assert all(e["status"] < 400 for e in proxied), [e for e in proxied if e["status"] >= 400]
    for ip, backend in addresses.items():  # every request of a session to one backend
        assert {e["upstream"] for e in proxied if e["ip"] == ip} == {backend}, ip
    upgraded = {e["upstream"] for e in proxied if e["status"] == 101}
    assert upgraded == backends, f"WebSocket upgrades reached only {upgraded}"
    for server in servers:  # each backend's own log: it opened long-polling sessions
        handshakes = [
            e["message"]
            for e in json_log(server)
            if e.get("logger") == "gunicorn.access" and "transport=polling" in e["message"]
        ]
        assert handshakes, f"{server.url} served no Socket.IO session"
    for server in servers:
        errors = [e["message"] for e in json_log(server) if "Invalid session" in e["message"]]
        assert errors == [], f"{server.url}: {errors}"


def test_without_the_hash_line_the_same_sessions_break(start_servers, start_nginx):
    servers = start_servers(2)
    nginx = start_nginx(servers, sticky=False)  # nginx's default: round-robin
    outcomes = {}
    for n in range(4):
        ip, name = f"127.0.0.{n + 2}", f"ngx-rr{n}"
        token = servers[0].token(name)
        logger, handler = client_logger(name)
        sio = bound_client(
            ip,
            # a broken session's client may sit out a long-poll (up to 30 s) before it gives
            # up: 2 s is plenty for any request here
            max_http_timeout=2,
            reconnection=False,
            logger=logger,
            engineio_logger=logger,
        )
        try:
            chatter = Chatter(nginx.url, token, name, transports=None, sio=sio, wait_timeout=3)
            joined = chatter.call("join", {"room": "ngx-rr"}, timeout=3)
            ok = chatter.transport() == "websocket" and joined["ok"]
        except Exception as exc:  # any failure of the session counts
            ok = False
            handler.records.append(repr(exc))
        finally:
            if sio.connected:
                sio.disconnect()
        outcomes[ip] = (ok, handler.records)

    refused = [e for e in socketio_requests(nginx) if e["status"] == 400]
    invalid = [
        e["message"] for s in servers for e in json_log(s) if "Invalid session" in e["message"]
    ]
    assert refused, f"round-robin nginx refused no Socket.IO request: {outcomes}"
    assert invalid, "no backend logged 'Invalid session'"
    assert not all(ok for ok, _ in outcomes.values()), outcomes
    print(f"\nround-robin: {len(refused)} requests refused with 400; sessions: {outcomes}")


SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def test_nginx_sends_each_security_header_once_and_passes_the_client_address(
    start_servers, start_nginx
):
    """Behind nginx with PROXY_FIX=1 the app limits each client address on its own (not
    nginx's one address), and a client cannot forge its address with X-Forwarded-For."""
    servers = start_servers(
        2,
        PROXY_FIX="1",
        RATELIMIT_ENABLED="1",
        LOGIN_RATE="100/minute",
        LOGIN_ADDRESS_RATE="2/minute",
    )
    nginx = start_nginx(servers)
    first, second = bound_session("127.0.0.2"), bound_session("127.0.0.3")
    page = first.get(f"{nginx.url}/auth/login", timeout=5)
    polling = first.get(f"{nginx.url}/socket.io/?EIO=4&transport=polling", timeout=5)
    for response in (page, polling):
        for name, value in SECURITY_HEADERS.items():
            assert response.raw.headers.getlist(name) == [value], (response.url, name)
        [csp] = response.raw.headers.getlist("Content-Security-Policy")
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp

    def guess(session, **headers) -> int:
        return session.post(
            f"{nginx.url}/api/tokens",
            json={"username": "nobody", "password": "wrong password"},
            headers=headers,
            timeout=5,
        ).status_code

    forged = {"X-Forwarded-For": "203.0.113.9"}
    assert [guess(first), guess(first, **forged), guess(first, **forged)] == [401, 401, 429]
    assert guess(second) == 401  # another address has its own budget
