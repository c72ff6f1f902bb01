"""Integration API (docs/protocol.md, "Integration API (HTTP)") and `flask chat post`.

What a bot author and the people in the room see: a message posted over HTTP reaches the
room's sockets as a normal `message` event and is in `history`; every refusal has its status,
code and headers; retries are idempotent; the rate limit is the one socket messages use.
"""

import types

import itsdangerous.timed
import pytest
from itsdangerous import URLSafeTimedSerializer

from app.tokens import SALT
from tests.support.accounts import PASSWORD, api_error, login_form, register
from tests.support.sockets import (
    MESSAGE_KEYS,
    assert_error,
    assert_message,
    call,
    drain,
    events,
    join,
    ok,
    say,
    user_id,
)

# -- helpers ---------------------------------------------------------------------------------


def post(http, token: str | None, room: str = "general", headers: dict | None = None, **kwargs):
    """POST /api/rooms/<room>/messages with a bearer token (None: no Authorization header)."""
    auth = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return http.post(f"/api/rooms/{room}/messages", headers={**auth, **(headers or {})}, **kwargs)


def posted(response, status: int = 201) -> dict:
    """A successful answer: `{"message": Message}` with `status`; returns the message."""
    assert response.status_code == status, response.get_json()
    body = response.get_json()
    assert set(body) == {"message"}, body
    assert set(body["message"]) == MESSAGE_KEYS, body
    return body["message"]


def assert_unauthorized(response) -> None:
    api_error(response, 401, "unauthorized")
    assert response.headers["WWW-Authenticate"] == "Bearer"


def history(sio_client, room: str = "general") -> list[dict]:
    return ok(call(sio_client, "history", {"room": room}))["messages"]


@pytest.fixture
def http(client):
    return client


@pytest.fixture
def bot(server):
    return server.token("robot")


# -- posting ---------------------------------------------------------------------------------


def test_a_bot_post_reaches_the_room_like_a_socket_message(http, bot, connect):
    alice = connect("alice")
    elsewhere = connect("carol")
    join(alice)
    join(elsewhere, "other")
    drain(alice, elsewhere)

    response = post(http, bot, json={"text": "  build passed  "})
    message = posted(response)
    assert_message(message, id=1, room="general", user="robot", text="build passed")
    assert response.headers["Content-Type"] == "application/json"

    assert events(alice) == [("message", message)]
    assert events(elsewhere) == []
    # the same sequence as socket messages, and in history like any other message
    assert say(alice, "thanks")["id"] == 2
    assert [m["id"] for m in history(elsewhere)] == [1, 2]
    assert history(elsewhere)[0] == message


def test_the_poster_need_not_be_connected_or_joined(http, bot, connect):
    alice = connect("alice")
    join(alice, "ops")
    drain(alice)
    message = posted(post(http, bot, "ops", json={"text": "deploying", "client_id": "d-1"}))
    assert_message(message, id=1, room="ops", user="robot", text="deploying", client_id="d-1")
    assert events(alice) == [("message", message)]


def test_the_senders_own_sockets_in_the_room_get_the_event_too(app, http, connect):
    alice = connect("alice")
    join(alice)
    drain(alice)
    token = app.extensions["tokens"].issue(user_id(app, "alice"))
    message = posted(post(http, token, json={"text": "from my script"}))
    assert message["user"] == "alice"
    assert events(alice) == [("message", message)]


def test_a_retry_with_the_same_client_id_returns_the_original(http, bot, connect):
    alice = connect("alice")
    join(alice)
    drain(alice)
    first = posted(post(http, bot, json={"text": "once", "client_id": "abc"}))
    retry = posted(post(http, bot, json={"text": "changed", "client_id": "abc"}), status=200)
    assert retry == first
    assert events(alice) == [("message", first)]  # broadcast once
    assert history(alice) == [first]
    # another client_id, or none, is a new message
    assert posted(post(http, bot, json={"text": "twice", "client_id": "abd"}))["id"] == 2
    assert posted(post(http, bot, json={"text": "thrice"}))["id"] == 3


def test_a_socket_retry_of_an_http_message_is_idempotent_too(app, http, connect):
    alice = connect("alice")
    join(alice)
    token = app.extensions["tokens"].issue(user_id(app, "alice"))
    first = posted(post(http, token, json={"text": "hi", "client_id": "same"}))
    assert say(alice, "hi", client_id="same") == first


# -- refusals --------------------------------------------------------------------------------


def test_no_or_malformed_authorization_is_unauthorized(http, bot):
    assert_unauthorized(post(http, None, json={"text": "hi"}))
    for header in ("Bearer", "Bearer ", f"Basic {bot}", bot, f"Token {bot}"):
        assert_unauthorized(
            post(http, None, headers={"Authorization": header}, json={"text": "hi"})
        )


def test_bad_foreign_and_orphaned_tokens_are_unauthorized(app, http, bot):
    tampered = bot[:-2] + ("AA" if bot[-2:] != "AA" else "BB")
    assert_unauthorized(post(http, tampered, json={"text": "hi"}))
    assert_unauthorized(post(http, "not-a-token", json={"text": "hi"}))
    foreign = URLSafeTimedSerializer("another-secret", salt=SALT).dumps({"uid": 1})
    assert_unauthorized(post(http, foreign, json={"text": "hi"}))
    orphaned = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=SALT).dumps({"uid": 99999})
    assert_unauthorized(post(http, orphaned, json={"text": "hi"}))


def test_an_expired_token_is_unauthorized(http, bot, monkeypatch):
    assert posted(post(http, bot, json={"text": "still valid"}))["user"] == "robot"
    # move itsdangerous' clock (only its clock) past the token's lifetime
    real_time = itsdangerous.timed.time.time
    monkeypatch.setattr(
        itsdangerous.timed, "time", types.SimpleNamespace(time=lambda: real_time() + 3600 + 60)
    )
    assert_unauthorized(post(http, bot, json={"text": "too late"}))


def test_credentials_are_checked_before_the_body(http):
    assert_unauthorized(post(http, None, data="not json", content_type="application/json"))


def test_a_cookie_session_is_not_enough(app, http):
    register(http, "alice")
    logged_in = app.test_client()
    response = login_form(logged_in, "alice")
    assert response.status_code == 302
    assert_unauthorized(post(logged_in, None, json={"text": "hi"}))


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"data": "{not json", "content_type": "application/json"},
        {"data": "text=hi", "content_type": "application/x-www-form-urlencoded"},
        {"json": ["hi"]},
        {"json": "hi"},
        {"json": {}},
        {"json": {"text": 5}},
        {"json": {"text": None}},
        {"json": {"text": "   "}},
        {"json": {"text": "a\x00b"}},
        {"json": {"text": "hi", "client_id": 7}},
        {"json": {"text": "hi", "client_id": ""}},
        {"json": {"text": "hi", "client_id": "x" * 65}},
        {"json": {"text": "hi", "client_id": "tab\there"}},
    ],
)
def test_bad_bodies_are_invalid(http, bot, connect, request_kwargs):
    api_error(post(http, bot, **request_kwargs), 400, "invalid")


def test_an_invalid_room_name_is_invalid(http, bot):
    api_error(post(http, bot, "Not_Lowercase", json={"text": "hi"}), 400, "invalid")
    api_error(post(http, bot, "chat:x", json={"text": "hi"}), 400, "invalid")
    api_error(post(http, bot, "x" * 65, json={"text": "hi"}), 400, "invalid")


def test_text_over_4000_characters_is_too_large(http, bot, connect):
    alice = connect("alice")
    api_error(post(http, bot, json={"text": "x" * 4001}), 400, "too_large")
    longest = posted(post(http, bot, json={"text": " " + "😀" * 4000 + "\n"}))
    assert longest["text"] == "😀" * 4000
    assert history(alice) == [longest]


def test_a_body_over_64_kib_is_refused_before_it_is_read(http, bot):
    response = post(http, bot, json={"text": "x" * (70 * 1024)})
    api_error(response, 413, "too_large")


def test_the_api_never_creates_rooms(http, bot, connect):
    alice = connect("alice")
    api_error(post(http, bot, "nowhere", json={"text": "hi"}), 404, "not_found")
    names = [room["name"] for room in ok(call(alice, "rooms", {}))["rooms"]]
    assert names == ["general"]


def test_private_rooms_are_forbidden_to_outsiders_whether_or_not_they_exist(http, bot, connect):
    alice = connect("alice")
    connect("bob")
    dm = ok(call(alice, "dm", {"user": "bob"}))["room"]["name"]
    drain(alice)
    for room in (dm, "dm:99998-99999", "pair:" + "0" * 32):
        api_error(post(http, bot, room, json={"text": "let me in"}), 403, "forbidden")
    assert events(alice) == []
    assert history(alice, dm) == []


def test_a_member_posts_to_their_dm_unless_blocked(app, http, connect):
    alice = connect("alice")
    bob = connect("bob")
    dm = ok(call(alice, "dm", {"user": "bob"}))["room"]["name"]
    join(bob, dm)
    drain(alice, bob)
    alice_token = app.extensions["tokens"].issue(user_id(app, "alice"))
    message = posted(post(http, alice_token, dm, json={"text": "psst"}))
    assert events(bob) == [("message", message)]
    # the ":" may also be percent-encoded in the path
    encoded = posted(post(http, alice_token, dm.replace(":", "%3A"), json={"text": "again"}))
    assert encoded["room"] == dm
    assert events(bob) == [("message", encoded)]

    ok(call(bob, "block", {"user": "alice"}))
    api_error(post(http, alice_token, dm, json={"text": "again"}), 403, "forbidden")
    assert events(bob) == []


def test_a_pair_room_needs_an_active_pairing(app, http, connect):
    alice = connect("alice")
    bob = connect("bob")
    assert ok(call(alice, "find_partner", {}))["status"] == "waiting"
    room = ok(call(bob, "find_partner", {}))["room"]
    drain(alice, bob)
    bob_token = app.extensions["tokens"].issue(user_id(app, "bob"))
    message = posted(post(http, bob_token, room, json={"text": "hello stranger"}))
    assert events(alice) == [("message", message)]

    ok(call(alice, "leave_partner", {}))
    drain(alice, bob)
    error = api_error(post(http, bob_token, room, json={"text": "wait"}), 403, "forbidden")
    assert "ended" in error["message"]
    assert events(alice) == []


# -- the shared rate limit -------------------------------------------------------------------


def test_the_rate_limit_is_shared_between_sockets_and_http(server_factory):
    server = server_factory(MESSAGE_BURST=3, MESSAGE_RATE=0.001)
    alice = server.connect("alice")
    bob = server.connect("bob")
    join(alice)
    join(bob)
    http = server.app.test_client()
    token = server.token("alice")

    say(alice, "one", client_id="c1")
    posted(post(http, token, json={"text": "two"}))
    say(alice, "three")
    drain(alice, bob)

    response = post(http, token, json={"text": "four"})
    error = api_error(response, 429, "rate_limited")
    assert error["retry_after"] > 0
    assert int(response.headers["Retry-After"]) >= error["retry_after"]
    assert int(response.headers["Retry-After"]) >= 1
    assert_error(call(alice, "message", {"room": "general", "text": "five"}), "rate_limited")
    assert events(bob) == []

    # other users are not affected, and a retry of a stored message is answered while throttled
    bob_token = server.token("bob")
    assert posted(post(http, bob_token, json={"text": "mine"}))["user"] == "bob"
    retry = posted(post(http, token, json={"text": "one", "client_id": "c1"}), status=200)
    assert retry["id"] == 1


def test_flooding_over_http_keeps_answering_rate_limited(server_factory):
    server = server_factory(MESSAGE_BURST=1, MESSAGE_RATE=0.001, FLOOD_STRIKES=2)
    http = server.app.test_client()
    token = server.token("robot")
    posted(post(http, token, json={"text": "one"}))
    for _ in range(5):
        response = post(http, token, json={"text": "more"})
        error = api_error(response, 429, "rate_limited")
        assert "closed" not in error["message"]  # there is no connection to close
        assert "Retry-After" in response.headers


# -- other methods and paths -----------------------------------------------------------------


def test_a_server_failure_is_internal(app_factory, monkeypatch):
    app = app_factory(PROPAGATE_EXCEPTIONS=False)
    http = app.test_client()
    register(http, "robot")
    token = http.post("/api/tokens", json={"username": "robot", "password": PASSWORD}).get_json()

    def fail(*args):
        raise RuntimeError("database is gone")

    monkeypatch.setattr(app.extensions["chat"].messages, "post_as", fail)
    api_error(post(http, token["token"], json={"text": "hi"}), 500, "internal")


def test_only_post_is_allowed(http, bot):
    response = http.get("/api/rooms/general/messages", headers={"Authorization": f"Bearer {bot}"})
    assert response.status_code == 405
    assert response.get_json()["error"]["code"] == "method_not_allowed"


# -- flask chat post -------------------------------------------------------------------------


def chat_post(app, *args):
    return app.test_cli_runner().invoke(args=["chat", "post", *args])


def test_cli_posts_as_system_and_prints_the_id(app, connect):
    alice = connect("alice")
    join(alice)
    say(alice, "before")
    result = chat_post(app, "general", "maintenance at noon")
    assert result.exit_code == 0, result.output
    assert result.stdout == "2\n"
    assert "REDIS_URL" in result.stderr  # clients elsewhere see it on their next join
    message = history(alice)[-1]
    assert_message(message, id=2, room="general", user="system", text="maintenance at noon")

    # the second time reuses the account
    assert chat_post(app, "general", "done").stdout == "3\n"
    assert [m["user"] for m in history(alice)] == ["alice", "system", "system"]


def test_cli_posts_as_an_existing_user(app, connect):
    alice = connect("alice")
    result = chat_post(app, "general", "hi from the shell", "--user", "ALICE")
    assert result.exit_code == 0, result.output
    assert result.stdout == "1\n"
    assert_message(history(alice)[0], id=1, room="general", user="alice", text="hi from the shell")


def test_cli_without_redis_notes_that_clients_see_it_on_their_next_join(app):
    result = chat_post(app, "general", "hello")
    assert "join" in result.stderr
    app.config["REDIS_URL"] = "redis://localhost:6379/0"  # as if the queue were configured
    assert chat_post(app, "general", "hello").stderr == ""


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["nowhere", "hi"], "no room named 'nowhere'"),
        (["general", "hi", "--user", "nobody"], "no user named 'nobody'"),
        (["general", "   "], "empty"),
        (["Bad Room", "hi"], "Room names"),
        (["dm:1-2", "hi"], "not a member"),
    ],
)
def test_cli_refusals_exit_1_with_a_message(app, connect, args, says):
    alice = connect("alice")
    result = chat_post(app, *args)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert says in result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert history(alice) == []


def test_the_system_account_cannot_sign_in(app, http):
    assert chat_post(app, "general", "hello").exit_code == 0
    for password in ("!", "", PASSWORD, "system", "!" * 8):
        response = http.post("/api/tokens", json={"username": "system", "password": password})
        api_error(response, 401, "invalid_credentials")
    with app.app_context():
        accounts = app.extensions["accounts"]
        assert accounts.repository.find_by_username("system") is not None
        assert accounts.authenticate("system", "!") is None


@pytest.mark.parametrize("name", ["system", "System", "SYSTEM"])
def test_registering_system_is_refused(app, http, name):
    response = register(http, name)
    api_error(response, 409, "username_taken")
    # also before the account exists, and afterwards
    chat_post(app, "general", "hello")
    response = register(http, name)
    api_error(response, 409, "username_taken")
