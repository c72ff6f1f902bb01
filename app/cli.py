"""`flask` commands: create or upgrade the schema and seed the default room."""

import click
from flask import Flask, current_app
from flask_migrate import upgrade

GENERAL_ROOM = "general"
GENERAL_TOPIC = "Everyone's room: say hello"


def init_db() -> None:
    """Apply every migration, then make sure the `general` room exists."""
    upgrade(directory=current_app.extensions["migrate"].directory)
    repository = current_app.extensions["chat_repository"]
    if repository.get_room(GENERAL_ROOM) is None:
        repository.create_room(GENERAL_ROOM, topic=GENERAL_TOPIC)


def register(app: Flask) -> None:
    @app.cli.command("init-db")
    def init_db_command():
        """Create or upgrade the database schema and seed the `general` room."""
        init_db()
        click.echo(f"Database ready: {current_app.config['SQLALCHEMY_DATABASE_URI']}")
