"""Issue 12, HTTP side: nested JSON, lookalike and bidi names (items 8, 11, 12)."""

import pytest

from tests.support.accounts import api_error, register, register_form
from tests.support.sockets import user_count

# 20,000 levels: about 40 KB, under the 64 KiB body limit
DEEP = "[" * 20_000 + "]" * 20_000


@pytest.mark.parametrize("path", ["/api/users", "/api/tokens", "/api/rooms/general/messages"])
def test_deeply_nested_json_is_a_400_invalid_not_a_crash(client, server, path):
    headers = {"Authorization": f"Bearer {server.token('alice')}"}
    response = client.post(path, data=DEEP, content_type="application/json", headers=headers)
    api_error(response, 400, "invalid")
    nested_object = '{"a":' * 10_000 + "1" + "}" * 10_000  # 60 KB
    response = client.post(
        path, data=nested_object, content_type="application/json", headers=headers
    )
    api_error(response, 400, "invalid")


# --- item 11: lookalike usernames ------------------------------------------------------------


@pytest.mark.parametrize(
    ("existing", "lookalike"),
    [
        ("alice", "aIice"),  # capital i
        ("alice", "al1ce"),  # digit one
        ("alice", "ALICE"),
        ("alice", "AIice"),
        ("mallory", "rnallory"),  # r + n
        ("rnallory", "mallory"),  # either way round
        ("bob", "b0b"),  # zero
        ("Bill", "biII"),
    ],
)
def test_lookalike_of_an_existing_username_is_refused(app, client, existing, lookalike):
    assert register(client, existing).status_code == 201
    error = api_error(register(client, lookalike), 409, "username_taken")
    if lookalike.casefold() != existing.casefold():
        assert "too similar" in error["message"]
    assert user_count(app) == 1


@pytest.mark.parametrize("name", ["alicia", "malory", "bobby", "alice2", "carol", "ali.ce"])
def test_names_that_only_resemble_are_accepted(client, name):
    assert register(client, "alice").status_code == 201
    assert register(client, name).status_code == 201, register(client, name).get_json()


def test_lookalikes_of_the_system_account_are_refused_before_it_exists(client):
    for name in ("systern", "SYSTEM", "sy5tem-x"):
        response = register(client, name)
        if name == "sy5tem-x":  # 5 is not S in UTS #39: a different name
            assert response.status_code == 201
        else:
            api_error(response, 409, "username_taken")


def test_register_form_shows_the_lookalike_error(client):
    assert register(client, "alice").status_code == 201
    page = register_form(client, "aIice")
    assert page.status_code == 400
    assert "too similar to an existing username" in page.text


def test_migration_0005_keeps_old_lookalikes_and_refuses_new_ones(app):
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from app.extensions import db
    from app.factory import MIGRATIONS_DIR

    with app.app_context():
        downgrade(directory=MIGRATIONS_DIR, revision="0004")
        with db.engine.begin() as connection:
            for user_id, name in [(1, "alice"), (2, "aIice"), (3, "bob")]:
                connection.execute(
                    text(
                        "INSERT INTO users (id, username, username_key, password_hash, created_at)"
                        " VALUES (:id, :name, :key, 'x', '2026-01-01')"
                    ),
                    {"id": user_id, "name": name, "key": name.casefold()},
                )
        upgrade(directory=MIGRATIONS_DIR)
        with db.engine.connect() as connection:
            rows = connection.execute(text("SELECT username, username_skeleton FROM users"))
            assert sorted(rows) == [("aIice", None), ("alice", "allce"), ("bob", "bob")]
    api_error(register(app.test_client(), "al1ce"), 409, "username_taken")
    assert register(app.test_client(), "carol").status_code == 201


# --- item 12: no bidi or invisible characters in names ---------------------------------------

BIDI_AND_INVISIBLE = ["\u202e", "\u202a", "\u2066", "\u2069", "\u200b", "\u200d", "\ufeff"]


@pytest.mark.parametrize("char", BIDI_AND_INVISIBLE)
def test_usernames_cannot_carry_bidi_or_zero_width_characters(app, client, char):
    api_error(register(client, f"al{char}ice"), 400, "invalid")
    api_error(register(client, f"alice{char}"), 400, "invalid")
    api_error(register(client, "alice\n"), 400, "invalid")  # "$" before a final newline


@pytest.mark.parametrize("char", BIDI_AND_INVISIBLE)
def test_room_names_cannot_carry_bidi_or_zero_width_characters(connect, char):
    alice = connect("alice")
    for room in (f"gen{char}eral", f"general{char}", "general\n", f"dm:a{char}b"):
        ack = alice.emit("join", {"room": room}, callback=True)
        assert ack["ok"] is False and ack["error"]["code"] == "invalid", (room, ack)
