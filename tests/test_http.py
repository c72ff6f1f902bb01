"""HTTP surface: the JSON account/token API, the HTML auth forms, CSRF and socket auth."""

import base64
import json
import re
import types

import itsdangerous.timed
import pytest
from itsdangerous import URLSafeTimedSerializer
from werkzeug.security import check_password_hash

from app.extensions import db, socketio
from app.storage.models import User
from app.tokens import SALT
from tests.support.accounts import PASSWORD, api_error, login_form, register, register_form
from tests.support.sockets import user_count

# --- helpers ---------------------------------------------------------------------------------


def csrf_token_from(http, path: str) -> str:
    page = http.get(path)
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text) or re.search(
        r'name="csrf_token" value="([^"]+)"', page.text
    )
    assert match, "no csrf_token hidden input on " + path
    return match.group(1)


def chat_page_after(response, http) -> str:
    """`response` signed in and redirected to the chat page; that page's HTML as `http` gets
    it."""
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    page = http.get("/")
    assert page.status_code == 200
    return page.text


def set_cookies(response) -> dict[str, str]:
    """Set-Cookie headers of a response, by cookie name."""
    return {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}


def sio_connects(app, **kwargs) -> bool:
    sio_client = socketio.test_client(app, **kwargs)
    try:
        return sio_client.is_connected()
    finally:
        if sio_client.is_connected():
            sio_client.disconnect()


# --- JSON API: accounts ----------------------------------------------------------------------


def test_api_create_user(client):
    response = register(client, "alice")
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"user"}
    assert set(body["user"]) == {"id", "username"}
    assert isinstance(body["user"]["id"], int)
    assert body["user"]["username"] == "alice"
    # the API sets no cookie: it is stateless
    assert "Set-Cookie" not in response.headers


def test_api_username_keeps_registered_spelling(client):
    response = register(client, "Alice.B")
    assert response.status_code == 201
    assert response.get_json()["user"]["username"] == "Alice.B"


@pytest.mark.parametrize("second", ["alice", "Alice", "ALICE"])
def test_api_username_taken_ignoring_case(client, second):
    assert register(client, "alice").status_code
    response = register(client, second)
    api_error(response, 409, "username_taken")


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("username=alice&password=correct+horse", "application/x-www-form-urlencoded"),
        ("not json", "text/plain"),
        ("{broken", "application/json"),
        ("", "application/json"),
        ('["alice", "correct horse"]', "application/json"),
        ('"alice"', "application/json"),
        ("null", "application/json"),
    ],
    ids=["form", "text", "broken-json", "empty", "array", "string", "null"],
)
@pytest.mark.parametrize("path", ["/api/users", "/api/tokens"])
def test_api_rejects_non_object_bodies(client, path, data, content_type):
    api_error(client.post(path, data=data, content_type=content_type), 400, "invalid")


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"username": "alice"},
        {"password": PASSWORD},
        {"username": None, "password": PASSWORD},
        {"username": 12345, "password": PASSWORD},
        {"username": ["alice"], "password": PASSWORD},
        {"username": "alice", "password": 12345678},
        {"username": "alice", "password": {"p": PASSWORD}},
        {"username": "alice", "password": True},
    ],
)
@pytest.mark.parametrize("path", ["/api/users", "/api/tokens"])
def test_api_rejects_missing_or_non_string_fields(app, client, path, payload):
    api_error(client.post(path, json=payload), 400, "invalid")
    assert user_count(app) == 0


@pytest.mark.parametrize(
    "username",
    ["ab", "a" * 33, "a b", "x<b>", "al/ice", "alice!", "émile", "", "   ", "alice\n"],
    ids=[
        "2-chars",
        "33-chars",
        "space",
        "html",
        "slash",
        "bang",
        "non-ascii",
        "empty",
        "blank",
        "newline",
    ],
)
def test_api_rejects_bad_usernames(app, client, username):
    response = register(client, username)
    api_error(response, 400, "invalid")
    assert user_count(app) == 0


@pytest.mark.parametrize("username", ["abc", "a" * 32, "a.b-c_d", "Z9_"])
def test_api_accepts_boundary_usernames(client, username):
    response = register(client, username)
    assert response.status_code == 201, response.get_json()


@pytest.mark.parametrize(("length", "status"), [(7, 400), (8, 201), (256, 201), (257, 400)])
def test_api_password_length(app, client, length, status):
    response = client.post("/api/users", json={"username": "alice", "password": "p" * length})
    assert response.status_code == status, response.get_json()
    if status == 400:
        api_error(response, 400, "invalid")
        assert user_count(app) == 0


# --- JSON API: tokens ------------------------------------------------------------------------


def test_api_issue_token(app, client):
    register(client, "alice")
    response = client.post("/api/tokens", json={"username": "alice", "password": PASSWORD})
    assert response.status_code == 201
    body = response.get_json()
    assert set(body) == {"token", "expires_in"}
    assert isinstance(body["token"], str) and body["token"]
    assert body["expires_in"] == app.config["TOKEN_MAX_AGE"]
    assert "Set-Cookie" not in response.headers


def test_api_token_login_ignores_case(client):
    register(client, "Alice")
    for login_as in ["alice", "ALICE", "aLiCe"]:
        response = client.post("/api/tokens", json={"username": login_as, "password": PASSWORD})
        assert response.status_code == 201, (login_as, response.get_json())


def test_api_token_invalid_credentials(client):
    register(client, "alice")
    for username, password in [
        ("alice", "wrong password"),
        ("alice", PASSWORD.upper()),
        ("alice", ""),
        ("bob", PASSWORD),
        ("nobody-here", "whatever-at-all"),
    ]:
        response = client.post("/api/tokens", json={"username": username, "password": password})
        error = api_error(response, 401, "invalid_credentials")
        # the same answer for "no such user" and "wrong password"
        assert error["message"] == "Wrong username or password."


def test_api_unknown_path_is_json_404(client):
    api_error(client.get("/api/nothing-here"), 404, "not_found")
    api_error(client.post("/api/users/1/delete", json={}), 404, "not_found")


def test_api_wrong_method_is_json_405(client):
    api_error(client.get("/api/users"), 405, "method_not_allowed")
    api_error(client.get("/api/tokens"), 405, "method_not_allowed")
    api_error(client.delete("/api/users"), 405, "method_not_allowed")


# --- tokens on the socket --------------------------------------------------------------------


def test_token_authenticates_socket(app, server):
    token = server.token("alice")
    assert sio_connects(app, auth={"token": token})


def test_socket_refused_without_credentials(app):
    assert not sio_connects(app)
    assert not sio_connects(app, auth={})


@pytest.mark.parametrize("bad", ["", "garbage", "a.b.c", 42, None, ["x"], "x" * 600])
def test_socket_refuses_malformed_tokens(app, bad):
    assert not sio_connects(app, auth={"token": bad})


def test_socket_refuses_tampered_token(app, server):
    token = server.token("alice")
    server.token("mallory")
    payload, timestamp, signature = token.split(".")

    # a flipped signature character
    flipped = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    assert not sio_connects(app, auth={"token": f"{payload}.{timestamp}.{flipped}"})

    # alice's signature on a payload naming another user
    forged = base64.urlsafe_b64encode(json.dumps({"uid": 2}).encode()).decode().rstrip("=")
    assert not sio_connects(app, auth={"token": f"{forged}.{timestamp}.{signature}"})

    # well formed, but signed with another key
    other = URLSafeTimedSerializer("some-other-secret-key", salt=SALT).dumps({"uid": 1})
    assert not sio_connects(app, auth={"token": other})

    # the real token still works
    assert sio_connects(app, auth={"token": token})


def test_token_of_deleted_user_is_refused(app, server):
    token = server.token("alice")
    with app.app_context():
        db.session.query(User).delete()
        db.session.commit()
    assert not sio_connects(app, auth={"token": token})


def test_socket_refuses_expired_token(app_factory, monkeypatch):
    app = app_factory(TOKEN_MAX_AGE=1)
    http = app.test_client()
    register(http, "alice")
    issued = http.post("/api/tokens", json={"username": "alice", "password": PASSWORD})
    assert issued.get_json()["expires_in"] == 1
    token = issued.get_json()["token"]
    assert sio_connects(app, auth={"token": token})

    # move itsdangerous' clock (only its clock) a minute ahead
    real_time = itsdangerous.timed.time.time
    monkeypatch.setattr(
        itsdangerous.timed, "time", types.SimpleNamespace(time=lambda: real_time() + 60)
    )
    assert not sio_connects(app, auth={"token": token})


# --- HTML forms ------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/auth/register", "/auth/login"])
def test_auth_pages_render(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert '<form method="post"' in response.text
    assert 'name="username"' in response.text
    assert 'name="password"' in response.text


def test_chat_page_requires_login(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login?next=%2F"


def test_register_logs_in_and_redirects(app, client):
    page = chat_page_after(register_form(client, "a.b-c_d"), client)
    assert "Welcome, a.b-c_d!" in page
    assert "<strong>a.b-c_d</strong>" in page
    assert 'data-username="a.b-c_d"' in page
    # the account works on the API too
    token = client.post("/api/tokens", json={"username": "a.b-c_d", "password": PASSWORD})
    assert token.status_code == 201


def test_register_form_invalid_username_is_escaped(app, client):
    response = register_form(client, '<b>x</b>"')
    assert response.status_code == 400
    assert "<b>x</b>" not in response.text
    assert "&lt;b&gt;x&lt;/b&gt;" in response.text
    assert "3-32 characters" in response.text
    assert user_count(app) == 0


def test_register_form_short_password(app, client):
    response = register_form(client, "alice", password="short12")
    assert response.status_code == 400
    assert "between 8 and 256 characters" in response.text
    assert user_count(app) == 0


def test_register_form_duplicate_username(app, client):
    register(client, "alice")
    response = register_form(client, "ALICE")
    assert response.status_code == 400
    assert "already taken" in response.text
    assert user_count(app) == 1
    assert client.get("/").status_code == 302  # not logged in


def test_register_form_mismatched_confirm(app, client):
    response = register_form(client, "alice", confirm=PASSWORD + "!")
    assert response.status_code == 400
    assert "Passwords differ." in response.text
    assert user_count(app) == 0
    # the typed passwords are not echoed back into the page
    assert PASSWORD not in response.text


def test_login_form_success(client):
    register(client, "alice")
    page = chat_page_after(login_form(client, "ALICE"), client)
    # the name keeps the spelling it was registered with
    assert "<strong>alice</strong>" in page


@pytest.mark.parametrize(
    ("username", "password"), [("alice", "wrong password"), ("nobody", PASSWORD)]
)
def test_login_form_wrong_credentials(client, username, password):
    register(client, "alice")
    response = login_form(client, username, password)
    assert response.status_code == 400
    assert "Wrong username or password." in response.text
    assert password not in response.text  # the password field is not refilled
    assert client.get("/").status_code == 302


def test_login_form_escapes_username(client):
    response = login_form(client, "<script>alert(1)</script>")
    assert response.status_code == 400
    assert "<script>alert(1)</script>" not in response.text
    assert "&lt;script&gt;" in response.text


def test_logout_is_post_only_and_ends_session(client):
    register_form(client, "alice")
    assert client.get("/").status_code == 200

    assert client.get("/auth/logout").status_code == 405
    assert client.get("/").status_code == 200  # a GET did not sign out

    response = client.post("/auth/logout")
    assert response.status_code == 302
    assert response.headers["Location"] == "/auth/login"
    assert "You are signed out." in client.get("/auth/login").text
    after = client.get("/")
    assert after.status_code == 302
    assert after.headers["Location"].startswith("/auth/login")


def test_logout_needs_login(client):
    response = client.post("/auth/logout")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")


def test_remember_me_sets_remember_cookie(client):
    register(client, "alice")
    response = login_form(client, "alice", remember="y")
    assert response.status_code == 302
    cookies = set_cookies(response)
    assert "remember_token" in cookies
    assert "HttpOnly" in cookies["remember_token"]
    assert "SameSite=Lax" in cookies["remember_token"]


def test_no_remember_cookie_without_remember_me(client):
    register(client, "alice")
    response = login_form(client, "alice")
    assert "remember_token" not in set_cookies(response)


def test_remember_cookie_restores_session(app, client):
    register(client, "alice")
    login_form(client, "alice", remember="y")
    remember = client.get_cookie("remember_token")
    assert remember is not None

    fresh = app.test_client()
    fresh.set_cookie("remember_token", remember.value)
    assert fresh.get("/").status_code == 200


def test_session_cookie_flags(client):
    register(client, "alice")
    response = login_form(client, "alice")
    cookie = set_cookies(response)["session"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_login_next_same_site_path(client):
    register(client, "alice")
    response = login_form(client, "alice", query="?next=/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


def test_login_next_from_chat_redirect(client):
    register(client, "alice")
    login_url = client.get("/").headers["Location"]
    response = client.post(login_url, data={"username": "alice", "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/path",
        "https://evil.example",
        "http://evil.example/",
        "/\\evil.example",
        "///evil.example",
        "javascript:alert(1)",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r\n/evil.example",
        "\t//evil.example",
    ],
    ids=[
        "scheme-relative",
        "scheme-relative-path",
        "https",
        "http",
        "backslash",
        "triple-slash",
        "javascript",
        "tab",
        "newline",
        "crlf",
        "leading-tab",
    ],
)
def test_login_next_to_other_site_goes_home(app, target):
    http = app.test_client()
    register(http, "alice")
    response = http.post(
        "/auth/login",
        query_string={"next": target},
        data={"username": "alice", "password": PASSWORD},
    )
    assert response.status_code == 302
    location = response.headers["Location"]
    # what a browser would make of the Location header: it drops tabs and newlines
    browser_sees = re.sub(r"[\t\r\n]", "", location)
    assert not browser_sees.startswith(("//", "/\\")), location
    assert "evil.example" not in browser_sees or browser_sees.startswith("/"), location
    assert location == "/", location


def test_logged_in_user_visiting_auth_pages_goes_home(client):
    register_form(client, "alice")
    assert client.get("/auth/login").headers["Location"] == "/"
    assert client.get("/auth/register").headers["Location"] == "/"


# --- CSRF ------------------------------------------------------------------------------------


@pytest.fixture
def csrf_app(app_factory):
    return app_factory(WTF_CSRF_ENABLED=True)


def test_csrf_register_without_token_rejected(csrf_app):
    http = csrf_app.test_client()
    http.get("/auth/register")  # a session exists, but the token is not sent
    response = register_form(http, "alice")
    assert response.status_code == 400
    assert user_count(csrf_app) == 0
    assert http.get("/").status_code == 302


def test_csrf_register_with_wrong_token_rejected(csrf_app):
    http = csrf_app.test_client()
    http.get("/auth/register")
    response = register_form(http, "alice", csrf_token="x")
    assert response.status_code == 400
    assert user_count(csrf_app) == 0


def test_csrf_register_with_token_works(csrf_app):
    http = csrf_app.test_client()
    token = csrf_token_from(http, "/auth/register")
    response = register_form(http, "alice", csrf_token=token)
    chat_page_after(response, http)
    assert user_count(csrf_app) == 1


def test_csrf_token_from_another_session_rejected(csrf_app):
    other = csrf_app.test_client()
    token = csrf_token_from(other, "/auth/register")
    http = csrf_app.test_client()
    http.get("/auth/register")
    response = register_form(http, "alice", csrf_token=token)
    assert response.status_code == 400
    assert user_count(csrf_app) == 0


def test_csrf_login_without_token_rejected(csrf_app):
    http = csrf_app.test_client()
    register(http, "alice")
    http.get("/auth/login")
    response = login_form(http, "alice")
    assert response.status_code == 400
    assert http.get("/").status_code == 302


def test_csrf_login_with_token_works(csrf_app):
    http = csrf_app.test_client()
    register(http, "alice")
    token = csrf_token_from(http, "/auth/login")
    response = login_form(http, "alice", csrf_token=token)
    assert response.status_code == 302
    assert http.get("/").status_code == 200


def test_csrf_logout_needs_token(csrf_app):
    http = csrf_app.test_client()
    register_token = csrf_token_from(http, "/auth/register")
    register_form(http, "alice", csrf_token=register_token)
    assert http.post("/auth/logout").status_code == 400
    assert http.get("/").status_code == 200  # still signed in

    # the chat page's sign-out form carries a working token
    token = csrf_token_from(http, "/")
    response = http.post("/auth/logout", data={"csrf_token": token})
    assert response.status_code == 302
    assert http.get("/").status_code == 302


def test_csrf_not_needed_for_json_api(csrf_app):
    http = csrf_app.test_client()
    created = register(http, "alice")
    assert created.status_code == 201, created.get_json()
    issued = http.post("/api/tokens", json={"username": "alice", "password": PASSWORD})
    assert issued.status_code == 201, issued.get_json()
    assert sio_connects(csrf_app, auth={"token": issued.get_json()["token"]})


# --- password storage ------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["api", "form"])
def test_passwords_are_hashed(app, client, via):
    if via == "api":
        register(client, "alice")
    else:
        register_form(client, "alice")
    with app.app_context():
        user = db.session.query(User).filter_by(username="alice").one()
        stored = user.password_hash
    assert stored != PASSWORD
    assert PASSWORD not in stored
    assert check_password_hash(stored, PASSWORD)
    assert not check_password_hash(stored, PASSWORD + "x")


def test_same_password_hashes_differ(app, client):
    register(client, "alice")
    register(client, "bob")
    with app.app_context():
        hashes = [user.password_hash for user in db.session.query(User).all()]
    assert len(hashes) == 2
    assert hashes[0] != hashes[1]  # salted


# --- Socket.IO with the session cookie -------------------------------------------------------


def test_session_cookie_authenticates_socket(app):
    http = app.test_client()
    register_form(http, "alice")
    assert sio_connects(app, flask_test_client=http)


def test_session_cookie_after_login_form_authenticates_socket(app):
    http = app.test_client()
    register(http, "alice")
    login_form(http, "alice")
    assert sio_connects(app, flask_test_client=http)


def test_socket_refused_without_login(app):
    http = app.test_client()
    http.get("/auth/login")
    assert not sio_connects(app, flask_test_client=http)


def test_socket_refused_after_logout(app):
    http = app.test_client()
    register_form(http, "alice")
    http.post("/auth/logout")
    assert not sio_connects(app, flask_test_client=http)


def test_bad_token_is_not_rescued_by_session(app):
    """A token that fails is a refusal, even when a session cookie is present."""
    http = app.test_client()
    register_form(http, "alice")
    assert not sio_connects(app, flask_test_client=http, auth={"token": "garbage"})
