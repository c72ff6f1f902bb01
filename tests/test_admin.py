"""Admins, suspended accounts and the admin page (docs/protocol.md "Roles", "Suspended
accounts", "Admin page"): `flask users`, who may open /admin, what its forms do (CSRF, audit
log, escaping), and a suspension as the suspended user meets it everywhere."""

import json
import re
from datetime import datetime

import pytest
from sqlalchemy import select

from app.extensions import db
from app.storage.models import AuditEntry, Report, User
from tests.support.accounts import PASSWORD, api_error, login_form, register
from tests.support.sockets import assert_error, call, drain, events, join, ok, user_id

# -- helpers ---------------------------------------------------------------------------------


def cli(app, *args):
    """Run `flask users ARGS...`; the click result."""
    return app.test_cli_runner().invoke(args=["users", *args])


def account(app, username: str) -> User:
    with app.app_context():
        row = db.session.scalar(select(User).where(User.username == username))
        db.session.expunge(row)
        return row


def audit_rows(app) -> list[tuple]:
    """(actor, action, target, room, reason, details) of every audit entry, oldest first,
    with usernames for ids (None: the command line)."""
    with app.app_context():
        names = dict(db.session.execute(select(User.id, User.username)).all())
        entries = db.session.scalars(select(AuditEntry).order_by(AuditEntry.id)).all()
        return [
            (
                names.get(e.actor_id),
                e.action,
                names.get(e.target_id),
                e.room_name,
                e.reason,
                json.loads(e.details),
            )
            for e in entries
        ]


def add_report(app, reporter: str, reported: str, reason: str, **fields) -> int:
    """A row in `reports`, as the `report` event stores one; returns its id."""
    with app.app_context():
        row = Report(
            reporter_id=user_id(app, reporter),
            reported_id=user_id(app, reported),
            reason=reason,
            context=json.dumps(fields.pop("context", [])),
            **fields,
        )
        db.session.add(row)
        db.session.commit()
        return row.id


def report_row(app, report_id: int) -> Report:
    with app.app_context():
        row = db.session.get(Report, report_id)
        db.session.expunge(row)
        return row


def admin_http(server, username: str = "root"):
    """A browser session of a new admin (made one with `flask users admin`)."""
    http = server.logged_in_http(username)
    assert cli(server.app, "admin", username).exit_code == 0
    return http


def flashes(page) -> list[str]:
    return re.findall(
        r"<li>(.*?)</li>", page.text.split('class="flashes"', 1)[-1].split("</ul>")[0]
    )


def followed(response, http):
    """A POST of the admin page: redirected back to it; that page."""
    assert response.status_code == 302, response.text
    assert response.headers["Location"].startswith("/admin/")
    return http.get(response.headers["Location"])


@pytest.fixture
def users(server):
    """alice and bob, registered, with their tokens."""
    return {name: server.token(name) for name in ("alice", "bob")}


# -- flask users -----------------------------------------------------------------------------


def test_cli_grants_and_revokes_admin_and_audits_it(app, users):
    result = cli(app, "admin", "ALICE")
    assert result.exit_code == 0, result.output
    assert "alice is now an admin." in result.output
    assert account(app, "alice").is_admin
    result = cli(app, "admin", "alice", "--revoke")
    assert result.exit_code == 0, result.output
    assert "alice is no longer an admin." in result.output
    assert not account(app, "alice").is_admin
    assert audit_rows(app) == [
        (None, "grant_admin", "alice", None, None, {}),
        (None, "revoke_admin", "alice", None, None, {}),
    ]


def test_cli_suspends_and_unsuspends_with_a_reason(app, users):
    result = cli(app, "suspend", "bob", "--reason", "spam in #general")
    assert result.exit_code == 0, result.output
    assert "bob is suspended." in result.output
    # this process reaches no server's sockets, and (the test config) no server sweeps
    assert "REDIS_URL is not set and SUSPENSION_SWEEP_SECONDS is 0" in result.output
    bob = account(app, "bob")
    assert bob.suspended_at is not None and bob.suspended_reason == "spam in #general"
    result = cli(app, "unsuspend", "bob")
    assert result.exit_code == 0, result.output
    assert "bob is no longer suspended." in result.output
    assert account(app, "bob").suspended_at is None
    assert audit_rows(app) == [
        (None, "suspend", "bob", None, "spam in #general", {}),
        (None, "unsuspend", "bob", None, None, {}),
    ]


def test_cli_says_when_running_servers_close_the_open_connections(server_factory):
    server = server_factory(SUSPENSION_SWEEP_SECONDS=5.0)  # the default outside the tests
    server.token("bob")
    result = cli(server.app, "suspend", "bob")
    assert result.exit_code == 0, result.output
    assert (
        "Running servers tell and close their open connections within 5 s "
        "(SUSPENSION_SWEEP_SECONDS)." in result.output
    )
    assert "Note:" not in result.output


@pytest.mark.parametrize(
    "args",
    [
        ("admin", "nobody"),
        ("admin", "nobody", "--revoke"),
        ("suspend", "nobody"),
        ("unsuspend", "nobody"),
    ],
)
def test_cli_names_an_unknown_user(app, args):
    result = cli(app, *args)
    assert result.exit_code == 1
    assert "There is no user named 'nobody'." in result.output
    assert audit_rows(app) == []


def test_cli_refuses_a_reason_over_500_characters(app, users):
    result = cli(app, "suspend", "bob", "--reason", "x" * 501)
    assert result.exit_code == 1
    assert "at most 500 characters" in result.output
    assert account(app, "bob").suspended_at is None


# -- who may open /admin ---------------------------------------------------------------------


def test_signed_out_visitors_get_the_sign_in_page(client):
    for path in ("/admin/", "/admin"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code in (301, 302, 308)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=")
    assert client.post("/admin/users/bob/suspend").status_code == 302


def test_members_get_403_everywhere(server, users):
    http = server.logged_in_http("carol")
    assert http.get("/admin/").status_code == 403
    for path in (
        "/admin/users/bob/suspend",
        "/admin/users/carol/admin",
        "/admin/reports/1/resolve",
    ):
        assert http.post(path, data={"reason": "x"}).status_code == 403
    assert account(server.app, "bob").suspended_at is None
    assert not account(server.app, "carol").is_admin
    assert audit_rows(server.app) == []


def test_admins_see_the_page_and_the_chat_links_it(server, users):
    http = admin_http(server)
    page = http.get("/admin/")
    assert page.status_code == 200
    for heading in ("Open reports", "Users", "Audit log"):
        assert heading in page.text
    assert 'href="/admin/"' in http.get("/").text
    member = server.logged_in_http("carol")
    assert 'href="/admin/"' not in member.get("/").text


def test_a_revoked_admin_is_refused_at_the_next_request(server, users):
    http = admin_http(server)
    assert http.get("/admin/").status_code == 200
    assert cli(server.app, "admin", "root", "--revoke").exit_code == 0
    assert http.get("/admin/").status_code == 403


# -- CSRF ------------------------------------------------------------------------------------


def test_every_form_needs_its_csrf_token(server_factory):
    server = server_factory(WTF_CSRF_ENABLED=True)
    app = server.app
    for name in ("alice", "bob"):
        assert register(app.test_client(), name).status_code == 201
    http = app.test_client()
    assert register(http, "root").status_code == 201
    page = http.get("/auth/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text).group(1)
    assert login_form(http, "root", csrf_token=token).status_code == 302
    assert cli(app, "admin", "root").exit_code == 0
    report = add_report(app, "alice", "bob", "rude")
    posts = [
        f"/admin/reports/{report}/resolve",
        f"/admin/reports/{report}/dismiss",
        "/admin/users/bob/suspend",
        "/admin/users/bob/unsuspend",
        "/admin/users/bob/admin",
        "/admin/users/bob/revoke-admin",
    ]
    for path in posts:
        assert http.post(path, data={"reason": "x"}).status_code == 400, path
        assert http.post(path, data={"csrf_token": "forged"}).status_code == 400, path
    assert report_row(app, report).status == "open"
    assert account(app, "bob").suspended_at is None and not account(app, "bob").is_admin
    assert [row[1] for row in audit_rows(app)] == ["grant_admin"]
    # the page's own forms carry the token, and work
    page = http.get("/admin/")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    response = http.post("/admin/users/bob/suspend", data={"csrf_token": token, "reason": "x"})
    assert response.status_code == 302
    assert account(app, "bob").suspended_at is not None


# -- the report queue ------------------------------------------------------------------------


def test_open_reports_show_their_context_escaped(server, users):
    http = admin_http(server)
    context = [
        {"id": 6, "room": "general", "user": "bob", "text": "hi", "ts": "2026-12-01T10:00:00.000Z"},
        {
            "id": 7,
            "room": "general",
            "user": "bob",
            "text": "<img src=x onerror=alert(1)>",
            "ts": "2026-12-01T10:00:05.000Z",
        },
    ]
    add_report(
        server.app,
        "alice",
        "bob",
        "<script>alert('x')</script>",
        room_name="general",
        message_id=7,
        context=context,
    )
    page = http.get("/admin/").text
    assert "<script>alert(" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "(message 7)" in page and ">hi<" in page
    assert 'class="reported-message"' in page
    assert 'Open reports <span class="count">(1)</span>' in page


@pytest.mark.parametrize(("verb", "status"), [("resolve", "resolved"), ("dismiss", "dismissed")])
def test_reviewing_a_report_closes_it_and_is_audited(server, users, verb, status):
    http = admin_http(server)
    report = add_report(server.app, "alice", "bob", "rude", room_name="general")
    page = followed(http.post(f"/admin/reports/{report}/{verb}"), http)
    assert f"Report #{report} {status}." in flashes(page)
    assert "No open reports." in page.text
    row = report_row(server.app, report)
    assert row.status == status
    assert row.reviewed_by == user_id(server.app, "root")
    assert isinstance(row.reviewed_at, datetime)
    assert audit_rows(server.app)[-1] == (
        "root",
        f"{verb}_report",
        "bob",
        "general",
        None,
        {"report": report},
    )
    # a second press finds nothing open, changes nothing
    page = followed(http.post(f"/admin/reports/{report}/resolve"), http)
    assert f"There is no open report #{report}." in flashes(page)
    assert report_row(server.app, report).status == status
    assert len(audit_rows(server.app)) == 2


# -- users on the page -----------------------------------------------------------------------


def test_suspend_unsuspend_and_admin_rights_from_the_page(server, users):
    http = admin_http(server)
    page = followed(http.post("/admin/users/bob/suspend", data={"reason": "  spam  "}), http)
    assert "bob is suspended." in flashes(page)
    assert "suspended" in page.text and ": spam" in page.text
    assert account(server.app, "bob").suspended_reason == "spam"
    page = followed(http.post("/admin/users/bob/unsuspend"), http)
    assert "bob is no longer suspended." in flashes(page)
    assert account(server.app, "bob").suspended_at is None
    followed(http.post("/admin/users/alice/admin"), http)
    assert account(server.app, "alice").is_admin
    page = followed(http.post("/admin/users/alice/revoke-admin"), http)
    assert "alice is no longer an admin." in flashes(page)
    assert not account(server.app, "alice").is_admin
    assert audit_rows(server.app)[1:] == [
        ("root", "suspend", "bob", None, "spam", {}),
        ("root", "unsuspend", "bob", None, None, {}),
        ("root", "grant_admin", "alice", None, None, {}),
        ("root", "revoke_admin", "alice", None, None, {}),
    ]
    # the audit log is on the page, newest first
    page = http.get("/admin/").text
    audit = page.split("Audit log", 1)[1]
    actions = re.findall(r'class="audit-action">(\w+)<', audit)
    assert actions == ["revoke_admin", "grant_admin", "unsuspend", "suspend", "grant_admin"]


def test_an_admin_cannot_suspend_or_unadmin_themselves(server, users):
    http = admin_http(server)
    page = followed(http.post("/admin/users/root/suspend", data={"reason": "oops"}), http)
    assert "You cannot suspend your own account." in flashes(page)
    page = followed(http.post("/admin/users/root/revoke-admin"), http)
    assert "You cannot revoke your own admin rights." in flashes(page)
    root = account(server.app, "root")
    assert root.is_admin and root.suspended_at is None
    assert len(audit_rows(server.app)) == 1
    assert http.get("/admin/").status_code == 200


def test_unknown_users_and_long_reasons_are_flashed(server, users):
    http = admin_http(server)
    page = followed(http.post("/admin/users/nobody/suspend"), http)
    assert "There is no user named &#39;nobody&#39;." in flashes(page)
    page = followed(http.post("/admin/users/bob/suspend", data={"reason": "x" * 501}), http)
    assert "A reason is at most 500 characters." in flashes(page)
    assert account(server.app, "bob").suspended_at is None


def test_user_search_by_part_of_the_name_prefix_first(server):
    for name in ("malice", "alicia", "bob", "Alice"):
        assert register(server.app.test_client(), name).status_code == 201
    http = admin_http(server)
    page = http.get("/admin/?q=ALI").text
    found = re.findall(r'<th scope="row" class="username">([^<]+)</th>', page)
    assert found == ["Alice", "alicia", "malice"]
    page = http.get("/admin/?q=zzz").text
    assert "No user matches." in page
    page = http.get("/admin/?q=%25").text  # LIKE's wildcard is a plain character here
    assert "No user matches." in page
    # the search is kept after an action
    response = http.post("/admin/users/bob/suspend?q=ali")
    assert response.headers["Location"] == "/admin/?q=ali"


# -- a suspended account, everywhere ---------------------------------------------------------


def test_suspended_users_cannot_sign_in_or_get_tokens(server, users):
    assert cli(server.app, "suspend", "bob").exit_code == 0
    http = server.app.test_client()
    response = http.post("/api/tokens", json={"username": "bob", "password": PASSWORD})
    assert api_error(response, 403, "suspended")["message"] == "This account is suspended."
    # the password is checked first: a wrong one says nothing about the suspension
    response = http.post("/api/tokens", json={"username": "bob", "password": "wrong password"})
    api_error(response, 401, "invalid_credentials")
    form = login_form(http, "bob")
    assert form.status_code == 400 and "This account is suspended." in form.text
    form = login_form(http, "bob", password="wrong password")
    assert "This account is suspended." not in form.text
    assert http.get("/").status_code == 302  # not signed in
    assert cli(server.app, "unsuspend", "bob").exit_code == 0
    assert login_form(http, "bob").status_code == 302
    assert http.get("/").status_code == 200


def test_tokens_stop_working(server, users):
    http = server.app.test_client()
    bearer = {"Authorization": f"Bearer {users['bob']}"}
    post = {"json": {"text": "hi"}, "headers": bearer}
    assert http.post("/api/rooms/general/messages", **post).status_code == 201
    assert cli(server.app, "suspend", "bob").exit_code == 0
    api_error(http.post("/api/rooms/general/messages", **post), 401, "unauthorized")
    refused = server.open(auth={"token": users["bob"]})
    assert not refused.is_connected()
    assert refused.connect_errors == [{"message": "suspended"}]
    # a bad token is still plain `unauthorized`
    stranger = server.open(auth={"token": "nonsense"})
    assert stranger.connect_errors == [{"message": "unauthorized"}]
    assert cli(server.app, "unsuspend", "bob").exit_code == 0
    assert server.open(auth={"token": users["bob"]}).is_connected()


def test_a_signed_in_browser_session_is_signed_out(server):
    http = server.logged_in_http("bob")
    assert http.get("/").status_code == 200
    assert server.open(flask_test_client=http).is_connected()
    assert cli(server.app, "suspend", "bob").exit_code == 0
    response = http.get("/")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login")
    refused = server.open(flask_test_client=http)
    assert not refused.is_connected()
    assert refused.connect_errors == [{"message": "suspended"}]


def test_open_connections_are_told_and_closed(server_factory):
    server = server_factory(PRESENCE_COALESCE=0)  # `presence` left at once
    admin = admin_http(server)
    bob_tabs = [server.connect("bob"), server.connect("bob")]
    alice = server.connect("alice")
    for sio_client in (*bob_tabs, alice):
        join(sio_client)
    drain(*bob_tabs, alice)
    response = admin.post("/admin/users/bob/suspend", data={"reason": "spam"})
    assert response.status_code == 302
    for tab in bob_tabs:
        assert not tab.is_connected()
        # what arrived before the close (the test client reads no events once closed)
        assert [(item["name"], item["args"]) for item in tab.queue] == [("account_suspended", [{}])]
    assert alice.is_connected()
    assert events(alice, "presence") == [{"room": "general", "user": "bob", "status": "left"}]
    ok(call(alice, "message", {"room": "general", "text": "still here"}))


def test_a_suspended_connection_left_open_is_unauthorized(server, users):
    """The per-event credential check reads the mark on the connection itself, like a
    token's expiry: even a connection the close has not reached yet gets `unauthorized`."""
    bob = server.connect("bob")
    join(bob)
    with server.app.app_context():
        server.app.extensions["chat"].ports.presence.suspend_user(user_id(server.app, "bob"))
    ack = call(bob, "message", {"room": "general", "text": "spam"})
    assert assert_error(ack, "unauthorized")["message"] == "This account is suspended."


def test_an_admins_forms_have_a_budget_and_a_refusal_does_nothing(server_factory):
    server = server_factory(RATELIMIT_ENABLED=True, ADMIN_ACTION_RATE="3/minute")
    for name in ("alice", "bob"):
        server.token(name)
    http = admin_http(server)
    for _ in range(3):
        followed(http.post("/admin/users/bob/suspend", data={"reason": "spam"}), http)
    refused = http.post("/admin/users/alice/suspend", data={"reason": "too fast"})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    [said] = flashes(refused)
    assert said.startswith("Too many actions; nothing was done. Try again in ")
    assert account(server.app, "alice").suspended_at is None
    # another admin has a budget of their own
    other = admin_http(server, "root2")
    followed(other.post("/admin/users/alice/suspend", data={"reason": "ok"}), other)
    assert account(server.app, "alice").suspended_reason == "ok"
