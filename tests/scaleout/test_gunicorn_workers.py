"""Deployment shape (b): one gunicorn with GUNICORN_WORKERS=2 and SOCKETIO_TRANSPORTS=websocket.
Without long-polling no session needs stickiness, so the kernel may hand each connection to
either worker; websocket-only clients on both workers chat with each other through Redis."""

import os
from pathlib import Path

import pytest
import requests

from tests.support.chatter import Chatter, in_room
from tests.support.live import LiveServer

pytestmark = pytest.mark.timeout(60)

PER_WORKER = 2


def gunicorn_workers(server: LiveServer) -> list[int]:
    """The worker processes of the gunicorn master `server.process`."""
    workers = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == server.process.pid:
            workers.append(int(entry.name))
    return sorted(workers)


def worker_of(chatter: Chatter, server: LiveServer, workers: list[int]) -> int | None:
    """Which worker holds the server side of `chatter`'s WebSocket: the TCP connection from
    the client's port in /proc/net/tcp, then the worker with that socket among its fds."""
    client_port = chatter.sio.eio.ws.sock.getsockname()[1]
    inode = None
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server.port and int(remote.split(":")[1], 16) == (
            client_port
        ):
            inode = fields[9]
    if inode is None:
        return None
    for pid in workers:
        try:
            for fd in os.scandir(f"/proc/{pid}/fd"):
                if os.readlink(fd.path) == f"socket:[{inode}]":
                    return pid
        except OSError:
            continue
    return None


def test_websocket_only_clients_on_two_workers_chat_with_each_other(start_servers):
    (server,) = start_servers(1, GUNICORN_WORKERS="2", SOCKETIO_TRANSPORTS="websocket")

    # The kernel picks the worker that accepts each connection: connect until both have some.
    room = "wk-chat"
    by_worker: dict[int, list[Chatter]] = {}
    extra: list[Chatter] = []
    for n in range(40):
        workers = gunicorn_workers(server)
        assert len(workers) == 2, f"gunicorn runs workers {workers}"
        chatter = Chatter.on(server, f"wk-user{n}")
        pid = worker_of(chatter, server, workers)
        assert pid is not None, "found no worker holding the connection"
        if len(by_worker.setdefault(pid, [])) < PER_WORKER:
            by_worker[pid].append(chatter)
        else:
            extra.append(chatter)
        if len(by_worker) == 2 and all(len(c) == PER_WORKER for c in by_worker.values()):
            break
    for chatter in extra:
        chatter.close()
    assert len(by_worker) == 2, f"40 connections all went to worker {list(by_worker)}"
    chatters = [chatter for group in by_worker.values() for chatter in group]

    for chatter in chatters:
        assert chatter.transport() == "websocket"
        chatter.join(room)
    sent = [chatter.say(room, f"from {chatter.name}") for chatter in chatters]
    for pid, group in by_worker.items():
        for chatter in group:  # half of these messages were sent through the other worker
            got = chatter.wait("message", count=len(sent), where=in_room(room))
            assert got == sent, f"{chatter.name} on worker {pid}"
    for chatter in chatters:
        chatter.close()

    # websocket-only: a long-polling handshake is refused (it could land on either worker)
    handshake = requests.get(f"{server.url}/socket.io/?EIO=4&transport=polling", timeout=5)
    assert handshake.status_code == 400, "SOCKETIO_TRANSPORTS=websocket still accepts polling"
