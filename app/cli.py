"""`flask` commands: create or upgrade the schema, seed the default room, post messages, and
run the users (admins, suspension)."""

import click
from flask import Flask, current_app
from flask_migrate import upgrade

from .domain.accounts import SYSTEM_USERNAME
from .domain.errors import NOT_FOUND, ChatError
from .domain.models import Identity, Message

GENERAL_ROOM = "general"
GENERAL_TOPIC = "Everyone's room: say hello"


def init_db() -> None:
    """Apply every migration, then make sure the `general` room exists."""
    upgrade(directory=current_app.extensions["migrate"].directory)
    repository = current_app.extensions["chat_repository"]
    if repository.get_room(GENERAL_ROOM) is None:
        repository.create_room(GENERAL_ROOM, topic=GENERAL_TOPIC)


def post_message(room: str, text: str, username: str = SYSTEM_USERNAME) -> Message:
    """Post as `username` (an existing account, or `system`, created on first use)."""
    account = current_app.extensions["accounts"].poster(username)
    if account is None:
        raise ChatError(NOT_FOUND, f"There is no user named {username!r}.")
    identity = Identity(account.id, account.username)
    message, _ = current_app.extensions["chat"].messages.post_as(identity, room, text)
    return message


def register(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db_command():
        """Create or upgrade the database schema and seed the `general` room."""
        init_db()
        click.echo(f"Database ready: {current_app.config['SQLALCHEMY_DATABASE_URI']}")

    @app.cli.group("chat")
    def chat_group():
        """Talk to the chat from the command line."""

    @chat_group.command("post")
    @click.argument("room")
    @click.argument("text")
    @click.option(
        "--user",
        default=SYSTEM_USERNAME,
        show_default=True,
        help="Post as this existing user.",
    )
    def post_command(room: str, text: str, user: str):
        """Post TEXT to ROOM (which must exist) and print the new message's id."""
        try:
            message = post_message(room, text, user)
        except ChatError as refused:
            raise click.ClickException(refused.message) from None
        click.echo(message.id)
        if not current_app.config.get("REDIS_URL"):
            # Without a message queue this process's emit reaches no server's sockets.
            click.echo(
                "Note: REDIS_URL is not set, so connected clients were not notified; they "
                "get the message when they next join the room (or catch up with `since`).",
                err=True,
            )

    @app.cli.group("users")
    def users_group():
        """Make admins, suspend and unsuspend accounts (each written to the audit log)."""

    @users_group.command("admin")
    @click.argument("name")
    @click.option("--revoke", is_flag=True, help="Take the admin rights back instead.")
    def admin_command(name: str, revoke: bool):
        """Make NAME an admin of the whole server (or, with --revoke, no longer one)."""
        account = _admin_action(lambda admin: admin.set_admin(None, name, not revoke))
        state = "no longer an admin" if revoke else "now an admin"
        click.echo(f"{account.username} is {state}.")

    @users_group.command("suspend")
    @click.argument("name")
    @click.option("--reason", default=None, help="Why, for the audit log (up to 500 characters).")
    def suspend_command(name: str, reason: str | None):
        """Suspend NAME: no sign-in or tokens, and their open connections are closed."""
        closed = _admin_action(lambda admin: admin.suspend(None, name, reason))
        username = current_app.extensions["admin"].user(name).username
        click.echo(f"{username} is suspended.")
        if current_app.config.get("REDIS_URL"):
            click.echo(f"Closed {closed} open connection(s).")
        elif (seconds := current_app.config["SUSPENSION_SWEEP_SECONDS"]) > 0:
            # Without a message queue this process reaches no server's sockets: each server
            # finds the suspension in the database on its next sweep and closes them itself.
            click.echo(
                f"Running servers tell and close their open connections within {seconds:g} s "
                "(SUSPENSION_SWEEP_SECONDS)."
            )
        else:
            click.echo(
                "Note: REDIS_URL is not set and SUSPENSION_SWEEP_SECONDS is 0, so no running "
                "server closes their open connections: they stay until they close (every new "
                "sign-in, token and connection is refused from now on).",
                err=True,
            )

    @users_group.command("unsuspend")
    @click.argument("name")
    def unsuspend_command(name: str):
        """Lift NAME's suspension: they can sign in again."""
        account = _admin_action(lambda admin: admin.unsuspend(None, name))
        click.echo(f"{account.username} is no longer suspended.")


def _admin_action(action):
    """Run `action(AdminService)` as the command line; a refusal is the command's error."""
    try:
        return action(current_app.extensions["admin"])
    except ChatError as refused:
        raise click.ClickException(refused.message) from None
