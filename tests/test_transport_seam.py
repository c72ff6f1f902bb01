"""The seam to the Socket.IO libraries (app/transport/): every internal it hooks is checked at
start-up, install() runs once per server, handlers go through the public API, and a join's
room locks stay held until its ack is queued."""

import threading
from importlib.metadata import version
from types import SimpleNamespace

import engineio.async_drivers.threading
import pytest
import socketio as socketio_lib

from app import events
from app.extensions import socketio
from app.storage.memory import StripedRoomLocks
from app.transport import MissingHookError, install
from app.transport.acks import (
    AckOrderedRoomLocks,
    hold_room_locks,
    release_held_locks_after_ack,
)
from app.transport.hooks import HOOKS, Hook, check_hooks, missing_hooks


@pytest.mark.parametrize("async_mode", ["threading", "gevent"])
def test_every_hooked_internal_exists_on_the_pinned_versions(async_mode):
    server = socketio_lib.Server(async_mode=async_mode)
    assert missing_hooks(server) == []
    check_hooks(server)  # does not raise


def test_every_internal_install_replaces_on_the_server_is_in_the_table(app):
    hooked = {hook.name for hook in HOOKS}
    replaced = {
        name
        for name, value in vars(socketio.server).items()
        if name.startswith("_") and callable(value)
    }
    assert replaced  # install() did wrap some
    assert replaced <= hooked, replaced - hooked


def test_a_missing_internal_stops_the_app_at_start_up_naming_each(app_factory, monkeypatch):
    monkeypatch.delattr(socketio_lib.Server, "_handle_event_internal")
    monkeypatch.delattr(socketio_lib.PubSubManager, "_handle_emit")
    with pytest.raises(MissingHookError) as refused:
        app_factory()
    message = str(refused.value)
    assert (
        "python-socketio Server._handle_event_internal is missing: "
        "app/transport/acks.py needs it" in message
    )
    assert (
        "python-socketio PubSubManager._handle_emit is missing: "
        "app/transport/redis_manager.py needs it" in message
    )
    assert f"python-socketio {version('python-socketio')}" in message  # the versions installed
    assert "_handle_event " not in message  # only what is missing


def test_engineio_without_simple_websocket_stops_the_app(app_factory, monkeypatch):
    # was: tune_websockets silently left WebSocket connections untuned
    monkeypatch.setitem(engineio.async_drivers.threading._async, "websocket", None)
    with pytest.raises(MissingHookError, match=r"Server\._async\.websocket \(simple-websocket"):
        app_factory()


def test_gevent_only_internals_are_not_required_under_threading():
    server = socketio_lib.Server(async_mode="threading")
    gone = Hook(
        "gevent", "socket", "no_such_attribute", "frames.py", lambda _: object, gevent_only=True
    )
    assert missing_hooks(server, (gone,)) == []
    gevent_server = socketio_lib.Server(async_mode="gevent")
    assert missing_hooks(gevent_server, (gone,)) == [gone]


def test_install_refuses_to_run_twice_on_one_server(app):
    wrapped = socketio.server._handle_event_internal
    with pytest.raises(RuntimeError, match="already run"):
        install(
            socketio,
            handlers=events.HANDLERS,
            refuse_stray_event=events.refuse_stray_event,
            max_packet_bytes=1024,
            connect_timeout=0,
        )
    assert socketio.server._handle_event_internal is wrapped  # nothing wrapped twice


def test_event_handlers_are_registered_through_python_socketio_on(app):
    assert set(events.HANDLERS) >= {"join", "message", "history", "dm", "rooms"}
    registered = socketio.server.handlers["/"]
    for event, handler in events.HANDLERS.items():
        assert registered[event] is handler
    # not through Flask-SocketIO's undocumented list (which pushes a request context)
    assert not any(entry[1] in events.HANDLERS.values() for entry in socketio.handlers)


@pytest.fixture
def dispatch():
    """Run `fn` the way the transport dispatches an event (then frees what it held)."""
    fake_server = SimpleNamespace(_handle_event_internal=lambda fn: fn())
    release_held_locks_after_ack(fake_server)
    return fake_server._handle_event_internal


def taken_elsewhere(lock) -> bool:
    """Whether another thread finds `lock` taken."""
    result = []

    def probe():
        got = lock.acquire(blocking=False)
        if got:
            lock.release()
        result.append(not got)

    thread = threading.Thread(target=probe)
    thread.start()
    thread.join()
    return result[0]


def test_a_held_room_stays_locked_until_the_dispatch_ends(dispatch):
    stripes = StripedRoomLocks()
    locks = AckOrderedRoomLocks(stripes)
    seen = []

    def join():
        hold_room_locks()
        with locks("general"):
            pass
        seen.append(taken_elsewhere(stripes("general")))
        with locks("general"):  # taken again in the same event: no deadlock
            pass
        seen.append(taken_elsewhere(stripes("general")))
        return "ack"

    assert dispatch(join) == "ack"
    assert seen == [True, True]
    assert not taken_elsewhere(stripes("general"))


def test_without_hold_room_locks_are_released_at_once(dispatch):
    stripes = StripedRoomLocks()
    locks = AckOrderedRoomLocks(stripes)
    seen = []

    def message():
        with locks("general"):
            seen.append(taken_elsewhere(stripes("general")))
        seen.append(taken_elsewhere(stripes("general")))

    dispatch(message)
    assert seen == [True, False]


def test_hold_outside_a_dispatch_changes_nothing():
    stripes = StripedRoomLocks()
    locks = AckOrderedRoomLocks(stripes)
    hold_room_locks()
    with locks("general"):
        pass
    assert not taken_elsewhere(stripes("general"))


def test_held_locks_are_freed_when_the_handler_fails(dispatch):
    stripes = StripedRoomLocks()
    locks = AckOrderedRoomLocks(stripes)

    def failing_join():
        hold_room_locks()
        with locks("general"):
            pass
        raise RuntimeError("the handler failed")

    with pytest.raises(RuntimeError):
        dispatch(failing_join)
    assert not taken_elsewhere(stripes("general"))
